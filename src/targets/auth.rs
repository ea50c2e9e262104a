//! Registry credentials, found where users already keep them: podman's and skopeo's
//! `auth.json` (`REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
//! `~/.config/containers/auth.json`) and Docker's `config.json` (`$DOCKER_CONFIG`,
//! `~/.docker`), through `auths` entries, `credHelpers` and `credsStore`
//! (`docker-credential-NAME get`).
//!
//! A credential never reaches a message: errors and notes name the file or the helper a
//! credential came from, never its value, and [`Credentials`] prints as `***`.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine as _;

use crate::env::Env;
use crate::error::Error;

/// A user name and password (or token) for one registry.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: String,
    /// Where they came from, for messages: a file, or `docker-credential-NAME`.
    pub(crate) from: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credentials(*** from {})", self.from)
    }
}

/// What the lookup found: credentials, or nothing (with notes on what was skipped).
#[derive(Debug, Default)]
pub(crate) struct Lookup {
    pub(crate) credentials: Option<Credentials>,
    /// Entries that were found but cannot be used (an identity token), for the hint of an
    /// access-denied error.
    pub(crate) notes: Vec<String>,
}

/// The hosts Docker Hub goes by in credential files.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The files to search, in order: containers' `auth.json` files, then Docker's.
pub(crate) fn auth_files(env: &Env) -> Vec<PathBuf> {
    let home = env.get("HOME").map(PathBuf::from);
    let mut files = Vec::new();
    if let Some(f) = env.get("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(f));
    } else if let Some(run) = env.get("XDG_RUNTIME_DIR") {
        files.push(Path::new(run).join("containers/auth.json"));
    }
    match env.get("XDG_CONFIG_HOME") {
        Some(c) => files.push(Path::new(c).join("containers/auth.json")),
        None => files.extend(
            home.as_ref()
                .map(|h| h.join(".config/containers/auth.json")),
        ),
    }
    match env.get("DOCKER_CONFIG") {
        Some(d) => files.push(Path::new(d).join("config.json")),
        None => files.extend(home.as_ref().map(|h| h.join(".docker/config.json"))),
    }
    files
}

/// A key of `auths` as the host (and path, for podman's `host/namespace` keys) it names:
/// no scheme, no trailing `/`, no Docker `/v1/` API suffix.
fn normalise_key(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key)
        .trim_end_matches('/');
    let key = key
        .strip_suffix("/v1")
        .or_else(|| key.strip_suffix("/v2"))
        .unwrap_or(key);
    key.to_ascii_lowercase()
}

/// The names a credential for `registry`/`repository` may be stored under, most specific
/// first: `host/repo/path`, `host/repo`, …, `host` (and Docker Hub's aliases).
fn candidates(registry: &str, repository: &str) -> Vec<String> {
    let registry = registry.to_ascii_lowercase();
    let hosts: Vec<String> = if DOCKER_HUB.contains(&registry.as_str()) {
        DOCKER_HUB.iter().map(|h| (*h).to_string()).collect()
    } else {
        vec![registry]
    };
    let mut out = Vec::new();
    let parts: Vec<&str> = repository.split('/').collect();
    for n in (1..=parts.len()).rev() {
        for h in &hosts {
            out.push(format!("{h}/{}", parts[..n].join("/")));
        }
    }
    out.extend(hosts);
    out
}

/// The server address a credential helper is asked about.
fn helper_server(registry: &str) -> String {
    if DOCKER_HUB.contains(&registry.to_ascii_lowercase().as_str()) {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

/// How long a credential helper may take to answer, in seconds (default 30).
const HELPER_TIMEOUT_VAR: &str = "OCI_STAMP_HELPER_TIMEOUT";

/// The helpers' time limit: `OCI_STAMP_HELPER_TIMEOUT` seconds, else 30.
fn helper_timeout(env: &Env) -> Duration {
    let secs = env
        .get(HELPER_TIMEOUT_VAR)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(30);
    Duration::from_secs(secs)
}

/// Waits for a helper's output, at most `timeout`: `None` (the helper killed and reaped)
/// when it has not exited by then.
fn wait_for_helper(
    mut child: std::process::Child,
    timeout: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    use std::io::Read as _;
    let mut stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(out) = stdout.as_mut() {
            let _ = out.read_to_end(&mut bytes);
        }
        bytes
    });
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            // The reader ends when the pipe closes (a grandchild holding it open would keep
            // the thread, not the run, waiting).
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().unwrap_or_default();
    Ok(Some(std::process::Output {
        status,
        stdout,
        stderr: Vec::new(),
    }))
}

