//! `oci-stamp annotate docker://…` against a real registry: Debian's `docker-registry`
//! (the CNCF distribution registry) on 127.0.0.1, a free port and its own storage, in three
//! setups — anonymous plain HTTP, htpasswd basic auth over TLS with a test CA, and bearer
//! tokens from a small token server in the test. Images go in with `skopeo copy oci:…
//! docker://…`; what `annotate` wrote is checked with `skopeo inspect --raw`, `skopeo copy`
//! back to a layout, and the registry's access log (no blob is uploaded).
//!
//! A test that needs docker-registry, skopeo, openssl or htpasswd fails when `CI` is set
//! and the tool is missing, and elsewhere prints a note and returns. Every server binds
//! 127.0.0.1 only and is stopped when its test ends.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::harness::{fixtures, have, sha256, to_map, Output, Repo, Sandbox};

const EPOCH: &str = "@1704164645";
const CREATED: &str = "2024-01-02T03:04:05Z";
const VERSION_KEY: &str = "org.opencontainers.image.version";
const USER: &str = "stamper";
const PASSWORD: &str = "pa55-w0rd-never-printed";

// ---------------------------------------------------------------------------------------
// Tools and files

fn have_registry_tools() -> bool {
    have("docker-registry") && have("skopeo")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"))
}

fn annotations(v: &Value) -> BTreeMap<String, String> {
    match v.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(a) => to_map(a),
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// A fixture layout of the corpus.
fn fixture_layout(name: &str) -> PathBuf {
    fixtures().join("layouts").join(name)
}

/// A repository with one commit, and `annotate --created @… ARGS` run in it.
fn repo(sb: &Sandbox) -> Repo<'_> {
    let repo = sb.repo("src");
    repo.write("README", "a project\n");
    repo.commit("initial");
    repo
}

// ---------------------------------------------------------------------------------------
// The registry

/// How a test registry is reached.
#[derive(Clone)]
enum Access {
    /// Anonymous, plain HTTP.
    Plain,
    /// htpasswd basic auth over TLS; the CA certificate that signed the server's.
    BasicTls { ca: PathBuf },
    /// Bearer tokens from the token server at this realm (plain HTTP).
    Token { realm: String, bundle: PathBuf },
}

