//! `collect --format text|json`: a table for people, a flat JSON object for programs, and
//! with `--explain`, where each value came from.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::annotations::{Annotations, Diagnostic};
use crate::collect::Collected;

/// Control characters shown escaped, so one entry stays on one line of a table.
fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// An aligned table: KEY VALUE, and SOURCE with `--explain`.
pub(crate) fn text(annotations: &Annotations, collected: Option<&Collected>) -> String {
    let rows: Vec<[String; 3]> = annotations
        .iter()
        .map(|(k, e)| {
            let source = collected
                .and_then(|c| c.facts().find(|(fk, _)| *fk == k).map(|(_, f)| f))
                .map(|f| match &f.note {
                    Some(n) => format!("{} ({n})", f.source),
                    None => f.source.to_string(),
                })
                .unwrap_or_default();
            [k.to_string(), visible(&e.value), source]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1) = (width(0), width(1));
    let mut out = String::new();
    for [k, v, s] in &rows {
        if collected.is_some() {
            let _ = writeln!(out, "{k:w0$}  {v:w1$}  {s}");
        } else {
            let _ = writeln!(out, "{k:w0$}  {v}");
        }
    }
    out
}

/// One flat JSON object, key → value, keys sorted. With `--explain`:
/// `{"annotations": {…}, "sources": {key: {"source", "note"}}, "diagnostics": […]}`.
pub(crate) fn json(
    annotations: &Annotations,
    collected: Option<&Collected>,
    diagnostics: &[Diagnostic],
) -> String {
    let flat: Map<String, Value> = annotations
        .iter()
        .map(|(k, e)| (k.to_string(), Value::String(e.value.clone())))
        .collect();
    let doc = match collected {
        None => Value::Object(flat),
        Some(c) => {
            let sources: Map<String, Value> = c
                .facts()
                .filter(|(k, _)| annotations.get(k).is_some())
                .map(|(k, f)| {
                    let mut o = json!({ "source": f.source.to_string() });
                    if let Some(n) = &f.note {
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

    #[test]
    fn text_keeps_one_line_per_entry() {
        let mut a = Annotations::default();
        a.insert("com.example.b".into(), "two\nlines".into(), None);
        a.insert("com.example.a".into(), "x".into(), None);
        assert_eq!(text(&a, None), "com.example.a  x\ncom.example.b  two\\nlines\n");
    }

    #[test]
    fn json_is_flat_and_sorted() {
        let mut a = Annotations::default();
        a.insert("z.z".into(), "1".into(), None);
        a.insert("a.a".into(), "\"q\" $x\n".into(), None);
        let s = json(&a, None, &[]);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["a.a"], "\"q\" $x\n");
        assert!(s.find("a.a").unwrap() < s.find("z.z").unwrap());
    }
}
