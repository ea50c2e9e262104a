//! URL rules and credential redaction: `url`, `documentation` and `source` are absolute
//! URLs without credentials, and every message that echoes a value shows it with user-info
//! and secret-looking query values replaced by `***`.

use super::Diagnostic;

/// Query, path (`;name=`) and fragment parameters whose values are credentials, compared
/// case-insensitively.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "api-key",
    "api_key",
    "apikey",
    "auth",
    "client_secret",
    "code",
    "credential",
    "jwt",
    "key",
    "pass",
    "passwd",
    "password",
    "private_token",
    "pwd",
    "secret",
    "session",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-credential",
    "x-goog-signature",
];

fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_PARAMS.contains(&n.as_str())
        || ["_token", "-token", "_secret", "-secret"]
            .iter()
            .any(|s| n.ends_with(s))
}

/// Characters that end a URL quoted in free text.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\'' | '"' | '`' | '<' | '>')
}

/// `name=value` parameters after `?`, `&`, `;` (path parameters) or `#` (a fragment such as
/// `#access_token=…`) whose name is a credential's: the value becomes `***`.
fn redact_params(text: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['?', '&', ';', '#']) {
        let (before, after) = rest.split_at(i + 1);
        // A path parameter ends at the next segment; a query or fragment value may hold `/`.
        let path_param = before.ends_with(';');
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
                    .find(|c: char| {
                        ends_url(c) || matches!(c, '&' | '#' | ';') || (path_param && c == '/')
                    })
                    .unwrap_or(value.len());
                redacted.push_str("=***");
                rest = &value[end..];
            }
        }
    }
    redacted.push_str(rest);
    redacted
}

/// Whether `authority` (what lies between `//` and the next `/`, `\\`, `?` or `#`) reads as
/// a host with an optional numeric port. When it does not (`user:ab` of
/// `https://user:ab/s3cr3t@host/`), a URL parser fails on it, and an `@` further on may end
/// a password that holds a `/`.
fn is_host_port(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !authority.starts_with('[') || h.ends_with(']') => (h, Some(p)),
        _ => (authority, None),
    };
    !host.is_empty()
        && !host.contains(['@', ':']) | host.starts_with('[')
        && port.is_none_or(|p| p.chars().all(|c| c.is_ascii_digit()))
}

/// Whether the text after an `@` is a digest (`sha256:…`), as in an image reference.
fn is_digest_after(rest: &str) -> bool {
    rest.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '_' | '-'))
            && hex.len() >= 32
            && hex.chars().take(32).all(|c| c.is_ascii_hexdigit())
    })
}

/// One word of free text (no blanks or quotes) with the user-info of a URL or of a
/// `user:password@host` reference replaced by `***`.
fn redact_word(word: &str) -> String {
    // `scheme://`, and the malformed `scheme:/` and `scheme:\\`: the authority follows the
    // slashes.
    if let Some(colon) = word.match_indices(':').map(|(i, _)| i).find(|&i| {
        word[i + 1..].starts_with(['/', '\\'])
            && word[..i]
                .rsplit(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
                .next()
                .is_some_and(|scheme| scheme.starts_with(|c: char| c.is_ascii_alphabetic()))
    }) {
        let start = colon + 1 + word[colon + 1..].len()
            - word[colon + 1..].trim_start_matches(['/', '\\']).len();
        let rest = &word[start..];
        let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let at = match authority.rfind('@') {
            Some(at) => Some(at),
            // A password holding `/`, `?` or `#`: the authority is no host, and the user-info
            // ends at the last `@` of the word.
            None if !is_host_port(authority) => rest.rfind('@'),
            None => None,
        };
        return match at {
            Some(at) => format!("{}***{}", &word[..start], &rest[at..]),
            None => word.to_string(),
        };
    }
    // `user:password@host…` without a scheme (an image reference, an scp-like remote): the
    // last `@` that does not start a digest, with a `:` before it.
    let mut search = word.len();
    while let Some(at) = word[..search].rfind('@') {
        if is_digest_after(&word[at + 1..]) {
            search = at;
            continue;
        }
        let from = word[..at].rfind(['=', '(', ',']).map_or(0, |i| i + 1);
        let user = &word[from..at];
        let mailto = user
            .split_once(':')
            .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("mailto"));
        if user.contains(':') && !mailto {
            return format!("{}***{}", &word[..from], &word[at..]);
        }
        break;
    }
    word.to_string()
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
    if parsed.query_pairs().any(|(k, _)| is_secret_param(&k)) || redact_params(value) != value {
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
            redact_params(u.as_str())
        }
        _ => {
            // Not a URL the parser takes: with a scheme, everything up to the last `@` (the
            // user-info may hold any character); without one, what `redact_word` hides
            // (`user:pass@host:path`; not `mailto:name@host`).
            let shown = match value.find("://") {
                Some(i) => match value[i + 3..].rfind('@') {
                    Some(at) => format!("{}***{}", &value[..i + 3], &value[i + 3 + at..]),
                    None => value.to_string(),
                },
                None => value.split_inclusive(ends_url).map(redact_word).collect(),
            };
            redact_params(&shown)
        }
    }
}

