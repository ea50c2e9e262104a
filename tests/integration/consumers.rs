//! How consumers that do not run here read oci-stamp's outputs: `$GITHUB_OUTPUT` as the
//! GitHub Actions runner reads it, and JSON strings as HCL (`docker buildx bake`) reads them.
//! `fuzz/src/lib.rs` includes this file (the fuzz crate builds on its own); the integration
//! tests use it from there.

use std::collections::BTreeMap;

/// One line of `text` from byte `index`, as the Actions runner's `ReadLine` reads it on
/// Linux: the line, and whether a line feed ended it.
fn read_line<'a>(text: &'a str, index: &mut usize) -> Option<(&'a str, bool)> {
    if *index >= text.len() {
        return None;
    }
    let start = *index;
    match text[start..].find('\n') {
        Some(n) => {
            *index = start + n + 1;
            Some((&text[start..start + n], true))
        }
        None => {
            *index = text.len();
            Some((&text[start..], false))
        }
    }
}

/// `$GITHUB_OUTPUT` read the way the Actions runner reads it (`SetEnvFileCommand` and the
/// output command share the parser): `NAME=VALUE` lines, and `NAME<<DELIMITER` … a line that
/// is exactly DELIMITER, the value being the text between, without the line feed before the
/// delimiter line. Returns the outputs and the delimiters used.
pub fn read_github_output(text: &str) -> (BTreeMap<String, String>, Vec<String>) {
    let mut outputs = BTreeMap::new();
    let mut delimiters = Vec::new();
    let mut index = 0;
    while let Some((line, _)) = read_line(text, &mut index) {
        if line.is_empty() {
            continue;
        }
        let (name, value) = match (line.find('='), line.find("<<")) {
            (Some(eq), heredoc) if heredoc.is_none_or(|h| eq < h) => {
                (line[..eq].to_string(), line[eq + 1..].to_string())
            }
            (_, Some(h)) => {
                let (name, delimiter) = (&line[..h], &line[h + 2..]);
                assert!(
                    !name.is_empty() && !delimiter.is_empty(),
                    "invalid line {line:?}"
                );
                let start = index;
                let mut end = index;
                loop {
                    let (l, lf) = read_line(text, &mut index)
                        .unwrap_or_else(|| panic!("no delimiter `{delimiter}` after `{name}`"));
                    if l == delimiter {
                        break;
                    }
                    end = index - usize::from(lf);
                }
                delimiters.push(delimiter.to_string());
                (name.to_string(), text[start..end].to_string())
            }
            _ => panic!("invalid line {line:?}"),
        };
        assert!(
            outputs.insert(name.clone(), value).is_none(),
            "output `{name}` is set twice"
        );
    }
    (outputs, delimiters)
}

/// What HCL (and so `docker buildx bake`) reads from a JSON string: a template in which
/// `$${` and `%%{` stand for `${` and `%{`. An unescaped `${` or `%{` would be interpolated,
/// which is a failure here.
pub fn hcl_template_literal(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if let Some(tail) = rest
            .strip_prefix("$${")
            .or_else(|| rest.strip_prefix("%%{"))
        {
            out.push(c);
            out.push('{');
            rest = tail;
            continue;
        }
        assert!(
            !rest.starts_with("${") && !rest.starts_with("%{"),
            "bake would interpolate {rest:?} in {s:?}"
        );
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}
