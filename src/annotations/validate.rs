//! The OCI image-spec annotation rules (v1.1). Each rule yields a [`Diagnostic`] with a
//! stable code; every problem in a set is reported in one run, never just the first.
//!
//! Messages never repeat a credential: URLs are shown with user-info and secret-looking
//! query values replaced by `***`.

use std::fmt;

use serde::Serialize;

use super::levels::LevelKind;
use super::{Annotations, Levels, OCI_PREFIX, PREDEFINED, RESERVED_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One finding: a stable kebab-case code, the key it concerns, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Diagnostic {
    pub(crate) severity: Severity,
    pub(crate) code: &'static str,
    pub(crate) key: String,
    pub(crate) message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hint: Option<String>,
    /// Where the finding was made (a file, `kind/name` of an object), when not the run itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<String>,
}

impl Diagnostic {
    pub(crate) fn error(code: &'static str, key: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            key: key.to_string(),
            message: message.into(),
            hint: None,
            location: None,
        }
    }

    pub(crate) fn warning(code: &'static str, key: &str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, key, message)
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub(crate) fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// One line: `error[code]: location: message — hint`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: ", self.severity, self.code)?;
        if let Some(loc) = &self.location {
            write!(f, "{loc}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " — {hint}")?;
        }
        Ok(())
    }
}

/// Whether any diagnostic is an error.
pub(crate) fn has_errors(diagnostics: &[Diagnostic]) -> bool {
    diagnostics.iter().any(Diagnostic::is_error)
}

/// Keys the image-spec's conversion document defines for runtime bundles; valid there, but
/// not image annotations.
const RUNTIME_KEYS: &[&str] = &[
    "org.opencontainers.image.architecture",
    "org.opencontainers.image.author",
    "org.opencontainers.image.exposedPorts",
    "org.opencontainers.image.os",
    "org.opencontainers.image.os.features",
    "org.opencontainers.image.os.version",
    "org.opencontainers.image.stopSignal",
    "org.opencontainers.image.variant",
];

/// Validates a whole set; `levels` are the run's levels for entries without their own.
pub(crate) fn validate(annotations: &Annotations, levels: &Levels) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, entry) in annotations.iter() {
        out.extend(check_key(key));
        out.extend(check_value(key, &entry.value));
        let levels = entry.levels.as_ref().unwrap_or(levels);
        if key == oci_spec::image::ANNOTATION_REF_NAME
            && levels.iter().any(|l| l.kind != LevelKind::IndexDescriptor)
        {
            out.push(
                Diagnostic::warning(
                    "ref-name-level",
                    key,
                    format!("`{key}` belongs on index.json descriptors only, not at `{levels}`"),
                )
                .hint(format!("write it as `index-descriptor:{key}=…`")),
            );
        }
    }
    out
}

/// Validates a plain key → value map (annotations already in a target).
pub(crate) fn validate_map<'a>(
    map: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (key, value) in map {
        out.extend(check_key(key));
        out.extend(check_value(key, value));
    }
    out
}