struct Registry {
    dir: PathBuf,
    port: u16,
    access: Access,
    child: Arc<Mutex<Option<Child>>>,
    log: PathBuf,
    /// Listening on the IPv6 loopback (`[::1]`) instead of 127.0.0.1.
    ipv6: bool,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(addr: &str, child: &Arc<Mutex<Option<Child>>>, log: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if TcpStream::connect(addr).is_ok() {
            return true;
        }
        if let Some(c) = child.lock().unwrap().as_mut() {
            if c.try_wait().expect("poll registry").is_some() {
                let text = fs::read_to_string(log).unwrap_or_default();
                if text.contains("address already in use") {
                    return false;
                }
                panic!("docker-registry exited:\n{text}");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "docker-registry did not listen on {addr}:\n{}",
        fs::read_to_string(log).unwrap_or_default()
    );
}

impl Registry {
    fn start(sb: &Sandbox, name: &str, access: Access) -> Registry {
        let dir = sb.path().join(name);
        fs::create_dir_all(dir.join("storage")).expect("registry storage");
        for _ in 0..5 {
            let mut reg = Registry {
                dir: dir.clone(),
                port: free_port(),
                access: access.clone(),
                child: Arc::new(Mutex::new(None)),
                log: dir.join("registry.log"),
                ipv6: false,
            };
            if reg.spawn(sb) {
                return reg;
            }
        }
        panic!("no free port for docker-registry after 5 tries");
    }

    fn config(&self) -> String {
        let mut c = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: \"{}\"\n  secret: oci-stamp-test-secret\n",
            self.dir.join("storage").display(),
            self.host()
        );
        match &self.access {
            Access::Plain => {}
            Access::BasicTls { .. } => {
                c.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\nauth:\n  htpasswd:\n    realm: oci-stamp-test\n    path: {}\n",
                    self.dir.join("server.pem").display(),
                    self.dir.join("server.key").display(),
                    self.dir.join("htpasswd").display()
                ));
            }
            Access::Token { realm, bundle } => {
                c.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: oci-stamp-test-registry\n    issuer: oci-stamp-test-issuer\n    rootcertbundle: {}\n",
                    bundle.display()
                ));
            }
        }
        c
    }

    /// Starts the process; false when its port was taken meanwhile.
    fn spawn(&mut self, sb: &Sandbox) -> bool {
        let config = self.dir.join("config.yml");
        fs::write(&config, self.config()).expect("write registry config");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("registry log");
        let child = sb
            .command("docker-registry")
            .args(["serve", s(&config)])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        *self.child.lock().unwrap() = Some(child);
        wait_for_port(&self.host(), &self.child, &self.log)
    }

    /// Stops the process (the storage stays).
    fn stop(&self) {
        if let Some(mut c) = self.child.lock().unwrap().take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and storage.
    fn restart(&mut self, sb: &Sandbox) {
        self.stop();
        assert!(self.spawn(sb), "port {} was taken meanwhile", self.port);
    }

    fn host(&self) -> String {
        if self.ipv6 {
            format!("[::1]:{}", self.port)
        } else {
            format!("127.0.0.1:{}", self.port)
        }
    }

    fn reference(&self, repo_tag: &str) -> String {
        format!("docker://{}/{repo_tag}", self.host())
    }

    /// skopeo's options for this registry: TLS checks and credentials, for `role`
    /// (`src`, `dest` or `` for inspect).
    fn skopeo_options(&self, role: &str) -> Vec<String> {
        let flag = |name: &str| {
            if role.is_empty() {
                format!("--{name}")
            } else {
                format!("--{role}-{name}")
            }
        };
        match &self.access {
            Access::Plain | Access::Token { .. } => {
                let mut o = vec![format!("{}=false", flag("tls-verify"))];
                if matches!(self.access, Access::Token { .. }) {
                    o.push(format!("{}={USER}:{PASSWORD}", flag("creds")));
                }
                o
            }
            Access::BasicTls { ca } => {
                let certs = self.dir.join("certs.d");
                fs::create_dir_all(&certs).expect("cert dir");
                fs::copy(ca, certs.join("ca.crt")).expect("copy CA");
                vec![
                    format!("{}={}", flag("cert-dir"), certs.display()),
                    format!("{}={USER}:{PASSWORD}", flag("creds")),
                ]
            }
        }
    }

    /// `skopeo copy [--all] --preserve-digests FROM docker://REGISTRY/TO`.
    fn push(&self, sb: &Sandbox, from: &str, to: &str, extra: &[&str]) {
        let mut args: Vec<String> = ["--insecure-policy", "copy", "--all"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(self.skopeo_options("dest"));
        args.push(from.to_string());
        args.push(self.reference(to));
        sb.tool(
            "skopeo",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
    }

    /// `skopeo inspect --raw` of `repo_ref` (`repo:tag` or `repo@digest`).
    fn raw(&self, sb: &Sandbox, repo_ref: &str) -> String {
        let mut args = vec!["inspect".to_string(), "--raw".to_string()];
        args.extend(self.skopeo_options(""));
        args.push(self.reference(repo_ref));
        sb.tool(
            "skopeo",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    }

    /// `skopeo copy --all` of `repo_ref` into a new layout; panics unless every digest
    /// verifies. The layout's path.
    fn copy_out(&self, sb: &Sandbox, repo_ref: &str, name: &str) -> PathBuf {
        let layout = sb.path().join(name);
        let mut args = vec![
            "--insecure-policy".to_string(),
            "copy".into(),
            "--all".into(),
        ];
        args.extend(self.skopeo_options("src"));
        args.push(self.reference(repo_ref));
        args.push(format!("oci:{}:out", layout.display()));
        sb.tool(
            "skopeo",
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        layout
    }

    /// The access-log lines so far (a mark for [`Registry::requests_since`]).
    fn mark(&self) -> usize {
        self.requests_since(0).len()
    }

    /// `METHOD URI STATUS` of the requests oci-stamp made since `mark`.
    fn requests_since(&self, mark: usize) -> Vec<String> {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("\"oci-stamp/"))
            .filter_map(|l| {
                let (_, rest) = l.split_once('"')?;
                let (request, rest) = rest.split_once('"')?;
                let mut r = request.split(' ');
                let status = rest.split_whitespace().next()?;
                Some(format!("{} {} {status}", r.next()?, r.next()?))
            })
            .skip(mark)
            .collect()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// No blob was uploaded, and what was written is manifests only.
fn assert_no_blob_upload(requests: &[String]) {
    for r in requests {
        let method = r.split(' ').next().unwrap_or_default();
        if matches!(method, "PUT" | "POST" | "PATCH" | "DELETE") {
            assert!(
                r.contains("/manifests/") && method == "PUT",
                "oci-stamp wrote something other than a manifest: {r}\n{requests:#?}"
            );
        }
    }
}

fn puts(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.starts_with("PUT "))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// Certificates, htpasswd, tokens

/// A test CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
fn make_tls(sb: &Sandbox, dir: &Path) -> PathBuf {
    let p = |f: &str| dir.join(f).display().to_string();
    sb.tool(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=oci-stamp test CA",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.pem"),
        ],
    );
    sb.tool(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ],
    );
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write extensions");
    sb.tool(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("server.ext"),
            "-out",
            &p("server.pem"),
        ],
    );
    dir.join("ca.pem")
}

fn htpasswd(sb: &Sandbox, dir: &Path) {
    let line = sb.tool("htpasswd", &["-Bbn", USER, PASSWORD]);
    fs::write(dir.join("htpasswd"), line.trim()).expect("write htpasswd");
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A token server on 127.0.0.1: `GET /token?scope=…&service=…` with basic auth
/// `USER:PASSWORD` answers a JWT (RS256, x5c header) granting what the scopes ask.
struct TokenServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// The certificate the registry trusts for tokens.
    bundle: PathBuf,
}

impl TokenServer {
    fn start(sb: &Sandbox, dir: &Path) -> TokenServer {
        fs::create_dir_all(dir).expect("token dir");
        let key = dir.join("token.key");
        let cert = dir.join("token.pem");
        let der = dir.join("token.der");
        sb.tool(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=oci-stamp test token signer",
                "-keyout",
                s(&key),
                "-out",
                s(&cert),
            ],
        );
        sb.tool(
            "openssl",
            &["x509", "-in", s(&cert), "-outform", "DER", "-out", s(&der)],
        );
        let x5c = base64::engine::general_purpose::STANDARD.encode(fs::read(&der).expect("der"));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve_token(stream, &key, &x5c);
                }
            }
        });
        TokenServer {
            port,
            stop,
            thread: Some(thread),
            bundle: cert,
        }
    }

    fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve_token(stream: TcpStream, key: &Path, x5c: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = Some(v.trim().to_string());
            }
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let mut scopes = Vec::new();
    for pair in query.split('&') {
        if let Some(("scope", v)) = pair.split_once('=') {
            scopes.push(percent_decode(v));
        }
    }
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    let mut stream = stream;
    if authorization.as_deref() != Some(expected.as_str()) {
        let body =
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"invalid user name or password"}]}"#;
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        return Ok(());
    }
    let access: Vec<Value> = scopes
        .iter()
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(serde_json::json!({
                "type": kind,
                "name": name,
                "actions": actions.split(',').collect::<Vec<_>>(),
            }))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "oci-stamp-test-issuer",
        "sub": USER,
        "aud": "oci-stamp-test-registry",
        "exp": now + 600,
        "nbf": now - 60,
        "iat": now,
        "jti": format!("{now}-{}", std::process::id()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut openssl = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", s(key)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    openssl
        .stdin
        .take()
        .expect("stdin")
        .write_all(signing_input.as_bytes())?;
    let signature = openssl.wait_with_output()?.stdout;
    let token = format!("{signing_input}.{}", b64url(&signature));
    let body =
        serde_json::json!({"token": token, "access_token": token, "expires_in": 600}).to_string();
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

/// A Docker config.json with `auths` for the registry, in a directory of its own.
fn docker_config(sb: &Sandbox, name: &str, host: &str, password: &str) -> PathBuf {
    let dir = sb.path().join(name);
    fs::create_dir_all(&dir).expect("config dir");
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    fs::write(
        dir.join("config.json"),
        serde_json::json!({"auths": {host: {"auth": auth}}}).to_string(),
    )
    .expect("write config.json");
    dir
}

// ---------------------------------------------------------------------------------------
// Images

/// A one-platform image built by hand, whose manifest carries `padding` bytes of
/// annotation (to make it as large as wanted): an OCI layout with ref.name `1`.
fn handmade_layout(sb: &Sandbox, name: &str, padding: usize) -> PathBuf {
    let layout = sb.path().join(name);
    let blobs = layout.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("blobs");
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        fs::write(blobs.join(&d["sha256:".len()..]), bytes).expect("blob");
        (d, bytes.len())
    };
    let layer = vec![0u8; 1024]; // an empty tar archive
    let (layer_digest, layer_size) = put(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "config": {}
    })
    .to_string();
    let (config_digest, config_size) = put(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}],
        "annotations": {"test.padding": "x".repeat(padding)}
    })
    .to_string();
    let (manifest_digest, manifest_size) = put(manifest.as_bytes());
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    fs::write(
        layout.join("index.json"),
        serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest, "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "1"}}]
        })
        .to_string(),
    )
    .expect("index.json");
    layout
}

