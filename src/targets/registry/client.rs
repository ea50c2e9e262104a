//! The registry client proper: the few distribution API calls oci-stamp makes (manifests
//! by tag or digest, an image config blob, the referrers API, pushing manifests), over
//! ureq's blocking HTTP with rustls (ring). Token auth (`WWW-Authenticate: Bearer …`) and
//! basic auth are answered here; redirects are followed here too, and credentials only go
//! along to the same scheme, host and port.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use ureq::http;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use super::super::auth::{self, Lookup};
use super::super::layout::{Plan, Source};
use super::super::oci::{self, DocKind, Stamp};
use super::super::Outcome;
use super::{Options, RegistryTarget, Tagged};
use crate::annotations::reference::ImageReference as Reference;
use crate::annotations::Diagnostic;
use crate::error::Error;
use crate::json_edit;

/// What `annotate` accepts for a manifest: every schema, so that Docker ones are refused
/// by name rather than converted or missed.
const ACCEPT: &[&str] = &[
    oci::OCI_MANIFEST,
    oci::OCI_INDEX,
    oci::DOCKER_MANIFEST,
    oci::DOCKER_LIST,
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.docker.distribution.manifest.v1+json",
];

/// Whether plain HTTP may be tried for `host` without `--insecure`: loopback only.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The PEM certificates in a file, one [`Certificate`] each (a bundle holds many).
fn read_certificates(path: &Path) -> Result<Vec<Certificate<'static>>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut certs = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(BEGIN) {
        let Some(len) = rest[start..].find(END) else {
            break;
        };
        let end = start + len + END.len();
        let mut pem = rest.as_bytes()[start..end].to_vec();
        pem.push(b'\n');
        let cert = Certificate::from_pem(&pem).map_err(|e| Error::BadInput {
            path: path.to_path_buf(),
            message: format!("a certificate that cannot be read: {e}"),
        })?;
        certs.push(cert);
        rest = &rest[end..];
    }
    if certs.is_empty() {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            message: "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".into(),
        });
    }
    Ok(certs)
}

/// An error and its causes on one line (the useful part is often in the sources).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    s
}

/// Shortens what a server said to one line of reasonable length.
fn clip(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() > 300 {
        format!("{}…", line.chars().take(300).collect::<String>())
    } else {
        line
    }
}

/// What a registry or token service said, fit to print: its words with anything
/// credential-shaped removed. A server may echo the request it got (an `Authorization`
/// header, `Basic` and base64 of `user:password`, a bearer token), so the words after
/// `Basic`, `Bearer`, `Authorization`, `token`, `password` or `secret`, long runs of
/// base64- or token-like characters (but digests), and URL credentials become `***`.
fn scrub(text: &str) -> String {
    let text = crate::annotations::validate::redact_text(&clip(text));
    let is_token_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '_' | '-' | '.' | '~');
    let mut out = Vec::new();
    let mut hide_next = false;
    for word in text.split(' ') {
        let bare = word.trim_matches(|c: char| !is_token_char(c) || c == '.');
        let lower = bare.to_ascii_lowercase();
        let digest = word.contains("sha256:") || word.contains("sha512:");
        let tokenish = bare.len() >= 16
            && bare.chars().all(is_token_char)
            && bare.chars().any(|c| c.is_ascii_digit())
            && bare.chars().any(|c| c.is_ascii_alphabetic());
        if (hide_next && !bare.is_empty()) || (tokenish && !digest) {
            out.push(word.replace(bare, "***"));
        } else {
            out.push(word.to_string());
        }
        hide_next = matches!(
            lower.as_str(),
            "basic" | "bearer" | "authorization" | "token" | "password" | "secret" | "cookie"
        ) || (hide_next && bare.is_empty());
    }
    out.join(" ")
}

/// The reason phrase of an HTTP status (a body is never printed: it may echo the request).
fn status_reason(code: u16) -> &'static str {
    match code {
        400 => "bad request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not found",
        405 => "method not allowed",
        409 => "conflict",
        413 => "payload too large",
        429 => "too many requests",
        500 => "internal server error",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        _ => "the registry refused the request",
    }
}

/// The most a manifest, an index, a referrers list or an image config may be: more than
/// any registry stores (distribution's limit for manifests is 4 MiB).
const MAX_DOCUMENT: u64 = 64 * 1024 * 1024;

/// Redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// What a registry call came to, when it was not what was asked for.
#[derive(Debug)]
enum Failure {
    /// No answer: cannot connect, TLS, an I/O error or a timeout.
    Transport(String),
    /// HTTP 401 to a request that carried what the registry asked for (or nothing).
    Unauthorized,
    /// Another status that is not success, with the distribution error envelope's
    /// `(code, message)` pairs when a 4xx answer had one.
    Status {
        code: u16,
        errors: Vec<(String, String)>,
    },
    /// The token service did not grant a token (what it said).
    Token(String),
    /// An answer that makes no sense (no token in it, bad JSON, a redirect without a place).
    Other(String),
}

