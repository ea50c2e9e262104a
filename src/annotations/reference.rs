//! Reference rules: the `ref.name` grammar, digests, and fully qualified image references
//! (`base.name`).

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
pub(crate) fn qualify_docker_hub(value: &str) -> Option<String> {
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

/// An image reference as docker and BuildKit read a `FROM` (`docker pull`): Docker Hub for a
/// name without a registry host (`library/` for a one-part name, `index.docker.io` read as
/// `docker.io`), `:latest` when neither a tag nor a digest is given. `alpine:3.20` →
/// `docker.io/library/alpine:3.20`, `ghcr.io/o/r` → `ghcr.io/o/r:latest`; a digest stays.
/// The result is fully qualified ([`check_fully_qualified_reference`]), or the reason not.
pub(crate) fn normalise_image_reference(value: &str) -> Result<String, String> {
    ImageReference::parse(value)
        .map(|r| r.to_string())
        .map_err(|e| format!("`{}` is not an image reference: {e}", value.escape_debug()))
}

/// An image reference in its parts, read as [`normalise_image_reference`] reads it: the
/// registry host (`docker.io`, `127.0.0.1:5000`, `[::1]:5000`), the repository path, and the
/// tag (`latest` when neither a tag nor a digest is given) and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageReference {
    pub(crate) registry: String,
    pub(crate) repository: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl ImageReference {
    /// Parses `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]`; the error is the reason it is not one.
    pub(crate) fn parse(value: &str) -> Result<ImageReference, String> {
        let (name_tag, digest) = match value.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (value, None),
        };
        let (name, tag) = match name_tag.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t)),
            _ => (name_tag, None),
        };
        // docker's rule: the first component is a registry host when it has a `.` or a `:`,
        // is `localhost`, or has an upper-case letter (a repository path cannot)
        let (domain, path) = match name.split_once('/') {
            Some((d, p))
                if d.contains(['.', ':'])
                    || d == "localhost"
                    || d.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (d, p.to_string())
            }
            _ => ("docker.io", name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            "docker.io"
        } else {
            domain
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let parsed = ImageReference {
            registry: domain.to_string(),
            repository: path,
            tag: match (tag, digest) {
                (Some(t), _) => Some(t.to_string()),
                (None, None) => Some("latest".to_string()),
                (None, Some(_)) => None,
            },
            digest: digest.map(str::to_string),
        };
        check_fully_qualified_reference(&parsed.to_string())?;
        Ok(parsed)
    }
}

/// What the registry client asks of a reference.
#[cfg_attr(not(feature = "registry"), allow(dead_code))]
impl ImageReference {
    /// The same repository at `digest` (no tag).
    pub(crate) fn at_digest(&self, digest: &str) -> ImageReference {
        ImageReference {
            tag: None,
            digest: Some(digest.to_string()),
            ..self.clone()
        }
    }

    /// The same repository at `tag` (no digest).
    pub(crate) fn at_tag(&self, tag: &str) -> ImageReference {
        ImageReference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// What the distribution API names the manifest by: the digest, else the tag.
    pub(crate) fn manifest_name(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The host the distribution API is reached at: Docker Hub's for `docker.io`.
    pub(crate) fn api_host(&self) -> &str {
        match self.registry.as_str() {
            "docker.io" => "index.docker.io",
            other => other,
        }
    }
}

impl std::fmt::Display for ImageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The digest a reference pins (`…@sha256:…`), if any.
pub(crate) fn reference_digest(value: &str) -> Option<&str> {
    value.split_once('@').map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotations::validate::check_value;

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
    fn image_references_normalise_as_docker_reads_them() {
        let d = format!("sha256:{}", "c".repeat(64));
        for (given, want) in [
            (
                "alpine".to_string(),
                "docker.io/library/alpine:latest".to_string(),
            ),
            ("alpine:3.20".into(), "docker.io/library/alpine:3.20".into()),
            (
                "library/alpine:3".into(),
                "docker.io/library/alpine:3".into(),
            ),
            (
                "grafana/grafana".into(),
                "docker.io/grafana/grafana:latest".into(),
            ),
            (
                "index.docker.io/x".into(),
                "docker.io/library/x:latest".into(),
            ),
            ("docker.io/x/y:1".into(), "docker.io/x/y:1".into()),
            ("ghcr.io/o/r".into(), "ghcr.io/o/r:latest".into()),
            ("localhost:5000/a".into(), "localhost:5000/a:latest".into()),
            ("localhost/a".into(), "localhost/a:latest".into()),
            (
                format!("alpine@{d}"),
                format!("docker.io/library/alpine@{d}"),
            ),
            (
                format!("alpine:3@{d}"),
                format!("docker.io/library/alpine:3@{d}"),
            ),
            (format!("quay.io/a/b@{d}"), format!("quay.io/a/b@{d}")),
        ] {
            assert_eq!(
                normalise_image_reference(&given).as_deref(),
                Ok(want.as_str()),
                "{given}"
            );
        }
        for bad in [
            "Alpine",
            "alpine:",
            "alpine@sha256:12",
            "a b",
            "MyReg/x",
            "",
        ] {
            assert!(normalise_image_reference(bad).is_err(), "{bad}");
        }
        assert_eq!(reference_digest(&format!("a@{d}")), Some(d.as_str()));
        assert_eq!(reference_digest("a:1"), None);
    }

    #[test]
    fn image_references_in_parts() {
        let d = format!("sha256:{}", "d".repeat(64));
        let r = ImageReference::parse("127.0.0.1:5000/app/web:1.0").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("127.0.0.1:5000", "app/web")
        );
        assert_eq!((r.tag.as_deref(), r.digest.as_deref()), (Some("1.0"), None));
        assert_eq!(r.manifest_name(), "1.0");
        assert_eq!(r.api_host(), "127.0.0.1:5000");
        let hub = ImageReference::parse("alpine").unwrap();
        assert_eq!(hub.registry, "docker.io");
        assert_eq!(hub.repository, "library/alpine");
        assert_eq!(hub.tag.as_deref(), Some("latest"));
        assert_eq!(hub.api_host(), "index.docker.io");
        let pinned = ImageReference::parse(&format!("localhost/app@{d}")).unwrap();
        assert_eq!(
            (pinned.tag, pinned.digest.as_deref()),
            (None, Some(d.as_str()))
        );
        let both = ImageReference::parse(&format!("localhost/app:2@{d}")).unwrap();
        assert_eq!(both.manifest_name(), d);
        assert_eq!(both.to_string(), format!("localhost/app:2@{d}"));
        assert_eq!(both.at_tag("3").to_string(), "localhost/app:3");
        assert_eq!(both.at_digest(&d).to_string(), format!("localhost/app@{d}"));
        // An IPv6 literal with a port is a registry host.
        let v6 = ImageReference::parse("[::1]:5000/x:1").unwrap();
        assert_eq!(
            (v6.registry.as_str(), v6.repository.as_str()),
            ("[::1]:5000", "x")
        );
        assert_eq!(v6.tag.as_deref(), Some("1"));
        let v6 = ImageReference::parse("[::1]:5000/x").unwrap();
        assert_eq!(v6.tag.as_deref(), Some("latest"));
        for bad in [
            "UPPER/Case:x",
            "[nope]:5000/x:1",
            "[::1]/x:1",
            "x:",
            "a b",
            "",
            "localhost/app@sha256:12",
            "localhost/-app",
            "localhost/app:-t",
        ] {
            assert!(ImageReference::parse(bad).is_err(), "{bad}");
        }
        let long = format!("localhost/{}", "a".repeat(250));
        assert!(ImageReference::parse(&long).is_err());
    }
}