/// The multi-platform buildx export (linux/amd64, linux/arm64, two attestation
/// manifests), as `oci:` source.
fn multi_source() -> String {
    format!(
        "oci:{}",
        fixture_layout("buildx-multiplatform-attestations").display()
    )
}

/// A single-platform image of the containers/image fixture.
fn single_source() -> String {
    format!(
        "oci:{}:3",
        fixture_layout("containers-image-multiple-images").display()
    )
}

/// `oci-stamp annotate --created … ARGS` with extra environment.
fn annotate(repo: &Repo, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut all = vec!["annotate", "--created", EPOCH];
    all.extend_from_slice(args);
    let mut run = repo.stamp(all);
    for (k, v) in env {
        run = run.env(k, v);
    }
    run.run()
}

/// The `TARGET: KIND … OLD -> NEW` lines of a report, as (kind, old, new).
fn changes(out: &Output) -> Vec<(String, String, String)> {
    out.stdout
        .lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let arrow = words.iter().position(|w| *w == "->")?;
            if words.get(1) == Some(&"tagged") {
                return None;
            }
            Some((
                words[1].to_string(),
                words[arrow - 1].to_string(),
                words[arrow + 1].to_string(),
            ))
        })
        .collect()
}

/// Checks a stamped multi-platform index in the registry against what was there before:
/// every platform manifest carries the annotations, every digest verifies, attestations
/// are untouched and point at the new platform digests, and the index carries them too when
/// `index` was asked for.
fn check_multi(reg: &Registry, sb: &Sandbox, repo_ref: &str, before: &Value, index_level: bool) {
    let raw = reg.raw(sb, repo_ref);
    let index = json(&raw);
    let old = before["manifests"].as_array().expect("manifests");
    let new = index["manifests"].as_array().expect("manifests");
    assert_eq!(old.len(), new.len());
    let mut renamed = BTreeMap::new();
    for (o, n) in old.iter().zip(new) {
        let is_attestation = annotations(o)
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            == Some("attestation-manifest");
        let text = reg.raw(
            sb,
            &format!(
                "{}@{}",
                repo_ref.split(':').next().unwrap(),
                n["digest"].as_str().unwrap()
            ),
        );
        assert_eq!(sha256(text.as_bytes()), n["digest"], "digest verifies");
        assert_eq!(
            text.len() as u64,
            n["size"].as_u64().unwrap(),
            "size verifies"
        );
        if is_attestation {
            assert_eq!(o["digest"], n["digest"], "attestation manifest untouched");
        } else {
            assert_ne!(o["digest"], n["digest"], "platform manifest rewritten");
            let m = json(&text);
            let a = annotations(&m);
            assert_eq!(
                a.get(VERSION_KEY).map(String::as_str),
                Some("9.9.9"),
                "{text}"
            );
            assert_eq!(
                a.get("org.opencontainers.image.created")
                    .map(String::as_str),
                Some(CREATED)
            );
            renamed.insert(o["digest"].to_string(), n["digest"].clone());
        }
        assert_eq!(o["platform"], n["platform"], "platform kept");
    }
    for (o, n) in old.iter().zip(new) {
        if let Some(points) = o["annotations"].get("vnd.docker.reference.digest") {
            assert_eq!(
                &n["annotations"]["vnd.docker.reference.digest"],
                renamed
                    .get(&points.to_string())
                    .expect("points at a platform manifest"),
                "attestation follows its platform manifest"
            );
        }
    }
    assert_eq!(
        annotations(&index).contains_key(VERSION_KEY),
        index_level,
        "index annotations: {raw}"
    );
}

// ---------------------------------------------------------------------------------------
// Anonymous, plain HTTP

