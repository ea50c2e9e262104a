//! URL rules and credential redaction: `url`, `documentation` and `source` are absolute
//! URLs without credentials, and every message that echoes a value shows it with user-info
//! and secret-looking query values replaced by `***`.

use super::Diagnostic;

/// Query parameters whose values are credentials.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "key",
    "password",
    "private_token",
    "secret",
    "sig",
    "signature",
    "token",
    "x-amz-signature",
];

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&n.as_str()) || n.ends_with("_token") || n.ends_with("-token")
}

/// `url`, `documentation`, `source`: absolute, and carrying no credential.
pub(crate) fn check_url(key: &str, value: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    // The URL parser drops tabs and line breaks and trims blanks; the value would keep them.
    // (The value is not shown: a credential in it could hide past the blank.)
    if let Some((at, c)) = value
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_whitespace() || c.is_control())
    {
        let what = match c {
            ' ' => "a space".to_string(),
            '\n' | '\r' => "a line break".to_string(),
            '\t' => "a tab".to_string(),
            c => format!("U+{:04X}", c as u32),
        };
        out.push(
            Diagnostic::error(
                "invalid-url",
                key,
                format!(
                    "the value of `{key}` is not a URL: it holds {what} at character {}",
                    at + 1
                ),
            )
            .hint("percent-encode it (a space is `%20`) or remove it"),
        );
        return out;
    }
    let parsed = match url::Url::parse(value) {
        Ok(u) => u,
        Err(e) => {
            out.push(
                Diagnostic::error(
                    "invalid-url",
                    key,
                    format!(
                        "`{}` is not an absolute URL: {e}",
                        redact_url(value).escape_debug()
                    ),
                )
                .hint("write the full URL, such as `https://github.com/owner/repo`"),
            );
            return out;
        }
    };
    if parsed.cannot_be_a_base() || parsed.host_str().is_none_or(str::is_empty) {
        out.push(
            Diagnostic::error(
                "invalid-url",
                key,
                format!(
                    "`{}` is not an absolute URL with a host",
                    redact_url(value).escape_debug()
                ),
            )
            .hint("write the full URL, such as `https://github.com/owner/repo`"),
        );
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        out.push(
            Diagnostic::error(
                "url-credentials",
                key,
                format!(
                    "the URL in `{key}` carries user-info (a credential): `{}`",
                    redact_url(value).escape_debug()
                ),
            )
            .hint(
                "remove the `user:password@` part; credentials must never be published in an image",
            ),
        );
    }
    if parsed.query_pairs().any(|(k, _)| is_secret_param(&k)) {
        out.push(
            Diagnostic::error(
                "url-secret-query",
                key,
                format!(
                    "the URL in `{key}` carries a secret in its query: `{}`",
                    redact_url(value).escape_debug()
                ),
            )
            .hint("remove the query string"),
        );
    }
    out
}

