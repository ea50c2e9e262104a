//! GitHub Actions step outputs, for appending to `$GITHUB_OUTPUT`: `annotations`, `labels`,
//! `json`, `flags`, and one per predefined key by short name (`base.digest` → `base-digest`).
//! The two lists are written for build-push-action's list reader (see [`super::csv`]).
//!
//! Every output is written as `NAME<<DELIMITER` … `DELIMITER` with a random delimiter that no
//! value contains, so no value can end its output early or forge another.

use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};

use crate::annotations::{short_name, Valid};

/// 128 random bits as hex, from the randomly seeded hasher std gives every process.
fn random_hex() -> String {
    let mut s = String::new();
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        let _ = write!(s, "{:016x}", h.finish());
    }
    s
}

/// A delimiter that occurs in none of `values`.
pub(crate) fn delimiter<'a>(values: impl Iterator<Item = &'a str> + Clone) -> String {
    loop {
        let d = format!("ghadelimiter_{}", random_hex());
        if values.clone().all(|v| !v.contains(&d)) {
            return d;
        }
    }
}

/// The output lines.
pub(crate) fn outputs(annotations: &Valid, flags: &str, json: &str) -> String {
    // The lists end with a line break; an output's own value keeps every byte, a final line
    // break included (the runner drops only the one before the delimiter line).
    let list = |mut lines: String| {
        if lines.ends_with('\n') {
            lines.pop();
        }
        lines
    };
    let mut outputs: Vec<(String, String)> = vec![
        (
            "annotations".into(),
            list(super::formats::annotation_lines(annotations)),
        ),
        (
            "labels".into(),
            list(super::formats::label_lines(annotations)),
        ),
        ("json".into(), json.trim_end().to_string()),
        ("flags".into(), flags.trim_end().to_string()),
    ];
    for (key, entry) in annotations.iter() {
        if let Some(short) = short_name(key) {
            outputs.push((short.replace('.', "-"), entry.value.clone()));
        }
    }
    let delim = delimiter(outputs.iter().map(|(_, v)| v.as_str()));
    let mut out = String::new();
    for (name, value) in &outputs {
        let _ = write!(out, "{name}<<{delim}\n{value}\n{delim}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::Levels;

    #[test]
    fn delimiters_differ_and_avoid_values() {
        let a = delimiter(["x"].into_iter());
        let b = delimiter(["x"].into_iter());
        assert_ne!(a, b);
        assert!(a.starts_with("ghadelimiter_") && a.len() == 13 + 32);
    }

    #[test]
    fn outputs_are_heredocs() {
        let mut a = crate::annotations::Annotations::default();
        a.insert(
            "org.opencontainers.image.base.digest".into(),
            "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            None,
        );
        a.insert(
            "org.opencontainers.image.description".into(),
            "one\ntwo".into(),
            None,
        );
        a.insert(
            "org.opencontainers.image.title".into(),
            "ends with a line break\n".into(),
            None,
        );
        let text = outputs(
            &Valid::from_draft(&a, &Levels::manifest()),
            "--annotation x",
            "{}",
        );
        let delim = text
            .lines()
            .next()
            .unwrap()
            .split_once("<<")
            .unwrap()
            .1
            .to_string();
        assert!(text.contains(&format!("base-digest<<{delim}\nsha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n{delim}\n")));
        assert!(text.contains(&format!("description<<{delim}\none\ntwo\n{delim}\n")));
        // the runner drops only the line break before the delimiter line
        assert!(text.contains(&format!(
            "title<<{delim}\nends with a line break\n\n{delim}\n"
        )));
        // the multi-line description is one quoted CSV field in the lists; the title, which
        // ends in a line break the list reader would trim, is left out of them
        assert!(text.contains(&format!(
            "labels<<{delim}\norg.opencontainers.image.base.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\
             \"org.opencontainers.image.description=one\ntwo\"\n{delim}\n"
        )));
    }
}