#[test]
fn plain_http_single_and_multi_platform() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let reg = Registry::start(&sb, "registry", Access::Plain);
    reg.push(&sb, &single_source(), "single:1", &["--preserve-digests"]);
    reg.push(
        &sb,
        &single_source(),
        "single:keep",
        &["--preserve-digests"],
    );
    reg.push(&sb, &multi_source(), "multi:1", &["--preserve-digests"]);
    reg.push(&sb, &multi_source(), "multi:keep", &["--preserve-digests"]);
    let single_before = reg.raw(&sb, "single:1");
    let multi_before = reg.raw(&sb, "multi:1");
    let v = ["-a", "version=9.9.9"];

    // A dry run fetches and prints, and pushes nothing.
    let mark = reg.mark();
    let target = reg.reference("multi:1");
    let dry = annotate(
        &repo,
        &[],
        &[&v[..], &["--dry-run", "--level", "index,manifest", &target]].concat(),
    );
    dry.ok();
    assert_eq!(changes(&dry).len(), 3, "{dry}");
    assert!(dry.stdout.contains("dry run, nothing written"), "{dry}");
    let requests = reg.requests_since(mark);
    assert!(puts(&requests).is_empty(), "{requests:#?}");
    assert_no_blob_upload(&requests);
    assert_eq!(reg.raw(&sb, "multi:1"), multi_before);

    // Single platform, manifest level: the tag moves to the stamped manifest.
    let mark = reg.mark();
    let out = annotate(
        &repo,
        &[],
        &[&v[..], &[&reg.reference("single:1")]].concat(),
    );
    out.ok();
    let c = changes(&out);
    assert_eq!(c.len(), 1, "{out}");
    assert_eq!(c[0].1, sha256(single_before.as_bytes()));
    let single_after = reg.raw(&sb, "single:1");
    assert_eq!(
        sha256(single_after.as_bytes()),
        c[0].2,
        "the printed digest is the stored one"
    );
    assert!(
        out.stdout
            .contains(&format!("tagged {}/single:1 -> {}", reg.host(), c[0].2)),
        "{out}"
    );
    let m = json(&single_after);
    assert_eq!(
        annotations(&m).get(VERSION_KEY).map(String::as_str),
        Some("9.9.9")
    );
    assert_eq!(
        m["layers"],
        json(&single_before)["layers"],
        "layers untouched"
    );
    assert_eq!(
        m["config"],
        json(&single_before)["config"],
        "config untouched"
    );
    let requests = reg.requests_since(mark);
    assert_no_blob_upload(&requests);
    assert_eq!(
        puts(&requests),
        ["PUT /v2/single/manifests/1 201"],
        "{requests:#?}"
    );
    assert_eq!(
        reg.raw(&sb, "single:keep"),
        single_before,
        "other tag untouched"
    );
    let copy = reg.copy_out(&sb, "single:1", "single-copy");
    assert!(copy.join("index.json").is_file());

    // Again: nothing to change, nothing written.
    let mark = reg.mark();
    let again = annotate(
        &repo,
        &[],
        &[&v[..], &[&reg.reference("single:1")]].concat(),
    );
    again.ok();
    assert!(again.stdout.contains("unchanged"), "{again}");
    assert!(puts(&reg.requests_since(mark)).is_empty());

    // Multi-platform, index and manifests: children by digest first, then the tag.
    let mark = reg.mark();
    let out = annotate(
        &repo,
        &[],
        &[&v[..], &["--level", "index,manifest", &target]].concat(),
    );
    out.ok();
    let c = changes(&out);
    assert_eq!(c.iter().filter(|c| c.0 == "manifest").count(), 2, "{out}");
    assert!(out.stdout.contains("manifest linux/amd64 sha256:"), "{out}");
    let index_change = c.iter().find(|c| c.0 == "index").expect("index changed");
    assert_eq!(index_change.1, sha256(multi_before.as_bytes()));
    check_multi(&reg, &sb, "multi:1", &json(&multi_before), true);
    assert_eq!(sha256(reg.raw(&sb, "multi:1").as_bytes()), index_change.2);
    let requests = reg.requests_since(mark);
    assert_no_blob_upload(&requests);
    let p = puts(&requests);
    assert_eq!(p.len(), 3, "{requests:#?}");
    assert!(p[0].contains("/manifests/sha256:") && p[1].contains("/manifests/sha256:"));
    assert_eq!(p[2], "PUT /v2/multi/manifests/1 201", "the tag moves last");
    assert_eq!(
        reg.raw(&sb, "multi:keep"),
        multi_before,
        "other tag untouched"
    );
    let copy = reg.copy_out(&sb, "multi:1", "multi-copy");
    assert!(copy.join("index.json").is_file());

    // --tag NEW: the new tag gets the stamped image; the old one stays.
    let out = annotate(
        &repo,
        &[],
        &[
            "-a",
            "version=9.9.9",
            "--tag",
            "stamped",
            &reg.reference("multi:keep"),
        ],
    );
    out.ok();
    assert_eq!(
        reg.raw(&sb, "multi:keep"),
        multi_before,
        "--tag leaves the old tag alone"
    );
    check_multi(&reg, &sb, "multi:stamped", &json(&multi_before), false);

    // By digest: refused in place, written under --tag.
    let by_digest = reg.reference(&format!("multi@{}", sha256(multi_before.as_bytes())));
    let refused = annotate(&repo, &[], &["-a", "version=9.9.9", &by_digest]);
    refused.status(1);
    refused.line("digest-reference");
    assert!(refused.stderr.contains("--tag NEW"), "{refused}");
    let out = annotate(
        &repo,
        &[],
        &["-a", "version=9.9.9", "--tag", "from-digest", &by_digest],
    );
    out.ok();
    check_multi(&reg, &sb, "multi:from-digest", &json(&multi_before), false);

    // A level the image does not have; index-descriptor exists only in layouts.
    let mark = reg.mark();
    let out = annotate(
        &repo,
        &[],
        &["--level", "index", &reg.reference("single:keep")],
    );
    out.status(1);
    assert!(out.line("level-not-found").contains("`index`"), "{out}");
    let out = annotate(
        &repo,
        &[],
        &["--level", "index-descriptor", &reg.reference("multi:keep")],
    );
    out.status(1);
    assert!(out.line("level-not-found").contains("layout"), "{out}");
    assert!(puts(&reg.requests_since(mark)).is_empty());

    // A missing tag, a missing repository.
    let out = annotate(&repo, &[], &[&reg.reference("single:nope")]);
    out.status(2);
    assert!(out.stderr.contains("no tag `nope`"), "{out}");
    let out = annotate(&repo, &[], &[&reg.reference("nothing:1")]);
    out.status(2);

    // A Docker schema 2 image is refused by name; nothing is pushed.
    reg.push(&sb, &single_source(), "docker:1", &["--format", "v2s2"]);
    let mark = reg.mark();
    let out = annotate(&repo, &[], &[&reg.reference("docker:1")]);
    out.status(1);
    assert!(out.line("docker-media-type").contains("Docker"), "{out}");
    assert!(puts(&reg.requests_since(mark)).is_empty());
}

// ---------------------------------------------------------------------------------------
// htpasswd over TLS

