//! The registry client proper: oci-client over reqwest and rustls (ring), on a
//! current-thread tokio runtime that exists only while a registry target is stamped.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::super::auth::{self, Lookup};
use super::super::layout::{Plan, Source};
use super::super::oci::{self, DocKind, Stamp};
use super::super::Outcome;
use super::{Options, RegistryTarget, Tagged};
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
fn read_certificates(path: &Path) -> Result<Vec<Certificate>, Error> {
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
        certs.push(Certificate {
            encoding: CertificateEncoding::Pem,
            data: pem,
        });
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

/// An error and its causes on one line (reqwest keeps the useful part in the sources).
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

/// A connection to one repository of one registry.
struct Connection {
    runtime: tokio::runtime::Runtime,
    client: Client,
    auth: RegistryAuth,
    /// Where the credentials came from (`None`: anonymous), and notes on entries skipped.
    lookup: Lookup,
    reference: Reference,
    name: String,
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
        let registry = self.reference.registry();
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
    fn describe(&self, doing: &str, e: OciDistributionError) -> Error {
        let denied = |envelope: &oci_client::errors::OciEnvelope| {
            envelope
                .errors
                .iter()
                .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied))
        };
        let message = match &e {
            OciDistributionError::UnauthorizedError { .. } => {
                format!(
                    "{doing}: access denied (HTTP 401): {}",
                    self.credentials_hint()
                )
            }
            OciDistributionError::ServerError {
                code: 401 | 403, ..
            } => {
                format!("{doing}: access denied: {}", self.credentials_hint())
            }
            OciDistributionError::RegistryError { envelope, .. } if denied(envelope) => {
                format!(
                    "{doing}: access denied ({}): {}",
                    scrub(&envelope.to_string()),
                    self.credentials_hint()
                )
            }
            OciDistributionError::AuthenticationFailure(reason) => format!(
                "{doing}: the registry's token service refused {} ({}): {}",
                if self.lookup.credentials.is_some() {
                    "the credentials"
                } else {
                    "anonymous access"
                },
                scrub(reason),
                self.credentials_hint()
            ),
            OciDistributionError::RegistryError { envelope, .. } => {
                format!("{doing}: {}", scrub(&envelope.to_string()))
            }
            OciDistributionError::ServerError { code, .. } => {
                format!("{doing}: HTTP {code} ({})", status_reason(*code))
            }
            OciDistributionError::RequestError(r) => {
                let why = scrub(&chain(r));
                let hint = if why.contains("certificate") {
                    " (trust the registry's CA with --ca-file FILE or SSL_CERT_FILE)"
                } else {
                    ""
                };
                format!(
                    "{doing}: cannot reach {}: {why}{hint}",
                    self.reference.resolve_registry()
                )
            }
            other => format!("{doing}: {}", scrub(&chain(other))),
        };
        self.error(message)
    }

    /// The same repository at `digest`.
    fn at_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.reference.registry().to_string(),
            self.reference.repository().to_string(),
            digest.to_string(),
        )
    }

    /// The same repository at `tag`.
    fn at_tag(&self, tag: &str) -> Reference {
        Reference::with_tag(
            self.reference.registry().to_string(),
            self.reference.repository().to_string(),
            tag.to_string(),
        )
    }

    fn pull_manifest(&self, reference: &Reference) -> Result<Vec<u8>, OciDistributionError> {
        let (bytes, _) = self
            .runtime
            .block_on(self.client.pull_manifest_raw(reference, &self.auth, ACCEPT))?;
        Ok(bytes.to_vec())
    }

    /// Authenticates and fetches the target's manifest.
    fn fetch_root(&self) -> Result<Vec<u8>, OciDistributionError> {
        self.runtime.block_on(self.client.auth(
            &self.reference,
            &self.auth,
            RegistryOperation::Pull,
        ))?;
        self.pull_manifest(&self.reference)
    }

    fn push(
        &self,
        reference: &Reference,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<(), OciDistributionError> {
        let content_type = media_type
            .parse()
            .map_err(|_| OciDistributionError::GenericError(Some("bad media type".into())))?;
        self.runtime.block_on(self.client.push_manifest_raw(
            reference,
            bytes.to_vec(),
            content_type,
        ))?;
        Ok(())
    }
}

