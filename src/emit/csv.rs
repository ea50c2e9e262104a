//! The line lists build-push-action and bake-action read: their `annotations:` and `labels:`
//! inputs go through docker/actions-toolkit's `Util.getInputList(name, {ignoreComma: true})`,
//! which trims the whole input, parses it as CSV (csv-parse with `relax_quotes`,
//! `relax_column_count` and `skip_empty_lines`; `"` quotes, `""` inside quotes is one `"`),
//! joins each record's fields with `,`, drops empty items and trims every item with
//! JavaScript's `String.prototype.trim`.
//!
//! So a line is kept as it is unless the parser could change it: a `"` (which opens a quoted
//! field at the start of a line or after a `,`) or a line break (which ends the record). Such
//! a line is written as one quoted CSV field, its quotes doubled; a quoted field may span
//! lines. A comma needs nothing: the fields it splits are joined back with `,`. What no
//! quoting can save is whitespace at the end of an item, which the final trim removes; the
//! start of an item is its key, which holds no whitespace.

use std::borrow::Cow;

use crate::annotations::{Diagnostic, Valid, ValidEntry};

/// Whether JavaScript's `String.prototype.trim` removes `c`: its WhiteSpace (tab, vertical
/// tab, form feed, space, no-break space, U+FEFF and every other `Zs` character) and its
/// LineTerminator (LF, CR, U+2028, U+2029). Not U+0085 or U+001C–U+001F, which Rust's
/// `char::is_whitespace` or other trims would count.
pub(crate) fn js_trims(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// One item of a list, written so that the parser gives it back as it is: as it is when no
/// `"`, CR or LF could change it, else as one quoted field with its quotes doubled.
pub(crate) fn list_line(item: &str) -> Cow<'_, str> {
    if !item.contains(['"', '\n', '\r']) {
        return Cow::Borrowed(item);
    }
    let mut out = String::with_capacity(item.len() + 2);
    out.push('"');
    for c in item.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    Cow::Owned(out)
}

/// The entries a list holds: every one with a value (an empty value says nothing) that does
/// not end in whitespace the reader would trim.
pub(crate) fn listed_entries(annotations: &Valid) -> impl Iterator<Item = (&str, &ValidEntry)> {
    annotations
        .iter()
        .filter(|(_, e)| !e.value.is_empty() && !e.value.ends_with(js_trims))
}

/// The entries whose value ends in whitespace, which the list reader would trim: one
/// `list-blanks` diagnostic each, an error for the `labels`/`annotations` formats, a warning
/// (the entry is left out) for the GitHub outputs.
pub(crate) fn trailing_blanks(annotations: &Valid, lists: &str, error: bool) -> Vec<Diagnostic> {
    annotations
        .iter()
        .filter(|(_, e)| e.value.ends_with(js_trims))
        .map(|(k, _)| {
            if error {
                Diagnostic::error(
                    "list-blanks",
                    k,
                    format!("the value of `{k}` ends with whitespace, which build-push-action trims from {lists} items"),
                )
                .hint("trim the value, or pass it exactly with --format json, bake or `oci-stamp exec`")
            } else {
                Diagnostic::warning(
                    "list-blanks",
                    k,
                    format!("the value of `{k}` ends with whitespace, which build-push-action trims, so it is left out of {lists}"),
                )
                .hint("it is in the json and flags outputs and its own output, exactly")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_without_quotes_or_breaks_stay() {
        for item in ["k=v", "k=a,b", "k=a, \"b", "index,manifest:k= v"] {
            let want = if item.contains('"') {
                format!("\"{}\"", item.replace('"', "\"\""))
            } else {
                item.to_string()
            };
            assert_eq!(list_line(item), want);
        }
        assert!(matches!(list_line("k=a,b"), Cow::Borrowed(_)));
    }

    #[test]
    fn quotes_double_and_breaks_are_quoted() {
        assert_eq!(list_line("k=x,\"y"), "\"k=x,\"\"y\"");
        assert_eq!(list_line("k=a\nb"), "\"k=a\nb\"");
        assert_eq!(list_line("k=a\rb"), "\"k=a\rb\"");
        assert_eq!(list_line("k=\"\""), "\"k=\"\"\"\"\"");
    }

    #[test]
    fn javascript_whitespace() {
        for c in [
            '\t', ' ', '\u{a0}', '\u{feff}', '\u{3000}', '\u{2028}', '\u{200a}',
        ] {
            assert!(js_trims(c), "{c:?}");
        }
        for c in ['\u{85}', '\u{1c}', '\u{200b}', 'x', '\0'] {
            assert!(!js_trims(c), "{c:?}");
        }
    }

    #[test]
    fn trailing_blanks_name_their_keys() {
        let mut draft = crate::annotations::Annotations::default();
        draft.insert("com.example.a".into(), "x ".into(), None);
        draft.insert("com.example.b".into(), " x".into(), None);
        draft.insert("com.example.c".into(), "x\u{a0}".into(), None);
        let a = Valid::from_draft(&draft, &crate::annotations::Levels::manifest());
        let d = trailing_blanks(&a, "labels", true);
        let keys: Vec<&str> = d.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["com.example.a", "com.example.c"]);
        assert!(d.iter().all(|d| d.code == "list-blanks"));
        let listed: Vec<&str> = listed_entries(&a).map(|(k, _)| k).collect();
        assert_eq!(listed, ["com.example.b"]);
    }
}
