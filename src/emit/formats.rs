//! The `collect --format` renderings: a table and JSON (with `--explain`, where each value
//! came from), the newline lists build-push-action takes, shell `env`, GitLab `dotenv`, and
//! `make` assignments.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::annotations::{Diagnostic, Valid};

/// An aligned table: KEY VALUE, and SOURCE with `--explain`.
pub(crate) fn text(annotations: &Valid, explain: bool) -> String {
    let rows: Vec<[String; 3]> = annotations
        .iter()
        .map(|(k, e)| {
            let source = e
                .provenance
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            [
                k.to_string(),
                crate::escape::one_line(&e.value).into_owned(),
                source,
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for [k, v, s] in &rows {
        if explain {
            let _ = writeln!(out, "{k:w0$}  {v:w1$}  {s}");
        } else {
            let _ = writeln!(out, "{k:w0$}  {v}");
        }
    }
    out
}

/// One flat JSON object, key → value, keys sorted. With `--explain`:
/// `{"annotations": {…}, "sources": {key: {"source", "note"}}, "diagnostics": […]}`.
pub(crate) fn json(annotations: &Valid, explain: bool, diagnostics: &[Diagnostic]) -> String {
    let flat: Map<String, Value> = annotations
        .iter()
        .map(|(k, e)| (k.to_string(), Value::String(e.value.clone())))
        .collect();
    let doc = match explain {
        false => Value::Object(flat),
        true => {
            let sources: Map<String, Value> = annotations
                .iter()
                .filter_map(|(k, e)| Some((k, e.provenance.as_ref()?)))
                .map(|(k, p)| {
                    let mut o = json!({ "source": p.source });
                    if let Some(n) = &p.note {
                        o["note"] = Value::String(n.clone());
                    }
                    (k.to_string(), o)
                })
                .collect();
            json!({ "annotations": flat, "sources": sources, "diagnostics": diagnostics })
        }
    };
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::Levels;

    #[test]
    fn text_keeps_one_line_per_entry() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("com.example.b".into(), "two\nlines".into(), None);
        a.insert("com.example.a".into(), "x".into(), None);
        assert_eq!(
            text(&Valid::from_draft(&a, &Levels::manifest()), false),
            "com.example.a  x\ncom.example.b  two\\nlines\n"
        );
    }

    #[test]
    fn json_is_flat_and_sorted() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("z.z".into(), "1".into(), None);
        a.insert("a.a".into(), "\"q\" $x\n".into(), None);
        let s = json(&Valid::from_draft(&a, &Levels::manifest()), false, &[]);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a.a"], "\"q\" $x\n");
        assert!(s.find("a.a").unwrap() < s.find("z.z").unwrap());
    }
}