impl Failure {
    fn has_code(&self, code: &str) -> bool {
        matches!(self, Failure::Status { errors, .. } if errors.iter().any(|(c, _)| c == code))
    }

    fn status(&self) -> Option<u16> {
        match self {
            Failure::Unauthorized => Some(401),
            Failure::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The envelope's errors as one line: `CODE: message; …`.
fn envelope_text(errors: &[(String, String)]) -> String {
    errors
        .iter()
        .map(|(code, message)| {
            if message.is_empty() {
                code.clone()
            } else {
                format!("{code}: {message}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The `errors` of a distribution error envelope (`{"errors":[{"code","message"}]}`).
fn envelope(body: &[u8]) -> Vec<(String, String)> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    value["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    let code = e["code"].as_str()?.to_string();
                    let message = e["message"].as_str().unwrap_or_default().to_string();
                    Some((code, message))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a `WWW-Authenticate` header asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Challenge {
    /// Nothing (the registry is open, or said nothing usable).
    None,
    /// HTTP basic auth.
    Basic,
    /// A token from `realm`, for `service` (and `scope`, when the challenge names one).
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Reads `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
fn parse_challenge(header: &str) -> Challenge {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Challenge::Basic;
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Challenge::None;
    }
    let params = auth_params(rest);
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    match get("realm") {
        Some(realm) if !realm.is_empty() => Challenge::Bearer {
            realm,
            service: get("service"),
            scope: get("scope"),
        },
        _ => Challenge::None,
    }
}

/// `key=value` and `key="quoted, \"value\""` pairs separated by commas (RFC 7235).
fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => break,
                        c => value.push(c),
                    }
                }
                // Anything up to the next comma is not part of the pair.
                while chars.peek().is_some_and(|c| *c != ',') {
                    chars.next();
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
                value = value.trim().to_string();
            }
        }
        out.push((key.trim().to_string(), value));
    }
    out
}

/// Whether a redirect from `from` to `to` keeps the same scheme, host and port (the
/// credentials go along only then).
fn same_origin(from: &url::Url, to: &url::Url) -> bool {
    from.scheme() == to.scheme()
        && from.host_str().map(str::to_ascii_lowercase)
            == to.host_str().map(str::to_ascii_lowercase)
        && from.port_or_known_default() == to.port_or_known_default()
}

/// What a registry call is for: the token scope it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Operation {
    Pull,
    Push,
}

/// An answer: its status, headers and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// This answer as a failure, unless it is a success.
    fn success(self) -> Result<Answer, Failure> {
        match self.status {
            200..=299 => Ok(self),
            401 => Err(Failure::Unauthorized),
            code @ 400..=499 => Err(Failure::Status {
                code,
                errors: envelope(&self.body),
            }),
            code => Err(Failure::Status {
                code,
                errors: Vec::new(),
            }),
        }
    }
}

/// A ureq error as one line, with its causes.
fn transport(e: ureq::Error) -> Failure {
    Failure::Transport(chain(&e))
}

/// A connection to one repository of one registry.
struct Connection {
    agent: ureq::Agent,
    /// `https://HOST` or `http://HOST`.
    base: String,
    /// Where the credentials came from (`None`: anonymous), and notes on entries skipped.
    lookup: Lookup,
    reference: Reference,
    name: String,
    /// What the registry asked for at `/v2/` (or at the last 401).
    challenge: RefCell<Challenge>,
    /// The `Authorization` value for each operation, once known.
    authorization: RefCell<BTreeMap<Operation, String>>,
}

impl Connection {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::Registry {
            target: self.name.clone(),
            message: message.into(),
        }
    }

    /// What to say about the credentials when access is denied.
    fn credentials_hint(&self) -> String {
        let registry = &self.reference.registry;
        let mut hint = match &self.lookup.credentials {
            Some(c) => format!(
                "the credentials for {registry} from {} were refused (check them, or log in again)",
                c.from
            ),
            None => format!(
                "no credentials for {registry} were found (`docker login {registry}` or `podman login {registry}`, REGISTRY_AUTH_FILE, ~/.docker/config.json)"
            ),
        };
        for note in &self.lookup.notes {
            hint.push_str("; ");
            hint.push_str(note);
        }
        hint
    }

    /// A registry error as one line, saying what was being done.
    fn describe(&self, doing: &str, e: Failure) -> Error {
        let denied = |errors: &[(String, String)]| {
            errors
                .iter()
                .any(|(code, _)| code == "UNAUTHORIZED" || code == "DENIED")
        };
        let message = match &e {
            Failure::Unauthorized => {
                format!(
                    "{doing}: access denied (HTTP 401): {}",
                    self.credentials_hint()
                )
            }
            Failure::Status { errors, .. } if denied(errors) => {
                format!(
                    "{doing}: access denied ({}): {}",
                    scrub(&envelope_text(errors)),
                    self.credentials_hint()
                )
            }
            Failure::Status { errors, .. } if !errors.is_empty() => {
                format!("{doing}: {}", scrub(&envelope_text(errors)))
            }
            Failure::Status {
                code: 401 | 403, ..
            } => {
                format!("{doing}: access denied: {}", self.credentials_hint())
            }
            Failure::Status { code, .. } => {
                format!("{doing}: HTTP {code} ({})", status_reason(*code))
            }
            Failure::Token(reason) => format!(
                "{doing}: the registry's token service refused {} ({}): {}",
                if self.lookup.credentials.is_some() {
                    "the credentials"
                } else {
                    "anonymous access"
                },
                scrub(reason),
                self.credentials_hint()
            ),
            Failure::Transport(why) => {
                let why = scrub(why);
                let hint = if why.contains("certificate") || why.contains("Certificate") {
                    " (trust the registry's CA with --ca-file FILE or SSL_CERT_FILE)"
                } else {
                    ""
                };
                format!(
                    "{doing}: cannot reach {}: {why}{hint}",
                    self.reference.api_host()
                )
            }
            Failure::Other(text) => format!("{doing}: {}", scrub(text)),
        };
        self.error(message)
    }

    /// The same repository at `digest`.
    fn at_digest(&self, digest: &str) -> Reference {
        self.reference.at_digest(digest)
    }

    /// The same repository at `tag`.
    fn at_tag(&self, tag: &str) -> Reference {
        self.reference.at_tag(tag)
    }

    /// One HTTP exchange, no redirect followed.
    fn exchange(
        &self,
        method: &http::Method,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        body: Option<&[u8]>,
    ) -> Result<Answer, Failure> {
        let mut request = http::Request::builder().method(method.clone()).uri(url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(a) = authorization {
            request = request.header("Authorization", a);
        }
        let response = match body {
            Some(bytes) => {
                let request = request
                    .body(bytes)
                    .map_err(|e| Failure::Other(e.to_string()))?;
                self.agent.run(request)
            }
            None => {
                let request = request
                    .body(())
                    .map_err(|e| Failure::Other(e.to_string()))?;
                self.agent.run(request)
            }
        };
        let mut response = response.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = if *method == http::Method::HEAD {
            Vec::new()
        } else {
            response
                .body_mut()
                .with_config()
                .limit(MAX_DOCUMENT)
                .read_to_vec()
                .map_err(transport)?
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A request to the registry, following redirects (the credentials only as far as the
    /// same scheme, host and port) and answering one 401 with what its challenge asks for.
    fn request(
        &self,
        method: http::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        operation: Operation,
    ) -> Result<Answer, Failure> {
        let first = format!("{}{path}", self.base);
        let mut url = url::Url::parse(&first).map_err(|e| Failure::Other(e.to_string()))?;
        let mut authorization = self.authorization(operation)?;
        let mut answered_challenge = false;
        let mut redirects = 0;
        let mut away = false;
        loop {
            let answer = self.exchange(
                &method,
                url.as_str(),
                headers,
                authorization.as_deref(),
                body,
            )?;
            let redirect = matches!(answer.status, 301 | 302 | 303 | 307 | 308);
            // A body goes along only where the method stays (307, 308).
            let follows = body.is_none() || matches!(answer.status, 307 | 308);
            if redirect && follows {
                let location = answer.header("location").ok_or_else(|| {
                    Failure::Other(format!("HTTP {} without a Location", answer.status))
                })?;
                let next = url
                    .join(location)
                    .map_err(|e| Failure::Other(format!("a redirect to a bad URL: {e}")))?;
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(Failure::Other(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )));
                }
                if !matches!(next.scheme(), "http" | "https") {
                    return Err(Failure::Other(
                        "a redirect to a URL that is not HTTP".into(),
                    ));
                }
                if !same_origin(&url, &next) {
                    authorization = None;
                    away = true;
                }
                url = next;
                continue;
            }
            if answer.status == 401 && !answered_challenge && !away {
                answered_challenge = true;
                if let Some(header) = answer.header("www-authenticate") {
                    let challenge = parse_challenge(header);
                    if challenge != Challenge::None {
                        *self.challenge.borrow_mut() = challenge;
                        self.authorization.borrow_mut().remove(&operation);
                        let again = self.authorization(operation)?;
                        if again.is_some() && again != authorization {
                            authorization = again;
                            continue;
                        }
                    }
                }
            }
            return Ok(answer);
        }
    }

    /// The `Authorization` value for `operation` under the current challenge: basic
    /// credentials, or a token fetched for the repository's scope.
    fn authorization(&self, operation: Operation) -> Result<Option<String>, Failure> {
        if let Some(a) = self.authorization.borrow().get(&operation) {
            return Ok(Some(a.clone()));
        }
        let challenge = self.challenge.borrow().clone();
        let value = match challenge {
            Challenge::None => return Ok(None),
            Challenge::Basic => match &self.lookup.credentials {
                Some(c) => basic(&c.username, &c.password),
                None => return Ok(None),
            },
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                let ours = format!(
                    "repository:{}:{}",
                    self.reference.repository,
                    match operation {
                        Operation::Pull => "pull",
                        Operation::Push => "pull,push",
                    }
                );
                let scope = match scope {
                    // What a 401 asked for, when it is about this repository.
                    Some(s)
                        if s.starts_with(&format!("repository:{}:", self.reference.repository)) =>
                    {
                        s
                    }
                    _ => ours,
                };
                format!("Bearer {}", self.token(&realm, service.as_deref(), &scope)?)
            }
        };
        self.authorization
            .borrow_mut()
            .insert(operation, value.clone());
        Ok(Some(value))
    }

    /// A token from the token service at `realm`, asked with the basic credentials when
    /// there are any.
    fn token(&self, realm: &str, service: Option<&str>, scope: &str) -> Result<String, Failure> {
        let mut url = url::Url::parse(realm)
            .map_err(|e| Failure::Token(format!("the token service's address: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Failure::Token(
                "the token service's address is not HTTP".into(),
            ));
        }
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("scope", scope);
            if let Some(s) = service {
                query.append_pair("service", s);
            }
        }
        let credentials = self
            .lookup
            .credentials
            .as_ref()
            .map(|c| basic(&c.username, &c.password));
        let answer = self
            .exchange(
                &http::Method::GET,
                url.as_str(),
                &[("Accept", "application/json")],
                credentials.as_deref(),
                None,
            )
            .map_err(|e| match e {
                Failure::Transport(why) => Failure::Token(format!(
                    "cannot reach it at {}: {why}",
                    url.host_str().unwrap_or_default()
                )),
                other => other,
            })?;
        if answer.status != 200 {
            let said = envelope(&answer.body);
            let said = if said.is_empty() {
                String::from_utf8_lossy(&answer.body).into_owned()
            } else {
                envelope_text(&said)
            };
            return Err(Failure::Token(format!(
                "HTTP {} ({}){}{}",
                answer.status,
                status_reason(answer.status),
                if said.trim().is_empty() { "" } else { ": " },
                said.trim()
            )));
        }
        let value: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            Failure::Token("the token service answered something that is not JSON".into())
        })?;
        value["token"]
            .as_str()
            .or(value["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| Failure::Token("the token service's answer holds no token".into()))
    }

    fn manifest_path(&self, reference: &Reference) -> String {
        format!(
            "/v2/{}/manifests/{}",
            reference.repository,
            reference.manifest_name()
        )
    }

    fn pull_manifest(&self, reference: &Reference) -> Result<Vec<u8>, Failure> {
        let accept = ACCEPT.join(", ");
        let answer = self
            .request(
                http::Method::GET,
                &self.manifest_path(reference),
                &[("Accept", &accept)],
                None,
                Operation::Pull,
            )?
            .success()?;
        Ok(answer.body)
    }

    /// Authenticates and fetches the target's manifest.
    fn fetch_root(&self) -> Result<Vec<u8>, Failure> {
        // The version check tells how to authenticate (and whether anyone answers).
        let answer = self.exchange(
            &http::Method::GET,
            &format!("{}/v2/", self.base),
            &[],
            None,
            None,
        )?;
        if answer.status == 401 {
            if let Some(header) = answer.header("www-authenticate") {
                *self.challenge.borrow_mut() = parse_challenge(header);
            }
        }
        self.authorization(Operation::Pull)?;
        self.pull_manifest(&self.reference)
    }

    /// The digest the registry gives for the manifest `reference` names (HEAD, or GET when
    /// the answer has no `Docker-Content-Digest`).
    fn manifest_digest(&self, reference: &Reference) -> Result<String, Failure> {
        let accept = ACCEPT.join(", ");
        let path = self.manifest_path(reference);
        let answer = self
            .request(
                http::Method::HEAD,
                &path,
                &[("Accept", &accept)],
                None,
                Operation::Pull,
            )?
            .success()?;
        if let Some(d) = answer.header("docker-content-digest") {
            return Ok(d.trim().to_string());
        }
        Ok(oci::sha256_digest(&self.pull_manifest(reference)?))
    }

    fn pull_blob(&self, digest: &str) -> Result<Vec<u8>, Failure> {
        let path = format!("/v2/{}/blobs/{digest}", self.reference.repository);
        Ok(self
            .request(http::Method::GET, &path, &[], None, Operation::Pull)?
            .success()?
            .body)
    }

    /// How many manifests refer to `digest` (the referrers API, else its `sha256-…` tag).
    fn referrers(&self, digest: &str) -> Result<usize, Failure> {
        let accept = [("Accept", oci::OCI_INDEX)];
        let path = format!("/v2/{}/referrers/{digest}", self.reference.repository);
        let answer = self.request(http::Method::GET, &path, &accept, None, Operation::Pull)?;
        let answer = if answer.status == 404 {
            let path = format!(
                "/v2/{}/manifests/{}",
                self.reference.repository,
                digest.replacen(':', "-", 1)
            );
            self.request(http::Method::GET, &path, &accept, None, Operation::Pull)?
        } else {
            answer
        };
        let answer = answer.success()?;
        let index: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|_| Failure::Other("the referrers list is not JSON".into()))?;
        Ok(index["manifests"].as_array().map_or(0, Vec::len))
    }

    fn push(&self, reference: &Reference, bytes: &[u8], media_type: &str) -> Result<(), Failure> {
        self.authorization(Operation::Push)?;
        self.request(
            http::Method::PUT,
            &self.manifest_path(reference),
            &[("Content-Type", media_type)],
            Some(bytes),
            Operation::Push,
        )?
        .success()?;
        Ok(())
    }
}

/// `Basic base64(USER:PASSWORD)`.
fn basic(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        oci::base64(format!("{username}:{password}").as_bytes())
    )
}

/// The rustls configuration: the system's roots (as rustls-native-certs finds them) and the
/// extra CA certificates; ring as the crypto provider.
fn tls_config(extra: &[Certificate<'static>]) -> TlsConfig {
    let mut roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    roots.extend(extra.iter().cloned());
    TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build()
}

/// Opens a connection and fetches the target's manifest: over HTTPS, and when that cannot
/// connect and plain HTTP is allowed (`--insecure`, or a loopback registry), over HTTP.
fn connect(
    target: &RegistryTarget,
    reference: &Reference,
    opts: &Options,
) -> Result<(Connection, Vec<u8>), Error> {
    let reference = reference.clone();
    let registry = reference.api_host().to_string();
    let name = target.given.clone();
    let lookup = auth::lookup(opts.env, &reference.registry, &reference.repository)?;
    let mut certificates = Vec::new();
    for path in &opts.ca_files {
        certificates.extend(read_certificates(path)?);
    }
    if let Some(file) = opts.env.get("SSL_CERT_FILE") {
        certificates.extend(read_certificates(Path::new(file))?);
    }
    let open = |https: bool| -> Connection {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .user_agent(concat!("oci-stamp/", env!("CARGO_PKG_VERSION")));
        if https {
            config = config.tls_config(tls_config(&certificates));
        }
        Connection {
            agent: ureq::Agent::new_with_config(config.build()),
            base: format!("{}://{registry}", if https { "https" } else { "http" }),
            lookup: Lookup {
                credentials: lookup.credentials.clone(),
                notes: lookup.notes.clone(),
            },
            reference: reference.clone(),
            name: name.clone(),
            challenge: RefCell::new(Challenge::None),
            authorization: RefCell::new(BTreeMap::new()),
        }
    };
    let doing = format!(
        "fetching {}",
        match &reference.digest {
            Some(d) => d.to_string(),
            None => format!("tag `{}`", reference.tag.as_deref().unwrap_or("latest")),
        }
    );
    let https = open(true);
    let first = https.fetch_root();
    let https_error = match first {
        Ok(bytes) => return Ok((https, bytes)),
        Err(e @ Failure::Transport(_)) if opts.insecure || is_loopback(&registry) => {
            https.describe(&doing, e)
        }
        Err(e) => return Err(not_found(&https, &doing, e)),
    };
    let http = open(false);
    match http.fetch_root() {
        Ok(bytes) => Ok((http, bytes)),
        // A TLS server answers plain HTTP with 400: the HTTPS error is the one that counts.
        Err(e) if e.status() == Some(400) => Err(https_error),
        Err(e) => Err(not_found(&http, &doing, e)),
    }
}

/// A missing tag or manifest named as such.
fn not_found(conn: &Connection, doing: &str, e: Failure) -> Error {
    let no_repository = e.has_code("NAME_UNKNOWN");
    let unknown = no_repository || e.has_code("MANIFEST_UNKNOWN") || e.status() == Some(404);
    if unknown {
        let what = match &conn.reference.digest {
            _ if no_repository => format!("no repository `{}`", conn.reference.repository),
            Some(d) => format!("no manifest {d}"),
            None => format!(
                "no tag `{}`",
                conn.reference.tag.as_deref().unwrap_or("latest")
            ),
        };
        return conn.error(format!(
            "{what} in {}/{}",
            conn.reference.registry, conn.reference.repository
        ));
    }
    conn.describe(doing, e)
}

/// A failed push, with a hint when the registry found the manifest too large.
fn push_error(conn: &Connection, doing: &str, e: Failure) -> Error {
    let too_large = e.status() == Some(413)
        || matches!(&e, Failure::Status { errors, .. } if envelope_text(errors).contains("too large"));
    match conn.describe(doing, e) {
        Error::Registry { target, message } if too_large => Error::Registry {
            target,
            message: format!(
                "{message} (the manifest is too large for the registry; registries accept at least 4 MiB, and many no more: the stamped manifest must stay under the limit)"
            ),
        },
        other => other,
    }
}

/// The documents of an image in a registry, fetched by digest (and kept: each is read once).
struct RegistrySource<'a> {
    conn: &'a Connection,
    name: PathBuf,
    cache: RefCell<BTreeMap<String, Vec<u8>>>,
}

impl RegistrySource<'_> {
    /// What was fetched before for `digest`; else checks the digest's grammar before it goes
    /// into a URL (`Ok(None)`: fetch it).
    fn cached(&self, digest: &str) -> Result<Option<Vec<u8>>, Error> {
        if let Some(b) = self.cache.borrow().get(digest) {
            return Ok(Some(b.clone()));
        }
        crate::annotations::reference::check_digest(digest).map_err(|e| {
            self.conn.error(format!(
                "descriptor digest `{}`: {e}",
                digest.escape_debug()
            ))
        })?;
        Ok(None)
    }

    fn verified(&self, digest: &str, bytes: Vec<u8>) -> Result<Vec<u8>, Error> {
        if oci::digest_like(digest, &bytes).is_some_and(|actual| actual != digest) {
            return Err(self.conn.error(format!(
                "{digest}: the registry sent content that does not match its digest"
            )));
        }
        self.cache
            .borrow_mut()
            .insert(digest.to_string(), bytes.clone());
        Ok(bytes)
    }
}

impl Source for RegistrySource<'_> {
    fn name(&self) -> &Path {
        &self.name
    }

    fn location(&self, digest: &str) -> PathBuf {
        PathBuf::from(format!("{}@{digest}", self.name.display()))
    }

    fn manifest(&self, digest: &str, _media_type: Option<&str>) -> Result<Vec<u8>, Error> {
        if let Some(b) = self.cached(digest)? {
            return Ok(b);
        }
        let bytes = self
            .conn
            .pull_manifest(&self.conn.at_digest(digest))
            .map_err(|e| self.conn.describe(&format!("fetching {digest}"), e))?;
        self.verified(digest, bytes)
    }

    fn blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        if let Some(b) = self.cached(digest)? {
            return Ok(b);
        }
        let bytes = self
            .conn
            .pull_blob(digest)
            .map_err(|e| self.conn.describe(&format!("fetching blob {digest}"), e))?;
        self.verified(digest, bytes)
    }
}

/// The media type to push a document under: its own, else its kind's.
fn media_type_of(text: &str) -> Option<&'static str> {
    let root = json_edit::parse(text).ok()?;
    match root.get_str("mediaType") {
        Some(oci::OCI_MANIFEST) => Some(oci::OCI_MANIFEST),
        Some(oci::OCI_INDEX) => Some(oci::OCI_INDEX),
        Some(oci::DOCKER_MANIFEST) => Some(oci::DOCKER_MANIFEST),
        Some(oci::DOCKER_LIST) => Some(oci::DOCKER_LIST),
        _ => match oci::doc_kind(&root, None) {
            DocKind::Manifest => Some(oci::OCI_MANIFEST),
            DocKind::Index => Some(oci::OCI_INDEX),
            _ => None,
        },
    }
}

/// The digest of the manifest (or index) `reference` names, as its registry serves it:
/// fetched with the same connection rules and credentials as a target.
pub(super) fn manifest_digest(
    target: &RegistryTarget,
    reference: &Reference,
    opts: &Options,
) -> Result<String, Error> {
    let (conn, bytes) = connect(target, reference, opts)?;
    let digest = oci::sha256_digest(&bytes);
    match reference.digest.as_deref() {
        Some(d) if oci::digest_like(d, &bytes).unwrap_or_else(|| digest.clone()) != d => Err(conn
            .error(format!(
                "the registry sent a manifest that does not hash to {d}"
            ))),
        Some(d) => Ok(d.to_string()),
        None => Ok(digest),
    }
}

/// Stamps the image at a registry reference.
pub(super) fn annotate(
    target: &RegistryTarget,
    reference: &Reference,
    stamp: &Stamp,
    opts: &Options,
    dry_run: bool,
) -> Result<Outcome, Error> {
    let (conn, root_bytes) = connect(target, reference, opts)?;
    let mut root_digest = oci::sha256_digest(&root_bytes);
    if let Some(d) = reference.digest.as_deref() {
        let actual = oci::digest_like(d, &root_bytes).unwrap_or_else(|| root_digest.clone());
        if d != actual {
            return Err(conn.error(format!(
                "the registry sent a manifest that hashes to {actual}, not {d}"
            )));
        }
        // A sha512 reference: the document keeps its name (it is fetched and cached by it).
        root_digest = actual;
    }
    let root_text = String::from_utf8(root_bytes.clone())
        .map_err(|_| conn.error("the manifest is not UTF-8 JSON"))?;
    let source = RegistrySource {
        conn: &conn,
        name: PathBuf::from(&target.given),
        cache: RefCell::new(BTreeMap::from([(root_digest.clone(), root_bytes)])),
    };
    let desc_text = format!(r#"{{"digest":"{root_digest}","size":{}}}"#, root_text.len());
    let desc = json_edit::parse(&desc_text).map_err(|e| conn.error(e.to_string()))?;
    let mut plan = Plan::new(&source, stamp);
    let new_root = plan.visit(&desc, 0)?;
    plan.refuse_missing_levels(
        "a registry has no index.json (index-descriptor exists only in an OCI layout)",
    );
    let tag = opts.tag.clone().or_else(|| match reference.digest {
        Some(_) => None,
        None => Some(reference.tag.as_deref().unwrap_or("latest").to_string()),
    });
    if tag.is_none() && new_root.is_some() {
        plan.refusals.push(
            Diagnostic::error(
                "digest-reference",
                "",
                format!(
                    "{}: an image addressed by digest cannot change in place (its digest is its content)",
                    target.given
                ),
            )
            .hint("write the stamped image under a tag with --tag NEW"),
        );
    }
    if !plan.refusals.is_empty() {
        return Ok(Outcome::refused(
            Path::new(&target.given),
            std::mem::take(&mut plan.refusals),
        ));
    }
    // Signatures and attestations of a rewritten manifest refer to its old digest: those
    // met inside the image's indexes, and those the referrers API (or its tag) lists.
    let inside = plan.stale_subjects();
    plan.warnings.extend(inside);
    let old: Vec<String> = plan.changes.iter().map(|c| c.old.clone()).collect();
    for digest in &old {
        if let Ok(count) = conn.referrers(digest) {
            if count > 0 {
                plan.warnings.push(
                    Diagnostic::warning(
                        "subject-stale",
                        "",
                        format!(
                            "{}: {} signature(s) or attestation(s) refer to {digest}, whose digest changed",
                            target.given,
                            count
                        ),
                    )
                    .hint("sign or attest the new digest again"),
                );
            }
        }
    }
    let documents = std::mem::take(&mut plan.documents);
    let mut outcome = plan.outcome();
    let (final_digest, final_bytes, final_type) = match &new_root {
        Some((digest, _)) => {
            let doc = documents
                .iter()
                .find(|d| &d.digest == digest)
                .ok_or_else(|| conn.error("internal: the new top document is missing"))?;
            (digest.clone(), doc.bytes.clone(), doc.media_type)
        }
        None => (
            root_digest.clone(),
            root_text.clone().into_bytes(),
            media_type_of(&root_text).unwrap_or(oci::OCI_MANIFEST),
        ),
    };
    let Some(tag) = tag else {
        return Ok(outcome);
    };
    // Nothing to write when nothing changed and the tag stays where it is.
    if dry_run || (new_root.is_none() && opts.tag.is_none()) {
        return Ok(outcome);
    }
    for doc in documents.iter().filter(|d| d.digest != final_digest) {
        conn.push(&conn.at_digest(&doc.digest), &doc.bytes, doc.media_type)
            .map_err(|e| {
                push_error(
                    &conn,
                    &format!(
                        "pushing manifest {} ({} bytes; the tag was not moved)",
                        doc.digest,
                        doc.bytes.len()
                    ),
                    e,
                )
            })?;
    }
    let tag_ref = conn.at_tag(&tag);
    if reference.digest.is_none() && reference.tag.as_deref() == Some(tag.as_str()) {
        // Registries have no compare-and-swap for tags: check just before moving it that
        // nobody pushed to it since it was read, so such a push is not silently undone.
        let now = conn
            .manifest_digest(&tag_ref)
            .map_err(|e| conn.describe(&format!("checking tag `{tag}`"), e))?;
        if now != root_digest {
            return Err(conn.error(format!(
                "tag `{tag}` moved to {now} while this run stamped {root_digest}; nothing was retagged (run again)"
            )));
        }
    }
    conn.push(&tag_ref, &final_bytes, final_type).map_err(|e| {
        push_error(
            &conn,
            &format!(
                "pushing {final_digest} ({} bytes) as tag `{tag}` (the tag was not moved)",
                final_bytes.len()
            ),
            e,
        )
    })?;
    // The tag must now name exactly the bytes whose digest was printed.
    let stored = conn
        .manifest_digest(&tag_ref)
        .map_err(|e| conn.describe(&format!("checking tag `{tag}`"), e))?;
    if stored != final_digest {
        return Err(conn.error(format!(
            "tag `{tag}` now names {stored}, not the {final_digest} that was pushed (did something else push at the same time?)"
        )));
    }
    outcome.written = true;
    outcome.tagged = Some(Tagged {
        reference: format!("{}/{}:{tag}", reference.registry, reference.repository),
        digest: final_digest,
    });
    Ok(outcome)
}

/// Reads the image at a registry reference, as the stamping walk would go through it:
/// the same connection, credentials and digest checks as `annotate`; nothing is pushed.
pub(super) fn read(
    target: &RegistryTarget,
    reference: &Reference,
    opts: &Options,
) -> Result<(Vec<super::super::inspect::Placed>, Vec<Diagnostic>), Error> {
    let (conn, root_bytes) = connect(target, reference, opts)?;
    let root_digest = match reference.digest.as_deref() {
        Some(d) => {
            let actual =
                oci::digest_like(d, &root_bytes).unwrap_or_else(|| oci::sha256_digest(&root_bytes));
            if d != actual {
                return Err(conn.error(format!(
                    "the registry sent a manifest that hashes to {actual}, not {d}"
                )));
            }
            actual
        }
        None => oci::sha256_digest(&root_bytes),
    };
    let size = root_bytes.len();
    let source = RegistrySource {
        conn: &conn,
        name: PathBuf::from(&target.given),
        cache: RefCell::new(BTreeMap::from([(root_digest.clone(), root_bytes)])),
    };
    let desc_text = format!(r#"{{"digest":"{root_digest}","size":{size}}}"#);
    let desc = json_edit::parse(&desc_text).map_err(|e| conn.error(e.to_string()))?;
    let mut walk = super::super::inspect::Walk::new(&source);
    walk.visit(&desc, 0)?;
    Ok((walk.maps, walk.findings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "LOCALHOST",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["registry.example:5000", "10.0.0.1", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            }
        );
        // Unquoted values, spaces, other order, escapes, case.
        assert_eq!(
            parse_challenge(r#"bearer service=reg , realm="http://127.0.0.1:1/t?x=\"y\""#),
            Challenge::Bearer {
                realm: r#"http://127.0.0.1:1/t?x="y""#.into(),
                service: Some("reg".into()),
                scope: None,
            }
        );
        assert_eq!(parse_challenge(r#"Basic realm="fake""#), Challenge::Basic);
        assert_eq!(parse_challenge("BASIC"), Challenge::Basic);
        assert_eq!(parse_challenge(r#"Bearer service="x""#), Challenge::None);
        assert_eq!(parse_challenge("Negotiate abc"), Challenge::None);
        assert_eq!(parse_challenge(""), Challenge::None);
    }

    #[test]
    fn credentials_stay_on_one_origin() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(same_origin(
            &u("http://127.0.0.1:5000/v2/"),
            &u("http://127.0.0.1:5000/x")
        ));
        assert!(same_origin(
            &u("https://Reg.example/v2/"),
            &u("https://reg.example:443/x")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:5000/"),
            &u("http://127.0.0.1:5001/")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:5000/"),
            &u("http://localhost:5000/")
        ));
        assert!(!same_origin(
            &u("https://reg.example/"),
            &u("http://reg.example/")
        ));
    }

    #[test]
    fn error_envelopes() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}},{"code":"DENIED"}]}"#;
        let errors = envelope(body);
        assert_eq!(
            envelope_text(&errors),
            "MANIFEST_UNKNOWN: manifest unknown; DENIED"
        );
        assert!(envelope(b"not json").is_empty());
        assert!(envelope(br#"{"errors":"no"}"#).is_empty());
        let answer = |status: u16, body: &[u8]| Answer {
            status,
            headers: http::HeaderMap::new(),
            body: body.to_vec(),
        };
        assert!(answer(201, b"").success().is_ok());
        assert!(matches!(
            answer(401, body).success(),
            Err(Failure::Unauthorized)
        ));
        let e = answer(404, body).success().unwrap_err();
        assert!(e.has_code("MANIFEST_UNKNOWN") && e.status() == Some(404));
        // A 5xx body is never read: it may echo the request.
        assert!(matches!(
            answer(500, body).success(),
            Err(Failure::Status { code: 500, errors }) if errors.is_empty()
        ));
    }

    #[test]
    fn bundles_split_into_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ca.pem");
        std::fs::write(
            &f,
            "junk\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert_eq!(read_certificates(&f).unwrap().len(), 2);
        std::fs::write(&f, "nothing").unwrap();
        assert!(read_certificates(&f).is_err());
    }
}