/// The URL with any user-info and secret-looking query values replaced by `***`; text that is
/// not a URL has anything before an `@` in its authority hidden.
pub(crate) fn redact_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) if !u.cannot_be_a_base() => {
            if !u.username().is_empty() || u.password().is_some() {
                let _ = u.set_password(None);
                let _ = u.set_username("***");
            }
            if u.query().is_some() {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if is_secret_param(&k) {
                            "***".to_string()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        _ => {
            // Not a URL the parser takes: hide everything before the last `@` of what would
            // be the authority (`scheme://user:pass@host/…`, or scp-like `user:pass@host:path`;
            // not `mailto:name@host`, which has no `host:` after the `@`).
            let (prefix, rest, scp) = match value.split_once("://") {
                Some((scheme, rest)) => (format!("{scheme}://"), rest, false),
                None => (String::new(), value, true),
            };
            let head = &rest[..rest.find('/').unwrap_or(rest.len())];
            match head.rfind('@') {
                Some(at) if !scp || head[at..].contains(':') => {
                    format!("{prefix}***{}", &rest[at..])
                }
                _ => value.to_string(),
            }
        }
    }
}

/// Free text that may quote URLs (an error message echoing an argument) with every URL's
/// user-info and the values of secret-looking query parameters replaced by `***`.
pub(crate) fn redact_text(text: &str) -> String {
    let ends = |c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (before, after) = rest.split_at(i + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| ends(c) || matches!(c, '/' | '?' | '#'))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    // `?name=value` and `&name=value` where the name is a credential's.
    let mut redacted = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find(['?', '&']) {
        let (before, after) = rest.split_at(i + 1);
        redacted.push_str(before);
        let name_end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(after.len());
        let (name, tail) = after.split_at(name_end);
        redacted.push_str(name);
        rest = tail;
        if is_secret_param(name) {
            if let Some(value) = tail.strip_prefix('=') {
                let end = value
                    .find(|c: char| ends(c) || matches!(c, '&' | '#'))
                    .unwrap_or(value.len());
                redacted.push_str("=***");
                rest = &value[end..];
            }
        }
    }
    redacted.push_str(rest);
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::validate::check_value;
    use crate::annotations::validate::tests::codes;

    #[test]
    fn urls_and_credentials() {
        let k = "org.opencontainers.image.source";
        assert!(codes(k, "https://github.com/o/r").is_empty());
        assert_eq!(codes(k, "github.com/o/r"), ["invalid-url"]);
        assert_eq!(codes(k, "/o/r"), ["invalid-url"]);
        let diags = check_value(k, "https://x-access-token:ghs_SECRET@github.com/o/r");
        assert_eq!(diags[0].code, "url-credentials");
        assert!(!diags[0].to_string().contains("ghs_SECRET"));
        let diags = check_value(k, "https://gitlab.com/g/p?private_token=glpat-SECRET");
        assert_eq!(diags[0].code, "url-secret-query");
        assert!(!diags[0].to_string().contains("glpat-SECRET"));
        let diags = check_value(k, "https://TOKEN123@github.com/o/r");
        assert!(!diags[0].to_string().contains("TOKEN123"));
        for blank in [
            " https://github.com/o/r",
            "https://github.com/o/r\n",
            "https://a.b/x\ty",
        ] {
            assert_eq!(codes(k, blank), ["invalid-url"], "{blank:?}");
        }
        let d = check_value(k, "https://u:TOKEN456@github.com/o/r\n")[0].to_string();
        assert!(!d.contains("TOKEN456") && !d.contains('\n'), "{d}");
        // values the URL parser refuses, or takes as a scheme without a host
        for (value, shown) in [
            ("user:TOKEN7@host:o/r", "***@host:o/r"),
            ("https://u:TOK@EN8@host:x/o/r", "https://***@host:x/o/r"),
            // an e-mail address is shown as it is
            ("mailto:TOK@example.com", "`mailto:TOK@example.com`"),
        ] {
            let d: Vec<String> = check_value(k, value)
                .iter()
                .map(|d| d.to_string())
                .collect();
            assert!(!d.is_empty(), "{value}");
            for line in &d {
                assert!(
                    !line.contains("TOK") || value.starts_with("mailto:"),
                    "{line}"
                );
                assert!(line.contains(shown), "{line}");
            }
        }
    }

    #[test]
    fn free_text_is_redacted() {
        let said = "invalid value 'bogus:source=https://user:TOKEN1@github.com/o/r' for '-a': \
                    ssh://u:p@ss-TOKEN2@host:22/x, https://TOKEN3@h and \
                    https://h/p?a=1&private_token=TOKEN4#f, (git@github.com:o/r) ?token=TOKEN5";
        let shown = redact_text(said);
        for secret in ["TOKEN1", "TOKEN2", "TOKEN3", "TOKEN4", "TOKEN5"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("'bogus:source=https://***@github.com/o/r'"),
            "{shown}"
        );
        assert!(
            shown.contains("https://h/p?a=1&private_token=***#f"),
            "{shown}"
        );
        let plain = "unknown level `bogus` (expected manifest, index) — a=b&c=d";
        assert_eq!(redact_text(plain), plain);
    }
}
