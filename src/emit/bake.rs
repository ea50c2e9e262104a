//! Files for other build tools: a docker-bake JSON target to combine with the user's own bake
//! file, and ORAS's `--annotation-file`.

use serde_json::{json, Map, Value};

use crate::annotations::Valid;

/// The bake target name when `--bake-target` is not given.
pub(crate) const DEFAULT_TARGET: &str = "oci-stamp";

/// `--bake-target NAME`, checked against bake's own rule for target names
/// (`^[a-zA-Z0-9_-]+$`, buildx `bake/bake.go`): a name bake refuses, or one a user could not
/// name in `inherits = […]` or on the `docker buildx bake` command line, is refused here.
pub(crate) fn parse_target_name(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("a bake target needs a name".into());
    }
    match s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        None => Ok(s.to_string()),
        Some(c) => Err(format!(
            "`{}` is not a bake target name: bake allows only letters, digits, `_` and `-` (found {c:?})",
            s.escape_debug()
        )),
    }
}

/// A string as a literal in bake's JSON. Bake reads every string of a JSON file as an HCL
/// template (`${VAR}` is interpolated, `%{…}` is a directive, in object keys too), so their
/// introducers are doubled: HCL reads `$${` back as `${` and `%%{` as `%{`.
fn hcl_literal(s: &str) -> String {
    s.replace("${", "$${").replace("%{", "%%{")
}

/// `{"target": {NAME: {"annotations": [LEVELS:KEY=VALUE…], "labels": {KEY: VALUE}}}}`, for
/// `docker buildx bake -f docker-bake.hcl -f oci-stamp.json` and `inherits = ["oci-stamp"]`.
/// Values are written as HCL template literals (see [`hcl_literal`]).
pub(crate) fn bake(annotations: &Valid, target: &str) -> String {
    let list: Vec<Value> = annotations
        .iter()
        .filter(|(_, e)| !e.value.is_empty())
        .map(|(k, e)| {
            Value::String(hcl_literal(&super::flags::annotation_item(
                k, &e.value, &e.levels,
            )))
        })
        .collect();
    let labels: Map<String, Value> = annotations
        .iter()
        .filter(|(_, e)| !e.value.is_empty())
        .map(|(k, e)| (hcl_literal(k), Value::String(hcl_literal(&e.value))))
        .collect();
    let doc = json!({ "target": { target: { "annotations": list, "labels": labels } } });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// ORAS's annotation file: `{"$manifest": {KEY: VALUE}}`.
pub(crate) fn oras(annotations: &Valid) -> String {
    let map: Map<String, Value> = annotations
        .iter()
        .map(|(k, e)| (k.to_string(), Value::String(e.value.clone())))
        .collect();
    let mut s = serde_json::to_string_pretty(&json!({ "$manifest": map })).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::Levels;

    #[test]
    fn target_names_follow_bake() {
        for ok in ["oci-stamp", "meta_1", "A", "docker-metadata-action"] {
            assert_eq!(parse_target_name(ok).as_deref(), Ok(ok));
        }
        for bad in ["", "my.target", "a b", "x/y", "t${X}", "é", "a:b"] {
            assert!(parse_target_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn bake_target_holds_levels_and_labels() {
        let mut a = crate::annotations::Annotations::default();
        a.insert(
            "com.example.x".into(),
            "a\"b\nc".into(),
            Some("index".parse().unwrap()),
        );
        let v: Value =
            serde_json::from_str(&bake(&Valid::from_draft(&a, &Levels::manifest()), "meta"))
                .unwrap();
        assert_eq!(
            v["target"]["meta"]["annotations"][0],
            "index:com.example.x=a\"b\nc"
        );
        assert_eq!(v["target"]["meta"]["labels"]["com.example.x"], "a\"b\nc");
        let v: Value =
            serde_json::from_str(&oras(&Valid::from_draft(&a, &Levels::manifest()))).unwrap();
        assert_eq!(v["$manifest"]["com.example.x"], "a\"b\nc");
    }

    #[test]
    fn bake_strings_are_hcl_literals() {
        assert_eq!(
            hcl_literal("${HOME} %{if x} $x %d {}"),
            "$${HOME} %%{if x} $x %d {}"
        );
        // a `$` before an escaped introducer stays a literal `$`
        assert_eq!(hcl_literal("$${x}"), "$$${x}");
        let mut a = crate::annotations::Annotations::default();
        a.insert("com.example.x".into(), "cost: ${PRICE}".into(), None);
        let v: Value =
            serde_json::from_str(&bake(&Valid::from_draft(&a, &Levels::manifest()), "t")).unwrap();
        assert_eq!(
            v["target"]["t"]["annotations"][0],
            "manifest:com.example.x=cost: $${PRICE}"
        );
        assert_eq!(
            v["target"]["t"]["labels"]["com.example.x"],
            "cost: $${PRICE}"
        );
        // ORAS reads plain JSON: nothing escaped there
        let v: Value =
            serde_json::from_str(&oras(&Valid::from_draft(&a, &Levels::manifest()))).unwrap();
        assert_eq!(v["$manifest"]["com.example.x"], "cost: ${PRICE}");
    }
}