/// Refuses values that a line-based format cannot hold.
fn refuse_multiline(annotations: &Valid, format: &str) -> Result<(), Vec<Diagnostic>> {
    let errors: Vec<Diagnostic> = annotations
        .iter()
        .filter(|(_, e)| e.value.contains(['\n', '\r']))
        .map(|(k, _)| {
            Diagnostic::error(
                "multiline-value",
                k,
                format!("the value of `{k}` spans lines, which the {format} format cannot hold"),
            )
            .hint("use --format json or bake, `oci-stamp exec`, or remove the line breaks")
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `annotations`: `LEVELS:KEY=VALUE` lines, as docker/build-push-action's `annotations:` takes.
pub(crate) fn annotations_list(annotations: &Valid) -> Result<String, Vec<Diagnostic>> {
    refuse_list_blanks(annotations, "annotations")?;
    Ok(annotation_lines(annotations))
}

/// The `LEVELS:KEY=VALUE` lines of the entries a list holds, each written so that
/// build-push-action's list reader gives it back exactly (see [`super::csv`]).
pub(crate) fn annotation_lines(annotations: &Valid) -> String {
    let mut out = String::new();
    for (k, e) in super::csv::listed_entries(annotations) {
        let item = super::flags::annotation_item(k, &e.value, &e.levels);
        out.push_str(&super::csv::list_line(&item));
        out.push('\n');
    }
    out
}

/// `labels`: `KEY=VALUE` lines, as docker/build-push-action's `labels:` takes.
pub(crate) fn labels_list(annotations: &Valid) -> Result<String, Vec<Diagnostic>> {
    refuse_list_blanks(annotations, "labels")?;
    Ok(label_lines(annotations))
}

/// The `KEY=VALUE` lines of the entries a list holds, each written so that
/// build-push-action's list reader gives it back exactly (see [`super::csv`]).
pub(crate) fn label_lines(annotations: &Valid) -> String {
    let mut out = String::new();
    for (k, e) in super::csv::listed_entries(annotations) {
        let _ = writeln!(
            out,
            "{}",
            super::csv::list_line(&format!("{k}={}", e.value))
        );
    }
    out
}

/// Refuses values ending in whitespace, which build-push-action's list reader trims.
fn refuse_list_blanks(annotations: &Valid, format: &str) -> Result<(), Vec<Diagnostic>> {
    let errors = super::csv::trailing_blanks(annotations, &format!("its `{format}:` list"), true);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The environment variable for a key: `org.opencontainers.image.base.digest` →
/// `OCI_IMAGE_BASE_DIGEST`, `com.example.branch` → `OCI_IMAGE_COM_EXAMPLE_BRANCH`.
pub(crate) fn variable_name(key: &str) -> String {
    let stem = crate::annotations::short_name(key).unwrap_or(key);
    let mut name = String::from("OCI_IMAGE_");
    for c in stem.chars() {
        name.push(if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    name
}

/// Variable names for every key; two keys that map to one name are refused.
fn variable_names(annotations: &Valid) -> Result<Vec<(String, &str, &str)>, Vec<Diagnostic>> {
    let mut seen: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (k, e) in annotations.iter() {
        let name = variable_name(k);
        if let Some(other) = seen.insert(name.clone(), k) {
            errors.push(
                Diagnostic::error(
                    "variable-clash",
                    k,
                    format!("`{k}` and `{other}` both become the variable {name}"),
                )
                .hint("rename one of the keys"),
            );
        }
        out.push((name, k, e.value.as_str()));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// `env`: `OCI_IMAGE_<KEY>=<shell-quoted value>` lines for `eval` or `.`.
pub(crate) fn env(annotations: &Valid) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::new();
    for (name, _, value) in variable_names(annotations)? {
        let _ = writeln!(out, "{name}={}", super::shell::quote(value));
    }
    Ok(out)
}

/// `dotenv`: GitLab's `artifacts:reports:dotenv` form — `KEY=VALUE`, raw, one per line. GitLab
/// keeps quotes as they are, strips surrounding blanks and cannot hold line breaks.
pub(crate) fn dotenv(annotations: &Valid) -> Result<String, Vec<Diagnostic>> {
    refuse_multiline(annotations, "dotenv")?;
    let blanks: Vec<Diagnostic> = annotations
        .iter()
        .filter(|(_, e)| e.value.trim() != e.value)
        .map(|(k, _)| {
            Diagnostic::error(
                "dotenv-blanks",
                k,
                format!("the value of `{k}` starts or ends with blanks, which GitLab's dotenv reader strips"),
            )
            .hint("trim the value, or use --format env")
        })
        .collect();
    if !blanks.is_empty() {
        return Err(blanks);
    }
    let mut out = String::new();
    for (name, _, value) in variable_names(annotations)? {
        let _ = writeln!(out, "{name}={value}");
    }
    Ok(out)
}

/// Helper variables the `make` format defines for characters make would otherwise read.
const MAKE_PRELUDE: &str = "\
# Generated by oci-stamp. Include it from a Makefile: `include oci-stamp.mk`.
_oci_stamp_empty :=
_oci_stamp_hash := \\#
define _oci_stamp_newline


endef
";

/// A value written for the right-hand side of `:=`, so that make reads back the same bytes:
/// `$` doubled; `#`, newlines and a leading blank through helper variables; a trailing
/// backslash kept from joining the next line, and a trailing carriage return from being read
/// as part of the line break.
pub(crate) fn make_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 8);
    // make skips the blanks after `:=`, carriage returns and form feeds among them.
    if value.starts_with([' ', '\t', '\r', '\x0b', '\x0c']) {
        out.push_str("$(_oci_stamp_empty)");
    }
    for c in value.chars() {
        match c {
            '$' => out.push_str("$$"),
            '#' => out.push_str("$(_oci_stamp_hash)"),
            '\n' => out.push_str("$(_oci_stamp_newline)"),
            c => out.push(c),
        }
    }
    if value.ends_with(['\\', '\r']) {
        out.push_str("$(_oci_stamp_empty)");
    }
    out
}

/// `make`: `OCI_IMAGE_<KEY> := value` assignments to `include`, plus `OCI_STAMP_FLAGS`, the
/// buildx arguments as shell words for a recipe.
///
/// make runs each line of an expanded recipe line as a command of its own, so a line break in
/// a quoted word would cut the command there (and run the rest as another). In
/// `OCI_STAMP_FLAGS` it is written as `"$_oci_stamp_nl"`, which the recipe's shell expands
/// from an exported variable holding a line break.
pub(crate) fn make(annotations: &Valid) -> Result<String, Vec<Diagnostic>> {
    let mut out = String::from(MAKE_PRELUDE);
    for (name, _, value) in variable_names(annotations)? {
        let _ = writeln!(out, "{name} := {}", make_value(value));
    }
    let (args, _) = super::flags::arguments(annotations, super::flags::Tool::Buildx, false)?;
    let words = super::shell::join(&args);
    if words.contains('\n') {
        out.push_str("export _oci_stamp_nl := $(_oci_stamp_newline)\n");
    }
    // A line break only occurs inside a single-quoted word: close the quotes around it.
    let words = words.replace('\n', "'\"$_oci_stamp_nl\"'");
    let _ = writeln!(out, "OCI_STAMP_FLAGS := {}", make_value(&words));
    Ok(out)
}

#[cfg(test)]
mod list_tests {
    use super::*;
    use crate::annotations::Levels;

    #[test]
    fn variable_names_follow_short_names() {
        assert_eq!(
            variable_name("org.opencontainers.image.base.digest"),
            "OCI_IMAGE_BASE_DIGEST"
        );
        assert_eq!(
            variable_name("com.example.pull-request"),
            "OCI_IMAGE_COM_EXAMPLE_PULL_REQUEST"
        );
    }

    #[test]
    fn clashing_variable_names_are_refused() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("com.example.a-b".into(), "1".into(), None);
        a.insert("com.example.a_b".into(), "2".into(), None);
        assert_eq!(
            env(&Valid::from_draft(&a, &Levels::manifest())).unwrap_err()[0].code,
            "variable-clash"
        );
    }

    #[test]
    fn lists_quote_line_breaks_and_refuse_trailing_blanks() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("com.example.d".into(), "a\nb".into(), None);
        assert_eq!(
            labels_list(&Valid::from_draft(&a, &Levels::manifest())).unwrap(),
            "\"com.example.d=a\nb\"\n"
        );
        assert_eq!(
            annotations_list(&Valid::from_draft(&a, &Levels::manifest())).unwrap(),
            "\"manifest:com.example.d=a\nb\"\n"
        );
        assert_eq!(
            dotenv(&Valid::from_draft(&a, &Levels::manifest())).unwrap_err()[0].code,
            "multiline-value"
        );
        a.insert("com.example.e".into(), "b\n".into(), None);
        assert_eq!(
            labels_list(&Valid::from_draft(&a, &Levels::manifest())).unwrap_err()[0].code,
            "list-blanks"
        );
        assert_eq!(
            annotations_list(&Valid::from_draft(&a, &Levels::manifest())).unwrap_err()[0].key,
            "com.example.e"
        );
    }

    #[test]
    fn make_values_escape() {
        assert_eq!(make_value("a$b#c"), "a$$b$(_oci_stamp_hash)c");
        assert_eq!(
            make_value(" x\\"),
            "$(_oci_stamp_empty) x\\$(_oci_stamp_empty)"
        );
        assert_eq!(make_value("x\r"), "x\r$(_oci_stamp_empty)");
        assert_eq!(make_value("\r"), "$(_oci_stamp_empty)\r$(_oci_stamp_empty)");
    }

    #[test]
    fn make_flags_keep_line_breaks_out_of_the_recipe_line() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("com.example.d".into(), "a\nb".into(), None);
        let text = make(&Valid::from_draft(&a, &Levels::manifest())).unwrap();
        assert!(text.contains("export _oci_stamp_nl := $(_oci_stamp_newline)\n"));
        assert!(text.ends_with(
            "OCI_STAMP_FLAGS := --annotation 'manifest:com.example.d=a'\"$$_oci_stamp_nl\"'b'\n"
        ));
    }
}