#[test]
fn basic_auth_over_tls_with_a_test_ca() {
    if !have_registry_tools() || !have("openssl") || !have("htpasswd") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = sb.path().join("registry");
    fs::create_dir_all(&dir).expect("registry dir");
    let ca = make_tls(&sb, &dir);
    htpasswd(&sb, &dir);
    let reg = Registry::start(&sb, "registry", Access::BasicTls { ca: ca.clone() });
    reg.push(&sb, &multi_source(), "app:1", &["--preserve-digests"]);
    reg.push(&sb, &multi_source(), "app:keep", &["--preserve-digests"]);
    let before = reg.raw(&sb, "app:1");
    let target = reg.reference("app:1");
    let config = docker_config(&sb, "docker", &reg.host(), PASSWORD);
    let docker = [("DOCKER_CONFIG", s(&config))];

    // Without the CA: a TLS error, exit 2, nothing else tried.
    let out = annotate(&repo, &docker, &["-a", "version=9.9.9", &target]);
    out.status(2);
    assert!(out.stderr.to_lowercase().contains("certificate"), "{out}");

    // Without credentials: access denied, with a hint where credentials are looked for.
    let out = annotate(
        &repo,
        &[],
        &["-a", "version=9.9.9", "--ca-file", s(&ca), &target],
    );
    out.status(2);
    assert!(
        out.stderr.contains("access denied") && out.stderr.contains("docker login"),
        "{out}"
    );

    // A wrong password: denied, naming the file, never printing a secret.
    let wrong = docker_config(&sb, "wrong", &reg.host(), "wrong-password");
    let out = annotate(
        &repo,
        &[("DOCKER_CONFIG", s(&wrong))],
        &["-a", "version=9.9.9", "--ca-file", s(&ca), &target],
    );
    out.status(2);
    assert!(out.stderr.contains("access denied"), "{out}");
    assert!(out.stderr.contains("config.json"), "{out}");
    for secret in ["wrong-password", PASSWORD] {
        assert!(
            !out.stderr.contains(secret) && !out.stdout.contains(secret),
            "{out}"
        );
    }
    assert_eq!(reg.raw(&sb, "app:1"), before);

    // Docker's config.json and --ca-file: stamped.
    let mark = reg.mark();
    let out = annotate(
        &repo,
        &docker,
        &[
            "-a",
            "version=9.9.9",
            "--ca-file",
            s(&ca),
            "--level",
            "manifest",
            &target,
        ],
    );
    out.ok();
    assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD));
    check_multi(&reg, &sb, "app:1", &json(&before), false);
    assert_no_blob_upload(&reg.requests_since(mark));
    assert_eq!(reg.raw(&sb, "app:keep"), before, "other tag untouched");
    reg.copy_out(&sb, "app:1", "copy");

    // --resolve-base reaches the registry as annotate does: without the CA the lookup
    // fails with a warning and no digest; with --ca-file and the credentials, the digest.
    let app = sb.repo("based");
    app.write("Dockerfile", format!("FROM {}/app:keep\n", reg.host()));
    app.commit("initial");
    let digest_key = "org.opencontainers.image.base.digest";
    let out = app
        .stamp(["collect", "--format", "json", "--resolve-base"])
        .env(docker[0].0, docker[0].1)
        .run();
    out.ok();
    assert!(
        out.line("base-lookup-failed").contains("certificate"),
        "{out}"
    );
    assert!(!out.annotations().contains_key(digest_key), "{out}");
    let out = app
        .stamp([
            "collect",
            "--format",
            "json",
            "--resolve-base",
            "--ca-file",
            s(&ca),
        ])
        .env(docker[0].0, docker[0].1)
        .run();
    out.ok();
    assert_eq!(
        out.annotations()[digest_key],
        sha256(before.as_bytes()),
        "{out}"
    );
    assert!(!out.stderr.contains(PASSWORD) && !out.stdout.contains(PASSWORD));

    // SSL_CERT_FILE, podman's auth file (REGISTRY_AUTH_FILE) and a credential helper.
    let auth_file = sb.path().join("auth.json");
    fs::copy(config.join("config.json"), &auth_file).expect("auth.json");
    let out = annotate(
        &repo,
        &[
            ("SSL_CERT_FILE", s(&ca)),
            ("REGISTRY_AUTH_FILE", s(&auth_file)),
        ],
        &[
            "-a",
            "version=9.9.10",
            "--tag",
            "podman",
            &reg.reference("app:keep"),
        ],
    );
    out.ok();
    let bin = sb.path().join("bin");
    fs::create_dir_all(&bin).expect("bin");
    let helper = bin.join("docker-credential-oci-stamp-test");
    fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\nif [ \"$1\" = get ] && [ \"$server\" = \"{}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            reg.host()
        ),
    )
    .expect("helper");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).expect("chmod");
    let store = sb.path().join("store");
    fs::create_dir_all(&store).expect("store");
    fs::write(
        store.join("config.json"),
        r#"{"auths":{},"credsStore":"oci-stamp-test"}"#,
    )
    .expect("config");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = annotate(
        &repo,
        &[("DOCKER_CONFIG", s(&store)), ("PATH", &path)],
        &[
            "-a",
            "version=9.9.11",
            "--ca-file",
            s(&ca),
            "--tag",
            "helper",
            &reg.reference("app:keep"),
        ],
    );
    out.ok();
    let stamped = json(&reg.raw(&sb, "app:helper"));
    let first = stamped["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let m = json(&reg.raw(&sb, &format!("app@{first}")));
    assert_eq!(
        annotations(&m).get(VERSION_KEY).map(String::as_str),
        Some("9.9.11")
    );
}

// ---------------------------------------------------------------------------------------
// Bearer tokens

#[test]
fn bearer_tokens_from_a_token_server() {
    if !have_registry_tools() || !have("openssl") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let tokens = TokenServer::start(&sb, &sb.path().join("tokens"));
    let reg = Registry::start(
        &sb,
        "registry",
        Access::Token {
            realm: tokens.realm(),
            bundle: tokens.bundle.clone(),
        },
    );
    reg.push(&sb, &multi_source(), "team/app:1", &["--preserve-digests"]);
    reg.push(
        &sb,
        &multi_source(),
        "team/app:keep",
        &["--preserve-digests"],
    );
    let before = reg.raw(&sb, "team/app:1");
    let target = reg.reference("team/app:1");

    let wrong = docker_config(&sb, "wrong", &reg.host(), "not-the-password");
    let out = annotate(
        &repo,
        &[("DOCKER_CONFIG", s(&wrong))],
        &["-a", "version=9.9.9", &target],
    );
    out.status(2);
    assert!(
        out.stderr.contains("token service refused the credentials"),
        "{out}"
    );
    assert!(!out.stderr.contains("not-the-password"), "{out}");

    let out = annotate(&repo, &[], &["-a", "version=9.9.9", &target]);
    out.status(2);
    assert!(out.stderr.contains("anonymous"), "{out}");

    let good = docker_config(&sb, "good", &reg.host(), PASSWORD);
    let mark = reg.mark();
    let out = annotate(
        &repo,
        &[("DOCKER_CONFIG", s(&good))],
        &["-a", "version=9.9.9", "--level", "index,manifest", &target],
    );
    out.ok();
    check_multi(&reg, &sb, "team/app:1", &json(&before), true);
    let requests = reg.requests_since(mark);
    assert_no_blob_upload(&requests);
    assert_eq!(puts(&requests).len(), 3, "{requests:#?}");
    assert_eq!(reg.raw(&sb, "team/app:keep"), before, "other tag untouched");
    reg.copy_out(&sb, "team/app:1", "copy");
}