/// The key rules: well-formed, not a misspelt or reserved OCI key, reverse-domain.
pub(crate) fn check_key(key: &str) -> Option<Diagnostic> {
    if key.is_empty() {
        return Some(
            Diagnostic::error("empty-key", key, "an annotation key is empty")
                .hint("write KEY=VALUE with a non-empty KEY"),
        );
    }
    if let Some(c) = key
        .chars()
        .find(|c| *c == '=' || c.is_whitespace() || c.is_control())
    {
        let what = match c {
            '=' => "`=`".to_string(),
            c if c.is_whitespace() && !c.is_control() => "whitespace".to_string(),
            c => format!("the control character U+{:04X}", c as u32),
        };
        return Some(
            Diagnostic::error(
                "key-invalid-char",
                key,
                format!("key `{}` contains {what}", key.escape_debug()),
            )
            .hint("keys are reverse-domain names such as `com.example.build-id`"),
        );
    }
    if PREDEFINED.iter().any(|(_, full)| *full == key) {
        return None;
    }
    if key.starts_with("org.opencontainers.image.enc.") {
        return None; // ocicrypt's keys for encrypted layers, in use under the reserved prefix
    }
    if RUNTIME_KEYS.contains(&key) {
        return Some(
            Diagnostic::warning(
                "runtime-key",
                key,
                format!("`{key}` is defined for runtime bundles (image-spec conversion), not as an image annotation"),
            )
            .hint("use a predefined key or one under your own domain"),
        );
    }
    if let Some(suffix) = key.strip_prefix(OCI_PREFIX) {
        let mut d = Diagnostic::error(
            "unknown-oci-key",
            key,
            format!("`{key}` is not a predefined key; the `org.opencontainers.image.` namespace is reserved"),
        );
        d = match closest(suffix, PREDEFINED.iter().map(|(s, _)| *s), 3) {
            Some(short) => d.hint(format!("did you mean `{OCI_PREFIX}{short}`?")),
            None => d.hint("use a key under your own reverse domain, such as `com.example.…`"),
        };
        return Some(d);
    }
    if key.starts_with(RESERVED_PREFIX) {
        return Some(
            Diagnostic::error(
                "reserved-key",
                key,
                format!("`{key}` is under `org.opencontainers.`, which the OCI reserves"),
            )
            .hint("use a key under your own reverse domain, such as `com.example.…`"),
        );
    }
    // A key that is nearly a predefined one (`oci.opencontainers.image.revision`,
    // `org.opencontainer.image.version`) is a typo, not a custom key.
    if let Some(full) = closest(key, PREDEFINED.iter().map(|(_, f)| *f), 3) {
        return Some(
            Diagnostic::error(
                "misspelled-oci-key",
                key,
                format!("`{key}` is not a predefined key"),
            )
            .hint(format!("did you mean `{full}`?")),
        );
    }
    if !key.contains('.') {
        if let Some(short) = closest(key, PREDEFINED.iter().map(|(s, _)| *s), 2) {
            return Some(
                Diagnostic::error(
                    "unknown-short-name",
                    key,
                    format!("`{key}` is not a predefined short name"),
                )
                .hint(format!("did you mean `{short}` ({OCI_PREFIX}{short})?")),
            );
        }
    }
    if key.contains(':') {
        return Some(
            Diagnostic::warning("key-colon", key, format!("key `{key}` contains `:`"))
                .hint("buildx reads `:` in --annotation as the level separator, so this key cannot be passed to it"),
        );
    }
    if !is_reverse_domain(key) {
        return Some(
            Diagnostic::warning(
                "not-reverse-domain",
                key,
                format!("key `{key}` is not a reverse-domain name"),
            )
            .hint("prefix it with a domain you control, such as `com.example.`"),
        );
    }
    None
}

/// `com.example.thing`: at least two dot-separated, non-empty components, the first of them
/// a plausible top-level domain.
fn is_reverse_domain(key: &str) -> bool {
    let mut parts = key.split('.');
    let first = parts.next().unwrap_or_default();
    let rest: Vec<&str> = parts.collect();
    !first.is_empty()
        && first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !rest.is_empty()
        && rest.iter().all(|p| !p.is_empty())
}