/// A URL to publish (a CI run's page) with its credentials taken out, not masked: no
/// user-info, and no query, path (`;name=`) or fragment parameter whose name is a
/// credential's. `None` when it is not an absolute URL with a host (it cannot be cleaned
/// with certainty).
pub(crate) fn strip_credentials(value: &str) -> Option<String> {
    let mut u = url::Url::parse(value.trim()).ok()?;
    if u.cannot_be_a_base() || u.host_str().is_none_or(str::is_empty) {
        return None;
    }
    let _ = u.set_password(None);
    let _ = u.set_username("");
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_secret_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if pairs.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
    }
    let path: Vec<String> = u
        .path()
        .split('/')
        .map(|segment| {
            segment
                .split(';')
                .enumerate()
                .filter(|(i, p)| *i == 0 || !p.split('=').next().is_some_and(is_secret_param))
                .map(|(_, p)| p)
                .collect::<Vec<_>>()
                .join(";")
        })
        .collect();
    u.set_path(&path.join("/"));
    if let Some(fragment) = u.fragment() {
        if fragment.contains('=')
            && redact_params(&format!("#{fragment}")) != format!("#{fragment}")
        {
            u.set_fragment(None);
        }
    }
    // Whatever the parser did not see as a credential, the redactor would not show either.
    let shown = u.to_string();
    (redact_text(&shown) == shown).then_some(shown)
}

/// `vendor`, `authors` and custom `*.url` keys are free text, but a URL credential in them
/// (`https://user:TOKEN@…`, `?token=…`) or a `user:password@host` is refused like one in
/// `source` (never echoed).
pub(crate) fn check_embedded_credentials(key: &str, value: &str) -> Vec<Diagnostic> {
    if redact_text(value) == value {
        return Vec::new();
    }
    vec![Diagnostic::error(
        "url-credentials",
        key,
        format!(
            "the value of `{}` carries a credential (a URL's user-info or token); it is not shown",
            key.escape_debug()
        ),
    )
    .hint("remove the credential; credentials must never be published in an image")]
}