// ---------------------------------------------------------------------------------------
// Failures: the registry goes away, a manifest too large

/// A small HTTP server on 127.0.0.1 for the registry tests: one request per connection,
/// each handed to `serve` on the server's one thread; stopped when dropped.
struct Loopback {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Loopback {
    fn start(serve: impl Fn(TcpStream) -> std::io::Result<()> + Send + 'static) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback server");
        let port = listener.local_addr().expect("address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve(stream);
                }
            }
        });
        Loopback {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP request as a [`Loopback`] server read it.
struct Request {
    /// `METHOD TARGET VERSION` and its line break.
    line: String,
    /// The header lines as sent, but `Connection` (a forward closes the connection).
    head: String,
    /// Every header, the name in lower case and both trimmed.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn read_request(client: &TcpStream) -> std::io::Result<Request> {
    client.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let (mut head, mut headers, mut length) = (String::new(), Vec::new(), 0usize);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        let (k, v) = header.split_once(':').unwrap_or((&header, ""));
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        if k == "content-length" {
            length = v.parse().unwrap_or(0);
        }
        if k != "connection" {
            head.push_str(&header);
        }
        headers.push((k, v));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(Request {
        line,
        head,
        headers,
        body,
    })
}

/// Sends `request` to the registry at `upstream` with `line` as its request line, and the
/// whole response back to `client`.
fn forward_to(
    mut client: TcpStream,
    upstream: u16,
    line: &str,
    request: &Request,
) -> std::io::Result<()> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(line.as_bytes())?;
    up.write_all(request.head.as_bytes())?;
    up.write_all(b"Connection: close\r\n\r\n")?;
    up.write_all(&request.body)?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;
    client.write_all(&response)
}

/// An HTTP proxy in front of the registry that forwards one request per connection and,
/// at the first request matching `kill_at`, stops the registry and drops the connection.
fn proxy(upstream: u16, kill_at: String, child: Arc<Mutex<Option<Child>>>) -> Loopback {
    Loopback::start(move |client| {
        let request = read_request(&client)?;
        if request.line.starts_with(&kill_at) {
            // The registry goes away in the middle of the run.
            if let Some(mut c) = child.lock().unwrap().take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            return Ok(());
        }
        forward_to(client, upstream, &request.line, &request)
    })
}

#[test]
fn a_registry_that_goes_away_leaves_the_tag_where_it_was() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let mut reg = Registry::start(&sb, "registry", Access::Plain);
    reg.push(&sb, &multi_source(), "app:1", &["--preserve-digests"]);
    let before = reg.raw(&sb, "app:1");
    let proxy = proxy(
        reg.port,
        "PUT /v2/app/manifests/1 ".into(),
        reg.child.clone(),
    );
    let out = annotate(
        &repo,
        &[],
        &[
            "-a",
            "version=9.9.9",
            &format!("docker://127.0.0.1:{}/app:1", proxy.port),
        ],
    );
    out.status(2);
    assert!(out.stderr.contains("the tag was not moved"), "{out}");
    drop(proxy);
    // The registry comes back: the tag names the old image, which is whole.
    reg.restart(&sb);
    let after = reg.raw(&sb, "app:1");
    assert_eq!(after, before, "the old tag still points at the old index");
    let copy = reg.copy_out(&sb, "app:1", "copy");
    assert!(copy.join("index.json").is_file());
    // The stamped children that did arrive are harmless; a second run completes.
    let out = annotate(
        &repo,
        &[],
        &["-a", "version=9.9.9", &reg.reference("app:1")],
    );
    out.ok();
    check_multi(&reg, &sb, "app:1", &json(&before), false);
}

#[test]
fn a_manifest_larger_than_the_registry_accepts() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let reg = Registry::start(&sb, "registry", Access::Plain);
    // Just under distribution's 4 MiB limit; stamping pushes it over.
    let layout = handmade_layout(&sb, "big", 4 * 1024 * 1024 - 4096);
    reg.push(
        &sb,
        &format!("oci:{}:1", layout.display()),
        "big:1",
        &["--preserve-digests"],
    );
    let before = reg.raw(&sb, "big:1");
    let description = "d".repeat(8192);
    let mark = reg.mark();
    let out = annotate(
        &repo,
        &[],
        &[
            "-a",
            &format!("description={description}"),
            &reg.reference("big:1"),
        ],
    );
    // Refused before anything is sent: what is written obeys the 4 MiB that is read.
    out.status(1);
    assert!(out.stderr.contains("error[document-size]: "), "{out}");
    assert!(out.stderr.contains("over the 4 MiB"), "{out}");
    assert!(
        out.stderr.lines().all(|l| l.len() < 2000),
        "no manifest echoed: {out}"
    );
    assert_eq!(
        reg.raw(&sb, "big:1"),
        before,
        "the tag still names the old manifest"
    );
    assert_no_blob_upload(&reg.requests_since(mark));
}