/// Opens a connection and fetches the target's manifest: over HTTPS, and when that cannot
/// connect and plain HTTP is allowed (`--insecure`, or a loopback registry), over HTTP.
fn connect(
    target: &RegistryTarget,
    reference: &Reference,
    opts: &Options,
) -> Result<(Connection, Vec<u8>), Error> {
    let reference = reference.clone();
    let registry = reference.resolve_registry().to_string();
    let name = target.given.clone();
    let fail = |message: String| Error::Registry {
        target: name.clone(),
        message,
    };
    let lookup = auth::lookup(opts.env, reference.registry(), reference.repository())?;
    let auth = match &lookup.credentials {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    };
    let mut certificates = Vec::new();
    for path in &opts.ca_files {
        certificates.extend(read_certificates(path)?);
    }
    if let Some(file) = opts.env.get("SSL_CERT_FILE") {
        certificates.extend(read_certificates(Path::new(file))?);
    }
    // rustls is built with ring only; install it once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let open = |protocol: ClientProtocol| -> Result<Connection, Error> {
        let config = ClientConfig {
            protocol,
            extra_root_certificates: certificates.clone(),
            connect_timeout: Some(Duration::from_secs(15)),
            read_timeout: Some(Duration::from_secs(120)),
            user_agent: concat!("oci-stamp/", env!("CARGO_PKG_VERSION")),
            max_concurrent_download: 1,
            max_concurrent_upload: 1,
            ..ClientConfig::default()
        };
        let client = Client::try_from(config)
            .map_err(|e| fail(format!("cannot set up the HTTP client: {}", chain(&e))))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| fail(format!("cannot start the I/O runtime: {e}")))?;
        Ok(Connection {
            runtime,
            client,
            auth: auth.clone(),
            lookup: Lookup {
                credentials: lookup.credentials.clone(),
                notes: lookup.notes.clone(),
            },
            reference: reference.clone(),
            name: name.clone(),
        })
    };
    let doing = format!(
        "fetching {}",
        match reference.digest() {
            Some(d) => d.to_string(),
            None => format!("tag `{}`", reference.tag().unwrap_or("latest")),
        }
    );
    let https = open(ClientProtocol::Https)?;
    let first = https.fetch_root();
    let https_error = match first {
        Ok(bytes) => return Ok((https, bytes)),
        Err(e @ OciDistributionError::RequestError(_))
            if opts.insecure || is_loopback(&registry) =>
        {
            https.describe(&doing, e)
        }
        Err(e) => return Err(not_found(&https, &doing, e)),
    };
    let http = open(ClientProtocol::Http)?;
    match http.fetch_root() {
        Ok(bytes) => Ok((http, bytes)),
        // A TLS server answers plain HTTP with 400: the HTTPS error is the one that counts.
        Err(OciDistributionError::ServerError { code: 400, .. }) => Err(https_error),
        Err(e) => Err(not_found(&http, &doing, e)),
    }
}

/// A missing tag or manifest named as such.
fn not_found(conn: &Connection, doing: &str, e: OciDistributionError) -> Error {
    let has = |code: OciErrorCode| match &e {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().any(|e| e.code == code)
        }
        _ => false,
    };
    let no_repository = has(OciErrorCode::NameUnknown);
    let unknown = no_repository
        || has(OciErrorCode::ManifestUnknown)
        || matches!(
            e,
            OciDistributionError::ServerError { code: 404, .. }
                | OciDistributionError::ImageManifestNotFoundError(_)
        );
    if unknown {
        let what = match conn.reference.digest() {
            _ if no_repository => format!("no repository `{}`", conn.reference.repository()),
            Some(d) => format!("no manifest {d}"),
            None => format!("no tag `{}`", conn.reference.tag().unwrap_or("latest")),
        };
        return conn.error(format!(
            "{what} in {}/{}",
            conn.reference.registry(),
            conn.reference.repository()
        ));
    }
    conn.describe(doing, e)
}

/// A failed push, with a hint when the registry found the manifest too large.
fn push_error(conn: &Connection, doing: &str, e: OciDistributionError) -> Error {
    let too_large = match &e {
        OciDistributionError::ServerError { code: 413, .. } => true,
        other => other.to_string().contains("too large"),
    };
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
        let mut out: Vec<u8> = Vec::new();
        let conn = self.conn;
        conn.runtime
            .block_on(
                conn.client
                    .pull_blob(&conn.at_digest(digest), digest, &mut out),
            )
            .map_err(|e| conn.describe(&format!("fetching blob {digest}"), e))?;
        self.verified(digest, out)
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
    match reference.digest() {
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
    if let Some(d) = reference.digest() {
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
    let tag = opts.tag.clone().or_else(|| match reference.digest() {
        Some(_) => None,
        None => Some(reference.tag().unwrap_or("latest").to_string()),
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
        let referrers = conn
            .runtime
            .block_on(conn.client.pull_referrers(&conn.at_digest(digest), None));
        if let Ok(index) = referrers {
            if !index.manifests.is_empty() {
                plan.warnings.push(
                    Diagnostic::warning(
                        "subject-stale",
                        "",
                        format!(
                            "{}: {} signature(s) or attestation(s) refer to {digest}, whose digest changed",
                            target.given,
                            index.manifests.len()
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
    if reference.digest().is_none() && reference.tag() == Some(tag.as_str()) {
        // Registries have no compare-and-swap for tags: check just before moving it that
        // nobody pushed to it since it was read, so such a push is not silently undone.
        let now = conn
            .runtime
            .block_on(conn.client.fetch_manifest_digest(&tag_ref, &conn.auth))
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
        .runtime
        .block_on(conn.client.fetch_manifest_digest(&tag_ref, &conn.auth))
        .map_err(|e| conn.describe(&format!("checking tag `{tag}`"), e))?;
    if stored != final_digest {
        return Err(conn.error(format!(
            "tag `{tag}` now names {stored}, not the {final_digest} that was pushed (did something else push at the same time?)"
        )));
    }
    outcome.written = true;
    outcome.tagged = Some(Tagged {
        reference: format!("{}/{}:{tag}", reference.registry(), reference.repository()),
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
    let root_digest = match reference.digest() {
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