/// Free text that may quote URLs (an error message echoing an argument) with every URL's
/// user-info and the values of secret-looking query parameters replaced by `***`.
pub(crate) fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(ends_url).unwrap_or(rest.len());
        out.push_str(&redact_word(&rest[..end]));
        let sep = rest[end..].chars().next().map_or(0, char::len_utf8);
        out.push_str(&rest[end..end + sep]);
        rest = &rest[end + sep..];
    }
    redact_params(&out)
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

    #[test]
    fn credentials_are_found_as_a_url_parser_finds_them() {
        // (text, secret, what must remain)
        for (text, secret, kept) in [
            (
                "https://user:ab/s3cr3t@github.com/x",
                "s3cr3t",
                "@github.com/x",
            ),
            (
                "https://user:ab?c#s3cr3t@github.com/x",
                "s3cr3t",
                "@github.com/x",
            ),
            (
                "https:/user:TOKEN9@github.com/x/y",
                "TOKEN9",
                "@github.com/x/y",
            ),
            ("u:TOKEN8@docker.io/x:1", "TOKEN8", "@docker.io/x:1"),
            (
                "base.name=u:TOKEN7@docker.io/x",
                "TOKEN7",
                "base.name=***@docker.io/x",
            ),
            (
                "https://h/p;token=TOKEN6/x",
                "TOKEN6",
                "https://h/p;token=***/x",
            ),
            (
                "https://h/p#access_token=TOKEN5&x=1",
                "TOKEN5",
                "#access_token=***&x=1",
            ),
            (
                "https://h/p?X-Amz-Credential=TOKEN4",
                "TOKEN4",
                "X-Amz-Credential=***",
            ),
        ] {
            for shown in [redact_text(text), redact_url(text)] {
                assert!(!shown.contains(secret), "{text} → {shown}");
                assert!(shown.contains(kept), "{text} → {shown}");
            }
        }
        for name in [
            "passwd",
            "pwd",
            "pass",
            "client_secret",
            "api-key",
            "api_key",
            "apikey",
            "credential",
            "jwt",
            "code",
            "session",
            "sig",
            "signature",
            "X-Amz-Credential",
            "X-Amz-Signature",
            "X-Goog-Signature",
            "X-GOOG-CREDENTIAL",
        ] {
            let url = format!("https://h/p?a=1&{name}=SECRET");
            assert_eq!(
                redact_url(&url),
                format!("https://h/p?a=1&{name}=***"),
                "{name}"
            );
            assert!(!redact_text(&url).contains("SECRET"), "{name}");
            assert_eq!(
                check_url("org.opencontainers.image.url", &url)[0].code,
                "url-secret-query"
            );
        }
        // what is no credential stays as it is
        for plain in [
            "docker.io/library/alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "localhost:5000/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "https://www.npmjs.com/package/@scope/name",
            "git@github.com:o/r",
            "mailto:a@example.com",
            "Jane <jane@example.com>",
            "https://h:8080/p?codec=x",
        ] {
            assert_eq!(redact_text(plain), plain);
        }
    }

    #[test]
    fn run_urls_lose_their_credentials() {
        for (given, want) in [
            (
                "https://u:TOKEN@ci.example.com/b/1",
                Some("https://ci.example.com/b/1"),
            ),
            (
                "https://ci.example.com/b/1?token=TOKEN&x=1",
                Some("https://ci.example.com/b/1?x=1"),
            ),
            (
                "https://ci.example.com/b/1?access_token=TOKEN",
                Some("https://ci.example.com/b/1"),
            ),
            (
                "https://ci.example.com/b;jwt=TOKEN/1",
                Some("https://ci.example.com/b/1"),
            ),
            (
                "https://ci.example.com/b/1#access_token=TOKEN",
                Some("https://ci.example.com/b/1"),
            ),
            (
                "https://ci.example.com/b/1#log",
                Some("https://ci.example.com/b/1#log"),
            ),
            ("https://u:ab/TOKEN@ci.example.com/b/1", None),
            ("not a url", None),
        ] {
            assert_eq!(strip_credentials(given).as_deref(), want, "{given}");
        }
        for (value, refused) in [
            ("Example Corp", false),
            ("Example Corp <https://u:TOKEN@example.com>", true),
            ("https://example.com/?private_token=TOKEN", true),
            ("Jane <jane@example.com>", false),
        ] {
            let d = check_embedded_credentials("org.opencontainers.image.vendor", value);
            assert_eq!(!d.is_empty(), refused, "{value}");
            assert!(d.iter().all(|d| !d.to_string().contains("TOKEN")));
        }
    }
}