/// The candidate nearest to `word` by edit distance, if within `max`.
fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
    max: usize,
) -> Option<&'a str> {
    candidates
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= max)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The value rules for the predefined keys; other keys accept any string without NUL.
pub(crate) fn check_value(key: &str, value: &str) -> Vec<Diagnostic> {
    use oci_spec::image as spec;

    let mut out = Vec::new();
    if value.contains('\0') {
        out.push(
            Diagnostic::error(
                "value-nul",
                key,
                format!("the value of `{}` contains a NUL byte", key.escape_debug()),
            )
            .hint("annotation values are text; remove the NUL"),
        );
        return out;
    }
    if value.is_empty() {
        if key.starts_with(OCI_PREFIX) {
            out.push(
                Diagnostic::warning(
                    "empty-value",
                    key,
                    format!("`{}` has an empty value", key.escape_debug()),
                )
                .hint("leave the key out instead; an empty value says nothing"),
            );
        }
        return out;
    }
    match key {
        spec::ANNOTATION_CREATED => {
            if let Err(problem) = super::super::collect::time::check_rfc3339(value) {
                out.push(
                    Diagnostic::error(
                        "invalid-created",
                        key,
                        format!(
                            "`{}` is not an RFC 3339 date-time: {problem}",
                            value.escape_debug()
                        ),
                    )
                    .hint("write it like `2024-01-02T03:04:05Z`, or use --created"),
                );
            }
        }
        spec::ANNOTATION_LICENSES => {
            if let Err(d) = super::super::collect::license::check_expression(key, value) {
                out.push(d);
            }
        }
        spec::ANNOTATION_URL | spec::ANNOTATION_DOCUMENTATION | spec::ANNOTATION_SOURCE => {
            out.extend(check_url(key, value));
        }
        spec::ANNOTATION_REF_NAME if !is_ref_name(value) => {
            out.push(
                    Diagnostic::error(
                        "invalid-ref-name",
                        key,
                        format!("`{}` does not match the image-spec ref.name grammar", value.escape_debug()),
                    )
                    .hint("components of letters and digits joined by `-._:@+` or `--`, separated by `/` (e.g. `v1.0.0`, `stable`)"),
                );
        }
        spec::ANNOTATION_BASE_IMAGE_DIGEST => {
            if let Err(problem) = check_digest(value) {
                out.push(
                    Diagnostic::error(
                        "invalid-digest",
                        key,
                        format!(
                            "`{}` is not a valid digest: {problem}",
                            value.escape_debug()
                        ),
                    )
                    .hint("write `sha256:` and 64 lower-case hex digits"),
                );
            }
        }
        spec::ANNOTATION_BASE_IMAGE_NAME => {
            if let Err(problem) = check_fully_qualified_reference(value) {
                let mut d = Diagnostic::error(
                    "invalid-base-name",
                    key,
                    format!(
                        "`{}` is not a fully qualified image reference: {problem}",
                        value.escape_debug()
                    ),
                );
                d = match qualify_docker_hub(value) {
                    Some(q) => d.hint(format!("write `{q}`")),
                    None => {
                        d.hint("write it with its registry, like `docker.io/library/alpine:3.20`")
                    }
                };
                out.push(d);
            }
        }
        spec::ANNOTATION_REVISION => {
            let hex = value.bytes().all(|b| b.is_ascii_hexdigit());
            if !(hex && (value.len() == 40 || value.len() == 64)) {
                out.push(
                    Diagnostic::warning(
                        "revision-not-hash",
                        key,
                        format!(
                            "revision `{}` is not a full 40- or 64-character commit hash",
                            value.escape_debug()
                        ),
                    )
                    .hint(
                        "use the full hash (`git rev-parse HEAD`) so the source can be found again",
                    ),
                );
            }
        }
        _ => {}
    }
    out
}

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
fn check_url(key: &str, value: &str) -> Vec<Diagnostic> {
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

/// The image-spec `ref.name` grammar.
pub(crate) fn is_ref_name(value: &str) -> bool {
    !value.is_empty() && value.split('/').all(is_ref_component)
}

fn is_ref_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_alphanumeric();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator: one of -._:@+ or "--", followed by an alphanumeric
        let sep_len = if b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
            2
        } else if b"-._:@+".contains(&b[i]) {
            1
        } else {
            return false;
        };
        i += sep_len;
        if !b.get(i).copied().is_some_and(alnum) {
            return false;
        }
    }
    true
}