/// Asks `docker-credential-NAME get` for `server`'s credentials; `None` when it has none.
fn run_helper(
    name: &str,
    server: &str,
    lookup: &mut Lookup,
    timeout: Duration,
) -> Result<(), Error> {
    let program = format!("docker-credential-{name}");
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(Error::Usage(format!(
            "credential helper `{}` is not a helper name",
            name.escape_debug()
        )));
    }
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            Error::Usage(format!(
                "cannot run the credential helper `{program}` configured for {server}: {e}"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is answered by its status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = wait_for_helper(child, timeout)
        .map_err(|e| Error::Usage(format!("the credential helper `{program}` failed: {e}")))?
        .ok_or_else(|| {
            Error::Usage(format!(
                "the credential helper `{program}` did not answer for {server} within {} s; it was stopped (is it waiting for a prompt or a locked keychain? {HELPER_TIMEOUT_VAR} sets the limit)",
                timeout.as_secs()
            ))
        })?;
    if !out.status.success() {
        // "credentials not found in native keychain": anonymous access. Its output is not
        // shown: a helper's words are not ours to print.
        lookup
            .notes
            .push(format!("`{program}` has no credentials for {server}"));
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    struct Reply {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let reply: Reply = serde_json::from_slice(&out.stdout).map_err(|_| {
        Error::Usage(format!(
            "the credential helper `{program}` answered something other than its JSON"
        ))
    })?;
    if reply.username == "<token>" {
        lookup.notes.push(format!(
            "`{program}` holds an identity token for {server}, which oci-stamp cannot use; log in with a user name and password or access token"
        ));
        return Ok(());
    }
    if !reply.secret.is_empty() {
        lookup.credentials = Some(Credentials {
            username: reply.username,
            password: reply.secret,
            from: program,
        });
    }
    Ok(())
}

/// The credentials in one `auths` entry, if it holds any.
fn from_entry(
    entry: &serde_json::Value,
    file: &Path,
    key: &str,
    lookup: &mut Lookup,
) -> Option<Credentials> {
    let from = file.display().to_string();
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
        if !auth.is_empty() {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            match decoded.as_deref().and_then(|d| d.split_once(':')) {
                Some((user, password)) => {
                    return Some(Credentials {
                        username: user.to_string(),
                        password: password.to_string(),
                        from,
                    })
                }
                None => lookup.notes.push(format!(
                    "{from}: the `auth` of `{key}` is not base64 of USER:PASSWORD"
                )),
            }
        }
    }
    let user = entry.get("username").and_then(|u| u.as_str());
    let password = entry.get("password").and_then(|p| p.as_str());
    if let (Some(user), Some(password)) = (user, password) {
        if !password.is_empty() {
            return Some(Credentials {
                username: user.to_string(),
                password: password.to_string(),
                from,
            });
        }
    }
    if entry
        .get("identitytoken")
        .and_then(|t| t.as_str())
        .is_some_and(|t| !t.is_empty())
    {
        lookup.notes.push(format!(
            "{from}: `{key}` holds an identity token, which oci-stamp cannot use; log in with a user name and password or access token"
        ));
    }
    None
}

/// Looks up the credentials for `registry` (`host[:port]`) and `repository`.
pub(crate) fn lookup(env: &Env, registry: &str, repository: &str) -> Result<Lookup, Error> {
    let mut lookup = Lookup::default();
    let timeout = helper_timeout(env);
    let names = candidates(registry, repository);
    let host = registry.to_ascii_lowercase();
    for file in auth_files(env) {
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&file, e)),
        };
        // The file's content is never quoted in a message: it holds secrets.
        let config: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::BadInput {
                path: file.clone(),
                message: format!(
                    "not a JSON credentials file (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
        if let Some(helpers) = config.get("credHelpers").and_then(|h| h.as_object()) {
            let helper = helpers
                .iter()
                .find(|(k, _)| names.contains(&normalise_key(k)) || normalise_key(k) == host)
                .and_then(|(_, v)| v.as_str());
            if let Some(helper) = helper {
                run_helper(helper, &helper_server(registry), &mut lookup, timeout)?;
                if lookup.credentials.is_some() {
                    return Ok(lookup);
                }
            }
        }
        if let Some(auths) = config.get("auths").and_then(|a| a.as_object()) {
            for name in &names {
                let entry = auths.iter().find(|(k, _)| normalise_key(k) == *name);
                if let Some((key, entry)) = entry {
                    if let Some(c) = from_entry(entry, &file, key, &mut lookup) {
                        lookup.credentials = Some(c);
                        return Ok(lookup);
                    }
                }
            }
        }
        if let Some(store) = config.get("credsStore").and_then(|s| s.as_str()) {
            if !store.is_empty() {
                run_helper(store, &helper_server(registry), &mut lookup, timeout)?;
                if lookup.credentials.is_some() {
                    return Ok(lookup);
                }
            }
        }
    }
    Ok(lookup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        )
    }

    #[test]
    fn keys_are_hosts_or_paths() {
        assert_eq!(
            normalise_key("https://index.docker.io/v1/"),
            "index.docker.io"
        );
        assert_eq!(normalise_key("quay.io/org/"), "quay.io/org");
        assert_eq!(normalise_key("LOCALHOST:5000"), "localhost:5000");
        assert_eq!(
            candidates("quay.io", "org/app"),
            ["quay.io/org/app", "quay.io/org", "quay.io"]
        );
        assert!(candidates("docker.io", "library/alpine").contains(&"index.docker.io".into()));
    }

    #[test]
    fn docker_and_podman_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("run/containers")).unwrap();
        std::fs::create_dir_all(d.join("home/.docker")).unwrap();
        // podman: a namespace-specific entry; Docker: user/password and base64 auth.
        std::fs::write(
            d.join("run/containers/auth.json"),
            r#"{"auths":{"quay.io/team":{"auth":"dGVhbTpzM2NyZXQ="}}}"#,
        )
        .unwrap();
        std::fs::write(
            d.join("home/.docker/config.json"),
            r#"{"auths":{"https://quay.io":{"username":"u","password":"p"},"reg.example:5000":{"identitytoken":"x"}}}"#,
        )
        .unwrap();
        let e = env(&[
            ("HOME", d.join("home").to_str().unwrap()),
            ("XDG_RUNTIME_DIR", d.join("run").to_str().unwrap()),
        ]);
        let team = lookup(&e, "quay.io", "team/app")
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(
            (team.username.as_str(), team.password.as_str()),
            ("team", "s3cret")
        );
        assert!(!format!("{team:?}").contains("s3cret"));
        let other = lookup(&e, "quay.io", "other/app")
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(
            (other.username.as_str(), other.password.as_str()),
            ("u", "p")
        );
        let token = lookup(&e, "reg.example:5000", "a").unwrap();
        assert!(token.credentials.is_none());
        assert!(
            token.notes[0].contains("identity token"),
            "{:?}",
            token.notes
        );
        let none = lookup(&e, "ghcr.io", "a").unwrap();
        assert!(none.credentials.is_none() && none.notes.is_empty());
        // REGISTRY_AUTH_FILE replaces the runtime file.
        let only = env(&[
            ("HOME", d.join("nohome").to_str().unwrap()),
            ("XDG_RUNTIME_DIR", d.join("run").to_str().unwrap()),
            (
                "REGISTRY_AUTH_FILE",
                d.join("home/.docker/config.json").to_str().unwrap(),
            ),
        ]);
        let c = lookup(&only, "quay.io", "team/app")
            .unwrap()
            .credentials
            .unwrap();
        assert_eq!(c.username, "u");
    }

    #[test]
    fn a_broken_file_is_named_but_not_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("auth.json");
        std::fs::write(&f, r#"{"auths":{"h":{"auth":"c2VjcmV0"}}"#).unwrap();
        let e = env(&[("REGISTRY_AUTH_FILE", f.to_str().unwrap())]);
        let err = lookup(&e, "h", "r").unwrap_err().to_string();
        assert!(
            err.contains("auth.json") && !err.contains("c2VjcmV0"),
            "{err}"
        );
    }
}
