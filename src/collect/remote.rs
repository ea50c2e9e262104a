//! Remote URLs: every form git accepts (`git@host:o/r.git`, `ssh://…`, `https://token@…`)
//! turned into the public `https://host/o/r` a person can open — never with credentials,
//! query or fragment.

/// Forges whose repository URL is also the project's home page (`url`).
const FORGES: &[&str] = &[
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "codeberg.org",
    "gitea.com",
    "sr.ht",
    "git.sr.ht",
];

/// The normalised `https://` (or `http://`) URL of a remote, or `None` for a local path or
/// something that is not a URL.
pub(crate) fn normalise(remote: &str) -> Option<String> {
    let remote = remote.trim();
    let (scheme, rest) = match remote.split_once("://") {
        Some((s, r)) => (s.to_ascii_lowercase(), r),
        None => {
            // scp-like: [user@]host:path, where the part before ':' holds no '/'. User-info
            // ends at the last '@' before the first '/', so `user:password@host:path` (not
            // git's syntax, but a credential all the same) loses its password too.
            let head_len = remote.find('/').unwrap_or(remote.len());
            let remote = match remote[..head_len].rfind('@') {
                Some(at) => &remote[at + 1..],
                None => remote,
            };
            let (host, path) = remote.split_once(':')?;
            if host.contains('/') || host.is_empty() || path.starts_with("//") {
                return None;
            }
            if is_malformed_url(host, path) {
                return None;
            }
            // A single letter before ':' is a Windows drive, not a host.
            if host.len() == 1 {
                return None;
            }
            return assemble("https", host, None, path);
        }
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    // Drop user-info: everything up to the last '@' of the authority.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = split_port(host_port);
    match scheme.as_str() {
        "https" | "http" => assemble(&scheme, host, port, path),
        "ssh" | "git" | "git+ssh" | "ssh+git" | "git+https" => assemble("https", host, None, path),
        _ => None,
    }
}

/// A URL with a slash missing (`https:/user:TOKEN@github.com/o/r`) or a path holding
/// user-info reads as scp-like `host:path`; it is no remote others can reach, and taking it
/// as one would publish what follows the `@`.
fn is_malformed_url(host: &str, path: &str) -> bool {
    const SCHEMES: &[&str] = &[
        "http",
        "https",
        "ssh",
        "git",
        "git+ssh",
        "ssh+git",
        "git+https",
        "ftp",
        "ftps",
        "file",
    ];
    SCHEMES.contains(&host.to_ascii_lowercase().as_str()) || path.contains('@')
}

fn split_port(host_port: &str) -> (&str, Option<&str>) {
    if host_port.starts_with('[') {
        return match host_port.rsplit_once("]:") {
            Some((h, p)) => (&host_port[..h.len() + 1], Some(p)),
            None => (host_port, None),
        };
    }
    match host_port.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host_port, None),
    }
}

fn assemble(scheme: &str, host: &str, port: Option<&str>, path: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'[' | b']' | b':'))
    {
        return None;
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    // Azure DevOps over ssh: git@ssh.dev.azure.com:v3/org/project/repo
    if host == "ssh.dev.azure.com" {
        let parts: Vec<&str> = path.split('/').collect();
        if let ["v3", org, project, repo] = parts.as_slice() {
            return Some(format!("https://dev.azure.com/{org}/{project}/_git/{repo}"));
        }
    }
    let port = match (scheme, port) {
        (_, Some("")) | ("https", Some("443")) | ("http", Some("80")) | (_, None) => String::new(),
        (_, Some(p)) if p.bytes().all(|b| b.is_ascii_digit()) => format!(":{p}"),
        _ => return None,
    };
    if path.is_empty() {
        return Some(format!("{scheme}://{host}{port}"));
    }
    Some(format!("{scheme}://{host}{port}/{path}"))
}

/// Whether a normalised URL is on a forge, where the repository page is the project's page.
pub(crate) fn is_forge(normalised: &str) -> bool {
    let host = normalised
        .split_once("://")
        .map_or("", |(_, r)| r.split(['/', ':']).next().unwrap_or(""));
    FORGES.contains(&host)
}

/// The repository's name: the last path segment (`https://github.com/o/r` → `r`).
pub(crate) fn repository_name(normalised: &str) -> Option<&str> {
    let path = normalised.split_once("://")?.1.split_once('/')?.1;
    path.rsplit('/').next().filter(|s| !s.is_empty())
}

/// A remote that is a path on this machine (`/srv/git/app.git`, `../app`, `file:///srv/app`)
/// and holds nothing a credential could hide in (no `@`, no `:` but `file://`'s, no
/// control characters): safe to name in a message.
pub(crate) fn local_path(remote: &str) -> Option<&str> {
    let path = remote.strip_prefix("file://").unwrap_or(remote);
    let local = path.starts_with('/') || path.starts_with("./") || path.starts_with("../");
    let plain = !path.contains(['@', ':', '?', '#']) && !path.chars().any(char::is_control);
    (local && plain && path.len() <= 200).then_some(remote)
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_paths_are_named_and_nothing_else() {
        for p in ["/srv/git/app.git", "../app", "./x", "file:///srv/app.git"] {
            assert_eq!(super::local_path(p), Some(p), "{p}");
        }
        for p in [
            "https://user:tok@host/x",
            "/srv/user:tok@x",
            "git@host:x",
            "C:\\repo",
            "app",
            "file://user@host/x",
            "/a\nb",
        ] {
            assert_eq!(super::local_path(p), None, "{p}");
        }
    }

    use super::*;

    #[test]
    fn remotes_normalise_without_credentials() {
        let cases = [
            (
                "https://x-access-token:TOKEN@github.com/o/r.git",
                "https://github.com/o/r",
            ),
            (
                "https://oauth2:TOKEN@gitlab.com/g/p.git",
                "https://gitlab.com/g/p",
            ),
            ("https://TOKEN@github.com/o/r", "https://github.com/o/r"),
            ("git@github.com:o/r.git", "https://github.com/o/r"),
            ("github.com:o/r", "https://github.com/o/r"),
            ("ssh://git@host:22/o/r.git", "https://host/o/r"),
            (
                "ssh://user:pass@Host.Example/o/r",
                "https://host.example/o/r",
            ),
            ("git://host/o/r.git", "https://host/o/r"),
            (
                "https://host:8443/g/sub/p.git/",
                "https://host:8443/g/sub/p",
            ),
            ("https://host:443/o/r", "https://host/o/r"),
            ("http://intranet/o/r", "http://intranet/o/r"),
            (
                "https://gitlab.com/g/p.git?private_token=SECRET#frag",
                "https://gitlab.com/g/p",
            ),
            (
                "git@ssh.dev.azure.com:v3/org/proj/repo",
                "https://dev.azure.com/org/proj/_git/repo",
            ),
            ("https://u@p@host/o/r", "https://host/o/r"),
            ("user:SECRET@host:o/r.git", "https://host/o/r"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input).as_deref(), Some(want), "{input}");
        }
    }

    #[test]
    fn local_paths_are_not_urls() {
        for input in [
            "/srv/git/r.git",
            "../r",
            "file:///srv/r.git",
            "C:\\repo",
            "C:/repo",
            "",
            "host:SECRET@o/r",
        ] {
            assert_eq!(normalise(input), None, "{input}");
        }
    }

    #[test]
    fn forge_and_name() {
        assert!(is_forge("https://github.com/o/r"));
        assert!(!is_forge("https://git.example.com/o/r"));
        assert_eq!(repository_name("https://github.com/o/r"), Some("r"));
        assert_eq!(repository_name("https://host"), None);
    }
}