/// `collect --resolve-base`: the tag of the Dockerfile's base is looked up in its registry,
/// for `base.digest` — the index digest of a multi-platform image — anonymously, and with the
/// credentials of a Docker config when the registry wants them.
#[test]
fn resolve_base_looks_the_tag_up() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let reg = Registry::start(&sb, "registry", Access::Plain);
    reg.push(
        &sb,
        &multi_source(),
        "base/multi:1",
        &["--preserve-digests"],
    );
    reg.push(
        &sb,
        &single_source(),
        "base/single:1",
        &["--preserve-digests"],
    );
    let multi = reg.raw(&sb, "base/multi:1");
    assert!(json(&multi)["manifests"].is_array(), "an index: {multi}");
    let repo = sb.repo("app");
    repo.write(
        "Dockerfile",
        format!(
            "ARG REG={}\nFROM $REG/base/multi:1 AS build\nFROM build\n",
            reg.host()
        ),
    );
    repo.commit("initial");
    let base_name = "org.opencontainers.image.base.name";
    let base_digest = "org.opencontainers.image.base.digest";

    // Without --resolve-base, no registry is asked and there is no digest.
    let mark = reg.mark();
    let out = repo.stamp(["collect", "--format", "json"]).run();
    out.ok();
    assert!(!out.annotations().contains_key(base_digest), "{out}");
    assert!(reg.requests_since(mark).is_empty());

    let out = repo
        .stamp(["collect", "--format", "json", "--explain", "--resolve-base"])
        .run();
    out.ok();
    let j = out.json();
    assert_eq!(
        j["annotations"][base_name],
        format!("{}/base/multi:1", reg.host()),
        "{out}"
    );
    assert_eq!(
        j["annotations"][base_digest],
        sha256(multi.as_bytes()),
        "{out}"
    );
    let note = j["sources"][base_digest]["note"]
        .as_str()
        .unwrap_or_default();
    assert!(note.contains("--resolve-base"), "{out}");
    assert!(
        reg.requests_since(mark).iter().all(|r| !r.contains("PUT")),
        "read only"
    );

    // A single-platform base: its manifest's digest.
    let single = reg.raw(&sb, "base/single:1");
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--resolve-base",
            "--build-arg",
            &format!("REG={}", reg.host()),
        ])
        .run();
    out.ok();
    assert_eq!(out.annotations()[base_digest], sha256(multi.as_bytes()));
    let repo2 = sb.repo("app2");
    repo2.write("Dockerfile", format!("FROM {}/base/single:1\n", reg.host()));
    repo2.commit("initial");
    let out = repo2
        .stamp(["collect", "--format", "json", "--resolve-base"])
        .env("OCI_STAMP_RESOLVE_BASE", "1")
        .run();
    out.ok();
    assert_eq!(out.annotations()[base_digest], sha256(single.as_bytes()));

    // A tag the registry does not have: a warning, no digest; --require makes it fatal.
    let missing = format!("REG={}/nope", reg.host());
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--resolve-base",
            "--build-arg",
            &missing,
        ])
        .run();
    out.ok();
    assert!(
        out.line("base-lookup-failed").contains("no tag `1`"),
        "{out}"
    );
    assert!(!out.annotations().contains_key(base_digest), "{out}");
    repo.stamp([
        "collect",
        "--resolve-base",
        "--build-arg",
        &missing,
        "--require",
        "base.digest",
    ])
    .run()
    .status(1);

    // A registry that wants credentials: they come from the Docker config.
    if !have("openssl") {
        return;
    }
    let tokens = TokenServer::start(&sb, &sb.path().join("tokens"));
    let secured = Registry::start(
        &sb,
        "secured",
        Access::Token {
            realm: tokens.realm(),
            bundle: tokens.bundle.clone(),
        },
    );
    secured.push(&sb, &multi_source(), "team/base:2", &["--preserve-digests"]);
    let index = secured.raw(&sb, "team/base:2");
    let repo3 = sb.repo("app3");
    repo3.write(
        "Dockerfile",
        format!("FROM {}/team/base:2\n", secured.host()),
    );
    repo3.commit("initial");
    let anonymous = repo3
        .stamp(["collect", "--format", "json", "--resolve-base"])
        .run();
    anonymous.ok();
    assert!(
        anonymous.line("base-lookup-failed").contains("credentials"),
        "{anonymous}"
    );
    assert!(!anonymous.stderr.contains(PASSWORD));
    let config = docker_config(&sb, "docker", &secured.host(), PASSWORD);
    let out = repo3
        .stamp(["collect", "--format", "json", "--resolve-base"])
        .env("DOCKER_CONFIG", s(&config))
        .run();
    out.ok();
    assert_eq!(
        out.annotations()[base_digest],
        sha256(index.as_bytes()),
        "{out}"
    );
    assert!(!out.stderr.contains(PASSWORD));
}

// ---------------------------------------------------------------------------------------
// verify and validate read registries (and write nothing)

#[test]
fn verify_and_validate_read_a_registry_image() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let reg = Registry::start(&sb, "registry", Access::Plain);
    reg.push(&sb, &multi_source(), "multi:1", &["--preserve-digests"]);
    let target = reg.reference("multi:1");
    let v = ["-a", "version=9.9.9"];
    let verify = |args: &[&str]| {
        let mut all = vec!["verify", "--created", EPOCH];
        all.extend_from_slice(args);
        repo.stamp(all).run()
    };

    // Unstamped: every platform manifest lacks the keys.
    let mark = reg.mark();
    let out = verify(&[&v[..], &["--format", "json", &target]].concat());
    out.status(1);
    let doc = out.json();
    let checks = doc["targets"][0]["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(checks.len(), 4, "{out}"); // two platforms, revision and version
    assert!(checks.iter().all(|c| c["result"] == "missing"), "{out}");
    let requests = reg.requests_since(mark);
    assert!(puts(&requests).is_empty(), "{requests:#?}");

    // Stamped at the index and the manifests: verify both levels.
    annotate(
        &repo,
        &[],
        &[&v[..], &["--level", "index,manifest", &target]].concat(),
    )
    .ok();
    let mark = reg.mark();
    let out = verify(
        &[
            &v[..],
            &["--level", "index,manifest", "--format", "json", &target],
        ]
        .concat(),
    );
    out.ok();
    let doc = out.json();
    let places: Vec<&str> = doc["targets"][0]["checks"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c["place"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        places.contains(&"index") && places.contains(&"manifest linux/arm64"),
        "{out}"
    );
    assert!(puts(&reg.requests_since(mark)).is_empty());

    // Another commit: the revision differs, on every place.
    let old = repo.head();
    repo.commit("two");
    let out = verify(&[&v[..], &["--level", "index,manifest", &target]].concat());
    out.status(1);
    let mismatches = out
        .codes()
        .iter()
        .filter(|c| **c == "annotation-mismatch")
        .count();
    assert_eq!(mismatches, 3, "{out}");
    // --no-collect, as a CD job runs it.
    let out = sb
        .stamp([
            "verify",
            "--no-collect",
            "-a",
            &format!("revision={old}"),
            &target,
        ])
        .run();
    out.ok();

    // validate reads it too.
    let out = repo.stamp(["validate", &target]).run();
    out.ok();
    // A tag that is not there cannot be read: exit 2.
    verify(&[&v[..], &[&reg.reference("multi:nope")]].concat()).status(2);
}

/// `docker://[::1]:PORT/…`: an IPv6 address literal as the registry, which the reference
/// grammar has no form for. skopeo cannot name such a registry, so the image is pushed while
/// the registry listens on 127.0.0.1, and read and stamped after it moved to [::1].
#[test]
fn an_ipv6_loopback_registry_is_a_target() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let mut reg = Registry::start(&sb, "registry", Access::Plain);
    reg.push(&sb, &single_source(), "x:1", &["--preserve-digests"]);
    reg.stop();
    reg.ipv6 = true;
    assert!(reg.spawn(&sb), "[::1]:{} was taken", reg.port);
    let target = reg.reference("x:1");
    assert!(target.starts_with("docker://[::1]:"), "{target}");
    let out = repo.stamp(["annotate", &target]).run();
    out.ok();
    assert!(out.stdout.contains("tagged [::1]:"), "{out}");
    let out = repo.stamp(["verify", "--keys", "revision", &target]).run();
    out.ok();
    assert!(out.stdout.contains("all match"), "{out}");
    // A bracketed text that is no IPv6 address is refused as before.
    let out = repo.stamp(["annotate", "docker://[nope]:5000/x:1"]).run();
    out.status(2);
    assert!(out.stderr.contains("is not an image reference"), "{out}");
}

