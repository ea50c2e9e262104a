//! Files for other build tools: a docker-bake JSON target to combine with the user's own bake
//! file, and ORAS's `--annotation-file`.

use serde_json::{json, Map, Value};

use crate::annotations::{Annotations, Levels};

/// The bake target name when `--bake-target` is not given.
pub(crate) const DEFAULT_TARGET: &str = "oci-stamp";

/// `{"target": {NAME: {"annotations": [LEVELS:KEY=VALUE…], "labels": {KEY: VALUE}}}}`, for
/// `docker buildx bake -f docker-bake.hcl -f oci-stamp.json` and `inherits = ["oci-stamp"]`.
pub(crate) fn bake(annotations: &Annotations, levels: &Levels, target: &str) -> String {
    let list: Vec<Value> = annotations
        .iter()
        .filter(|(_, e)| !e.value.is_empty())
        .map(|(k, e)| {
            Value::String(super::flags::annotation_item(
                k,
                &e.value,
                e.levels.as_ref().unwrap_or(levels),
            ))
        })
        .collect();
    let labels: Map<String, Value> = annotations
        .iter()
        .filter(|(_, e)| !e.value.is_empty())
        .map(|(k, e)| (k.to_string(), Value::String(e.value.clone())))
        .collect();
    let doc = json!({ "target": { target: { "annotations": list, "labels": labels } } });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// ORAS's annotation file: `{"$manifest": {KEY: VALUE}}`.
pub(crate) fn oras(annotations: &Annotations) -> String {
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

    #[test]
    fn bake_target_holds_levels_and_labels() {
        let mut a = Annotations::default();
        a.insert(
            "com.example.x".into(),
            "a\"b\nc".into(),
            Some("index".parse().unwrap()),
        );
        let v: Value = serde_json::from_str(&bake(&a, &Levels::manifest(), "meta")).unwrap();
        assert_eq!(
            v["target"]["meta"]["annotations"][0],
            "index:com.example.x=a\"b\nc"
        );
        assert_eq!(v["target"]["meta"]["labels"]["com.example.x"], "a\"b\nc");
        let v: Value = serde_json::from_str(&oras(&a)).unwrap();
        assert_eq!(v["$manifest"]["com.example.x"], "a\"b\nc");
    }
}