/// A digest in the registered algorithms: `sha256:` + 64 or `sha512:` + 128 lower-case hex.
pub(crate) fn check_digest(value: &str) -> Result<(), String> {
    let Some((alg, hex)) = value.split_once(':') else {
        return Err("expected ALGORITHM:HEX".into());
    };
    let want = match alg {
        "sha256" => 64,
        "sha512" => 128,
        other => return Err(format!("unsupported algorithm `{}`", other.escape_debug())),
    };
    if hex.len() != want {
        return Err(format!(
            "{alg} needs {want} hex digits, found {}",
            hex.len()
        ));
    }
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err("the hex digits must be 0-9 and lower-case a-f".into());
    }
    Ok(())
}

fn is_path_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    let b = c.as_bytes();
    let lower = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !lower(b[0]) || !lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !b.get(i).copied().is_some_and(lower) {
            return false;
        }
    }
    true
}

fn is_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

/// A fully qualified reference: `registry/path[:tag][@digest]`, where the registry has a dot,
/// a port, or is `localhost` (the rule docker uses to tell a registry from a path).
pub(crate) fn check_fully_qualified_reference(value: &str) -> Result<(), String> {
    let (name_tag, digest) = match value.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (value, None),
    };
    if let Some(d) = digest {
        check_digest(d).map_err(|e| format!("bad digest: {e}"))?;
    }
    let (name, tag) = match name_tag.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (name_tag, None),
    };
    if let Some(t) = tag {
        let b = t.as_bytes();
        let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
        if b.is_empty()
            || b.len() > 128
            || !word(b[0])
            || !b.iter().all(|x| word(*x) || *x == b'.' || *x == b'-')
        {
            return Err(format!("bad tag `{}`", t.escape_debug()));
        }
    }
    if name.len() > 255 {
        return Err("the name is longer than 255 characters".into());
    }
    let Some((domain, path)) = name.split_once('/') else {
        return Err("no registry host".into());
    };
    if !(domain.contains('.') || domain.contains(':') || domain == "localhost")
        || !is_domain(domain)
    {
        return Err(format!(
            "`{}` is not a registry host",
            domain.escape_debug()
        ));
    }
    if !path.split('/').all(is_path_component) {
        return Err(format!(
            "bad repository path `{}` (lower-case letters, digits and separators)",
            path.escape_debug()
        ));
    }
    Ok(())
}

