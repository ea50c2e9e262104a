//! The Kubernetes rules for `metadata.annotations`: an optional DNS-1123 subdomain prefix
//! (≤253 bytes) and `/`, then a name of ≤63 bytes matching
//! `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`; all keys and values of one object together
//! at most 262,144 bytes.

use super::Diagnostic;

/// The API server's limit on the total size of one object's annotations.
pub(crate) const TOTAL_LIMIT: usize = 256 * 1024;

fn is_dns1123_label(l: &str) -> bool {
    let b = l.as_bytes();
    let ok = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && ok(b[0])
        && ok(b[b.len() - 1])
        && b.iter().all(|x| ok(*x) || *x == b'-')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

fn is_qualified_name_part(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'-' | b'_' | b'.'))
}

/// Checks one key against the Kubernetes annotation-key rules. As apimachinery's
/// `ValidateAnnotations` does, the key is lower-cased before the qualified-name check, so
/// `Example.COM/MyKey` is valid.
pub(crate) fn check_key(key: &str) -> Option<Diagnostic> {
    let lowered = key.to_lowercase();
    let (prefix, name) = match lowered.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let problem = if let Some(p) = prefix {
        if p.is_empty() {
            Some("the prefix before `/` is empty".to_string())
        } else if p.len() > 253 {
            Some(format!(
                "the prefix is {} bytes long (at most 253)",
                p.len()
            ))
        } else if !is_dns1123_subdomain(p) {
            Some(format!(
                "the prefix `{}` is not a DNS-1123 subdomain (lower-case letters, digits, `-` and `.`)",
                p.escape_debug()
            ))
        } else {
            None
        }
    } else {
        None
    };
    let problem = problem.or_else(|| {
        if name.is_empty() {
            Some("the name is empty".to_string())
        } else if name.len() > 63 {
            Some(format!("the name is {} bytes long (at most 63)", name.len()))
        } else if name.contains('/') {
            Some("a key holds at most one `/`".to_string())
        } else if !is_qualified_name_part(name) {
            Some(format!(
                "the name `{}` must start and end with a letter or digit and hold only letters, digits, `-`, `_` and `.`",
                name.escape_debug()
            ))
        } else {
            None
        }
    })?;
    Some(
        Diagnostic::error(
            "kubernetes-key",
            key,
            format!(
                "`{}` is not a valid Kubernetes annotation key: {problem}",
                key.escape_debug()
            ),
        )
        .hint("Kubernetes keys are `[prefix/]name`, e.g. `example.com/build-id`"),
    )
}

/// The bytes one object's annotations take, as the API server counts them.
pub(crate) fn total_size<'a>(map: impl IntoIterator<Item = (&'a str, &'a str)>) -> usize {
    map.into_iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Checks a whole map: every key, and the total size.
pub(crate) fn check_map<'a>(
    map: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = map
        .clone()
        .into_iter()
        .filter_map(|(k, _)| check_key(k))
        .collect();
    let size = total_size(map);
    if size > TOTAL_LIMIT {
        out.push(
            Diagnostic::error(
                "kubernetes-size",
                "",
                format!("the annotations total {size} bytes, over the Kubernetes limit of {TOTAL_LIMIT}"),
            )
            .hint("shorten or drop large values (descriptions, existing annotations)"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_predefined_key_is_valid() {
        for (_, key) in crate::annotations::PREDEFINED {
            assert!(check_key(key).is_none(), "{key}");
        }
    }

    #[test]
    fn key_rules() {
        for ok in [
            "a",
            "example.com/x",
            "x.y_z-1",
            "k8s.io/a.b",
            "A1",
            "Example.COM/MyKey",
        ] {
            assert!(check_key(ok).is_none(), "{ok}");
        }
        let long_name = "a".repeat(64);
        let long_prefix = format!("{}/x", "a".repeat(254));
        for bad in [
            "",
            "/x",
            "-a.com/x",
            "a.com/",
            "a.com/-x",
            "a.com/x/y",
            "x_",
            "a b",
            long_name.as_str(),
            long_prefix.as_str(),
        ] {
            assert!(check_key(bad).is_some(), "{bad}");
        }
        assert!(check_key(&"a".repeat(63)).is_none());
        // One line per problem, whatever the key holds.
        let d = check_key("a\nb/c").unwrap().to_string();
        assert!(!d.contains('\n'), "{d}");
    }

    #[test]
    fn size_limit_counts_keys_and_values() {
        let big = "x".repeat(TOTAL_LIMIT - 1);
        assert!(check_map([("a", big.as_str())]).is_empty());
        let d = check_map([("ab", big.as_str())]);
        assert_eq!(d[0].code, "kubernetes-size");
    }
}