// ---------------------------------------------------------------------------------------
// Redirects

/// One request a [`Shim`] received: its method, target and headers (names in lower case).
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What a [`Shim`] does with a request.
enum Reply {
    /// Forward it to the registry under this path.
    Forward(String),
    /// Answer it with this whole response (status line, headers, body).
    Answer(String),
}

/// A small HTTP server on 127.0.0.1 in front of the registry: one request per connection,
/// each recorded and then forwarded or answered as `route` says.
struct Shim {
    server: Loopback,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Shim {
    fn start(upstream: u16, route: impl Fn(&Seen) -> Reply + Send + 'static) -> Shim {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let server = Loopback::start(move |mut client| {
            let request = read_request(&client)?;
            let mut parts = request.line.split_whitespace();
            let (method, path) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or("/"),
            );
            let seen = Seen {
                method: method.to_string(),
                path: path.to_string(),
                headers: request.headers.clone(),
            };
            log.lock().unwrap().push(seen.clone());
            match route(&seen) {
                Reply::Answer(response) => client.write_all(response.as_bytes()),
                Reply::Forward(to) => {
                    let line = format!("{method} {to} HTTP/1.1\r\n");
                    forward_to(client, upstream, &line, &request)
                }
            }
        });
        Shim { server, seen }
    }

    fn port(&self) -> u16 {
        self.server.port
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A registry behind a front that wants basic auth and answers with redirects, as a
/// registry does that serves its content from elsewhere: GET of a tag to another path of
/// the same host and port (`/moved/…`); GET of a manifest or blob by digest to another host
/// and port (`localhost:PORT`, a second shim); HEAD of a tag to the same host on that other
/// port (`127.0.0.1:PORT`). The redirects are followed; the credentials go along to the same
/// host and port only (never to another host, nor to another port), and are never printed.
#[test]
fn a_registry_that_redirects_to_another_host() {
    if !have_registry_tools() {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let reg = Registry::start(&sb, "registry", Access::Plain);
    reg.push(&sb, &multi_source(), "app:1", &["--preserve-digests"]);
    let before = reg.raw(&sb, "app:1");

    let elsewhere = Shim::start(reg.port, |s| Reply::Forward(s.path.clone()));
    let other = elsewhere.port();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
    );
    let front = Shim::start(reg.port, move |s| {
        let fetch = matches!(s.method.as_str(), "GET" | "HEAD");
        if s.header("authorization") != Some(basic.as_str()) {
            let body =
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            Reply::Answer(format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"oci-stamp-test\"\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            ))
        } else if let Some(rest) = s.path.strip_prefix("/moved") {
            Reply::Forward(rest.to_string())
        } else if fetch && (s.path.contains("/manifests/sha256:") || s.path.contains("/blobs/")) {
            Reply::Answer(format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://localhost:{other}{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                s.path
            ))
        } else if s.method == "HEAD" && s.path.contains("/manifests/") {
            Reply::Answer(format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://127.0.0.1:{other}{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                s.path
            ))
        } else if fetch && s.path.contains("/manifests/") {
            Reply::Answer(format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                s.path
            ))
        } else {
            Reply::Forward(s.path.clone())
        }
    });
    let host = format!("127.0.0.1:{}", front.port());
    let config = docker_config(&sb, "creds", &host, PASSWORD);
    let out = annotate(
        &repo,
        &[("DOCKER_CONFIG", s(&config))],
        &[
            "-a",
            "version=9.9.9",
            "--level",
            "index,manifest",
            &format!("docker://{host}/app:1"),
        ],
    );
    out.ok();
    assert!(
        !out.stdout.contains(PASSWORD) && !out.stderr.contains(PASSWORD),
        "{out}"
    );
    check_multi(&reg, &sb, "app:1", &json(&before), true);

    let at_front = front.seen();
    let moved: Vec<&Seen> = at_front
        .iter()
        .filter(|s| s.path.starts_with("/moved/"))
        .collect();
    assert!(
        moved.iter().any(|s| s.method == "GET"),
        "the fetch by tag followed the redirect on the same host: {at_front:#?}"
    );
    assert!(
        moved.iter().all(|s| s.header("authorization").is_some()),
        "the credentials went along to the same host: {at_front:#?}"
    );
    assert!(
        at_front
            .iter()
            .any(|s| s.method == "PUT" && s.path == "/v2/app/manifests/1"),
        "the tag was pushed through the front: {at_front:#?}"
    );
    let at_other = elsewhere.seen();
    let host_is = |s: &Seen, h: &str| s.header("host") == Some(&format!("{h}:{other}"));
    assert!(
        at_other.iter().any(|s| s.method == "GET"
            && s.path.starts_with("/v2/app/manifests/sha256:")
            && host_is(s, "localhost")),
        "the fetches by digest followed the redirect to the other host: {at_other:#?}"
    );
    assert!(
        at_other.iter().any(|s| s.method == "HEAD"
            && s.path == "/v2/app/manifests/1"
            && host_is(s, "127.0.0.1")),
        "the checks of the tag followed the redirect to the other port: {at_other:#?}"
    );
    assert!(
        at_other.iter().all(|s| s.header("authorization").is_none()),
        "no credential went to the other host or port: {at_other:#?}"
    );
    assert!(
        at_other
            .iter()
            .all(|s| s.method == "GET" || s.method == "HEAD"),
        "nothing but fetches went to the other host: {at_other:#?}"
    );
}