/// `alpine:3.20` → `docker.io/library/alpine:3.20`, when that makes a valid reference.
fn qualify_docker_hub(value: &str) -> Option<String> {
    let first = value.split('/').next()?;
    let has_domain =
        value.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_domain {
        return None;
    }
    let q = if value.contains('/') {
        format!("docker.io/{value}")
    } else {
        format!("docker.io/library/{value}")
    };
    check_fully_qualified_reference(&q).ok().map(|()| q)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(key: &str, value: &str) -> Vec<&'static str> {
        check_key(key)
            .into_iter()
            .chain(check_value(key, value))
            .map(|d| d.code)
            .collect()
    }

    #[test]
    fn predefined_and_custom_keys_pass() {
        assert!(codes("org.opencontainers.image.title", "x").is_empty());
        assert!(codes("com.example.build-id", "x").is_empty());
        assert!(codes("io.k8s.description", "x").is_empty());
    }

    #[test]
    fn misspelt_oci_keys_get_did_you_mean() {
        let d = check_key("org.opencontainers.image.revison").unwrap();
        assert_eq!(d.code, "unknown-oci-key");
        assert!(d
            .hint
            .unwrap()
            .contains("org.opencontainers.image.revision"));
        let d = check_key("org.opencontainers.image.license").unwrap();
        assert!(d
            .hint
            .unwrap()
            .contains("org.opencontainers.image.licenses"));
        let d = check_key("oci.opencontainers.image.revision").unwrap();
        assert_eq!(d.code, "misspelled-oci-key");
        assert!(d
            .hint
            .unwrap()
            .contains("`org.opencontainers.image.revision`"));
        assert_eq!(
            check_key("org.opencontainers.artifact.x").unwrap().code,
            "reserved-key"
        );
        assert_eq!(
            check_key("org.opencontainers.image.stopSignal")
                .unwrap()
                .code,
            "runtime-key"
        );
        let d = check_key("revison").unwrap();
        assert_eq!(d.code, "unknown-short-name");
    }

    #[test]
    fn malformed_keys() {
        assert_eq!(check_key("").unwrap().code, "empty-key");
        for k in ["a=b", "a b", "a\tb", "a\nb", "a\u{7}b"] {
            assert_eq!(check_key(k).unwrap().code, "key-invalid-char", "{k:?}");
        }
        assert_eq!(check_key("buildid").unwrap().code, "not-reverse-domain");
        assert_eq!(check_key("com.example:x").unwrap().code, "key-colon");
        assert_eq!(check_key(".com.x").unwrap().code, "not-reverse-domain");
    }

    #[test]
    fn ref_name_grammar() {
        for ok in ["v1.0.0", "stable", "a/b/c", "a--b", "1.0+build@x:y", "A_b"] {
            assert!(is_ref_name(ok), "{ok}");
        }
        for bad in [
            "", "-a", "a-", "a/", "/a", "a//b", "a---b", "a b", "a..b", "a_",
        ] {
            assert!(!is_ref_name(bad), "{bad}");
        }
    }

    #[test]
    fn digests() {
        let hex64 = "a".repeat(64);
        assert!(check_digest(&format!("sha256:{hex64}")).is_ok());
        assert!(check_digest(&format!("sha512:{}", "0".repeat(128))).is_ok());
        assert!(check_digest(&format!("sha256:{}", "A".repeat(64))).is_err());
        assert!(check_digest(&format!("sha512:{hex64}")).is_err());
        assert!(check_digest("sha256:../../x").is_err());
        assert!(check_digest(&format!("md5:{hex64}")).is_err());
        assert!(check_digest(&hex64).is_err());
    }

    #[test]
    fn references() {
        let d = format!("sha256:{}", "b".repeat(64));
        for ok in [
            "docker.io/library/alpine:3.20".to_string(),
            "ghcr.io/o/r".to_string(),
            "localhost/x:1".to_string(),
            "localhost:5000/a/b__c-d.e:tag".to_string(),
            format!("quay.io/a/b@{d}"),
            format!("quay.io/a/b:t@{d}"),
        ] {
            assert!(check_fully_qualified_reference(&ok).is_ok(), "{ok}");
        }
        for bad in [
            "alpine",
            "alpine:3.20",
            "library/alpine",
            "docker.io/Library/x",
            "docker.io/x:",
            "docker.io/x@sha256:1",
        ] {
            assert!(check_fully_qualified_reference(bad).is_err(), "{bad}");
        }
        let diag = check_value("org.opencontainers.image.base.name", "alpine:3.20");
        assert_eq!(
            diag[0].hint.as_deref(),
            Some("write `docker.io/library/alpine:3.20`")
        );
    }

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
    fn revision_warning() {
        let k = "org.opencontainers.image.revision";
        assert!(codes(k, &"a".repeat(40)).is_empty());
        assert!(codes(k, &"0".repeat(64)).is_empty());
        assert_eq!(codes(k, "abc1234"), ["revision-not-hash"]);
        let d = &check_value(k, "abc")[0];
        assert_eq!(d.severity, Severity::Warning);
    }

    #[test]
    fn nul_in_value() {
        assert_eq!(codes("com.example.x", "a\0b"), ["value-nul"]);
        // One line per problem, whatever the key holds.
        let d = check_value("com.exa\nmple", "a\0b")[0].to_string();
        assert!(!d.contains('\n'), "{d}");
    }
}
