//! Integrity under hostile files and streams (issue 17): the exit status tells the truth,
//! what Kubernetes reads is what was stamped and nothing else changes, layouts' limits hold
//! and reads cannot hang, and levels are checked as buildx parses them.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::harness::{Sandbox, BIN};

/// A manifest file (the target of `annotate -`).
const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":2},"layers":[]}"#;

/// The commands that print a result, as the issue lists them.
const PRINTERS: &[&[&str]] = &[
    &["collect", "--format", "json"],
    &["collect", "--format", "make"],
    &["collect", "--format", "github"],
    &["collect", "--format", "env"],
    &["flags"],
    &["flags", "-0"],
    &["flags", "--format", "json"],
    &["validate", "--format", "json", "-a", "version=1"],
];

fn oci_stamp(sb: &Sandbox, args: &[&str]) -> Command {
    let mut cmd = sb.command(BIN);
    cmd.args(args).args(["--created", "@1704164645"]);
    cmd
}

/// A command's output with standard output sent to `/dev/full`.
fn to_dev_full(mut cmd: Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("open /dev/full");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(full)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run oci-stamp");
    let mut input = child.stdin.take().expect("stdin");
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("wait")
}

#[test]
fn a_failed_write_to_standard_output_is_exit_2_with_a_message() {
    if !Path::new("/dev/full").exists() {
        eprintln!("note: no /dev/full here; skipping");
        return;
    }
    let sb = Sandbox::new();
    for args in PRINTERS {
        let mut args = args.to_vec();
        // `validate` takes no --created.
        let cmd = if args[0] == "validate" {
            let mut c = sb.command(BIN);
            c.args(&args);
            c
        } else {
            oci_stamp(&sb, &args)
        };
        let out = to_dev_full(cmd, b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("error: cannot write to standard output: No space left on device"),
            "{args:?}: {err}"
        );
        args.clear();
    }
    // `annotate -`: the document could not go out, so the run failed; the report (to
    // standard error) still says what was done.
    let mut cmd = sb.command(BIN);
    cmd.args([
        "annotate",
        "-a",
        "version=1",
        "--created",
        "@1704164645",
        "-",
    ]);
    let out = to_dev_full(cmd, MANIFEST.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: cannot write to standard output: No space left on device"),
        "{err}"
    );
}

#[test]
fn a_reader_that_closes_early_is_quiet_success() {
    let sb = Sandbox::new();
    // Far more than a pipe buffers, so the write is still going when the reader leaves.
    let big: Vec<String> = (0..4)
        .flat_map(|i| {
            [
                "-a".into(),
                format!("com.example.big{i}={}", "x".repeat(100_000)),
            ]
        })
        .collect();
    for args in PRINTERS.iter().filter(|a| a[0] != "validate") {
        let mut cmd = oci_stamp(&sb, args);
        cmd.args(&big);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run oci-stamp");
        let mut first = [0u8; 1];
        let mut reader = child.stdout.take().expect("stdout");
        reader.read_exact(&mut first).expect("a first byte");
        drop(reader);
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.lines().any(|l| l.starts_with("error")),
            "{args:?}: {err}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Kubernetes YAML: the stamp is where Kubernetes looks, and nothing else moves.

use std::collections::BTreeMap;
use yaml_rust2::{Yaml, YamlLoader};

const REV: &str = "org.opencontainers.image.revision";

/// `annotate -a revision=… FILES` in a sandbox holding `files` under `m/`; returns the
/// output and the files' contents afterwards.
fn stamp_files(
    files: &[(&str, &str)],
    extra: &[&str],
    targets: &[&str],
) -> (crate::harness::Output, BTreeMap<String, String>) {
    let sb = Sandbox::new();
    sb.dir("m", files);
    let mut args = vec![
        "annotate",
        "--created",
        "@1704164645",
        "-a",
        "revision=0123456789abcdef0123456789abcdef01234567",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(targets);
    let out = sb.stamp(&args).run();
    let after = files
        .iter()
        .map(|(f, _)| {
            let text = std::fs::read_to_string(sb.path().join("m").join(f)).expect("read back");
            ((*f).to_string(), text)
        })
        .collect();
    (out, after)
}

fn unchanged(
    files: &[(&str, &str)],
    after: &BTreeMap<String, String>,
    out: &crate::harness::Output,
) {
    for (f, text) in files {
        assert_eq!(&after[*f], text, "{f} changed\n{out}");
    }
}

/// What a strict YAML 1.2 reader makes of a text (`Err`: it refuses it).
fn yaml12(text: &str) -> Result<Vec<Yaml>, String> {
    YamlLoader::load_from_str(text).map_err(|e| e.to_string())
}

#[test]
fn a_duplicate_key_on_the_way_to_or_inside_annotations_is_refused_by_name() {
    let head = "apiVersion: v1\nkind: ConfigMap\n";
    for (text, place, key) in [
        (
            format!("{head}metadata:\n  name: a\n  annotations:\n    {REV}: a\n    {REV}: b\n"),
            "`metadata.annotations`",
            REV,
        ),
        (
            format!(
                "{head}metadata:\n  name: a\n  annotations:\n    x: y\n  annotations:\n    z: w\n"
            ),
            "`metadata`",
            "annotations",
        ),
        (
            format!("{head}metadata:\n  name: a\nmetadata:\n  name: b\n"),
            "the object",
            "metadata",
        ),
    ] {
        // A strict reader refuses it too; kubectl reads the last one.
        assert!(yaml12(&text).is_err(), "{text}");
        let files = [("dup.yaml", text.as_str())];
        let (out, after) = stamp_files(&files, &[], &["m/dup.yaml"]);
        out.status(1);
        let said = |line: &str| {
            line.contains("m/dup.yaml: ConfigMap/a: ")
                && line.contains(&format!("{place} holds the key `{key}` more than once"))
        };
        assert!(said(out.line("duplicate-key")), "{out}");
        unchanged(&files, &after, &out);
        // validate and verify report what annotate refuses, and change nothing either.
        let sb = Sandbox::new();
        sb.dir("m", &files);
        for args in [
            &["validate", "m/dup.yaml"][..],
            &[
                "verify",
                "-a",
                "revision=a",
                "--keys",
                "revision",
                "m/dup.yaml",
            ][..],
        ] {
            let out = sb.stamp(args).run();
            out.status(1);
            assert!(said(out.line("duplicate-key")), "{args:?}\n{out}");
        }
        let read = std::fs::read_to_string(sb.path().join("m/dup.yaml")).expect("read back");
        assert_eq!(read, text);
    }
    // The premise, from kubectl itself: of two `revision` keys it keeps the last, so a
    // stamp written over the first would not be what Kubernetes reads.
    let sb = Sandbox::new();
    let text = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    {REV}: a\n    {REV}: b\n"
    );
    sb.dir("m", &[("dup.yaml", text.as_str())]);
    if let Some(objects) = crate::kube::kubectl(&sb, "m/dup.yaml", "", "example.com/x") {
        assert_eq!(
            objects[0]["metadata"]["annotations"][REV], "b",
            "{objects:?}"
        );
    }
    // With --pod-template, the way down to the pod template's annotations counts too.
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      annotations:\n        a: x\n        a: y\n    spec:\n      containers: []\n";
    let files = [("d.yaml", deploy)];
    let (out, after) = stamp_files(&files, &["--pod-template"], &["m/d.yaml"]);
    out.status(1);
    assert!(
        out.line("duplicate-key")
            .contains("Deployment/web: `spec.template.metadata.annotations` holds the key `a`"),
        "{out}"
    );
    unchanged(&files, &after, &out);
}

#[test]
fn an_anchored_annotation_is_refused_and_anchors_elsewhere_keep_their_meaning() {
    let text = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    {REV}: &r old\ndata: {{r: *r}}\n");
    let files = [("a.yaml", text.as_str())];
    let (out, after) = stamp_files(&files, &[], &["m/a.yaml"]);
    out.status(1);
    assert!(
        out.line("yaml-alias").contains(&format!(
            "m/a.yaml: ConfigMap/a: `metadata.annotations` `{REV}` carries a YAML anchor"
        )),
        "{out}"
    );
    unchanged(&files, &after, &out);

    // An anchor on another annotation, or elsewhere, is left as it is: every node but the
    // stamped entries reads the same before and after.
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: &l\n    app: web\n  annotations:\n    team: &t platform\ndata:\n  owner: *t\n  labels: *l\n";
    let files = [("b.yaml", text)];
    let (out, after) = stamp_files(&files, &[], &["m/b.yaml"]);
    out.ok();
    let new = &after["b.yaml"];
    let (before, mut now) = (
        yaml12(text).expect("YAML before"),
        yaml12(new).expect("YAML after"),
    );
    let ann = &now[0]["metadata"]["annotations"];
    assert_eq!(
        ann[REV].as_str(),
        Some("0123456789abcdef0123456789abcdef01234567"),
        "{new}"
    );
    assert_eq!(ann["team"].as_str(), Some("platform"), "{new}");
    // kubectl reads the stamp, and the alias elsewhere still reads `platform`.
    let valid = new.replace("  labels: *l\n", "");
    if let Some(objects) = kubectl_reads(&valid) {
        let o = &objects[0];
        assert_eq!(
            o["metadata"]["annotations"][REV], "0123456789abcdef0123456789abcdef01234567",
            "{valid}"
        );
        assert_eq!(o["data"]["owner"], "platform", "{valid}");
        assert_eq!(o["metadata"]["labels"]["app"], "web", "{valid}");
    }
    if let Yaml::Hash(ann) = &mut now[0]["metadata"].as_mut_hash().expect("metadata")
        [&Yaml::String("annotations".into())]
    {
        ann.remove(&Yaml::String(REV.into()));
        ann.remove(&Yaml::String("org.opencontainers.image.created".into()));
    }
    assert_eq!(before, now, "{new}");
}

#[test]
fn yaml_that_is_not_yaml_is_refused_and_left_alone() {
    for (text, why) in [
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n\tteam: x\n",
            "line 6: not valid YAML: ",
        ),
        (
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n",
            "line 4: not valid YAML: ",
        ),
    ] {
        assert!(yaml12(text).is_err(), "{text}");
        let files = [("tab.yaml", text)];
        let (out, after) = stamp_files(&files, &[], &["m/tab.yaml"]);
        out.status(2);
        assert!(
            out.stderr.contains(&format!("error: m/tab.yaml: {why}")),
            "{out}"
        );
        unchanged(&files, &after, &out);
    }
}

#[test]
fn several_yaml_files_are_all_written_or_none_is() {
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n";
    let dup = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  annotations:\n    {REV}: a\n    {REV}: b\n");
    let helm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n";
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  annotations:\n    x: \"{}\"\n",
        "x".repeat(262_100)
    );
    // A refusal in the second file (exit 1), or an error in it (exit 2): the first, and
    // the third, are untouched — as a directory and as files.
    for (bad, status, says) in [
        (
            dup.as_str(),
            1,
            "m/b.yaml: ConfigMap/dup: `metadata.annotations` holds the key",
        ),
        (
            helm,
            2,
            "error: m/b.yaml: line 4: `{{` outside a quoted string",
        ),
        (
            big.as_str(),
            1,
            "m/b.yaml: ConfigMap/big: its annotations would total",
        ),
        ("a: [unclosed\n", 2, "error: m/b.yaml: "),
    ] {
        let files = [("a.yaml", good), ("b.yaml", bad), ("c.yaml", good)];
        for targets in [&["m"][..], &["m/a.yaml", "m/b.yaml", "m/c.yaml"]] {
            let (out, after) = stamp_files(&files, &[], targets);
            out.status(status);
            assert!(out.stderr.contains(says), "{out}");
            assert!(out.stderr.contains("note: nothing was written"), "{out}");
            assert_eq!(out.stdout, "", "{out}");
            unchanged(&files, &after, &out);
        }
    }
    // All good: all written, and kubectl reads the stamp from each.
    let files = [("a.yaml", good), ("c.yaml", good)];
    let (out, after) = stamp_files(&files, &[], &["m"]);
    out.ok();
    for text in after.values() {
        if let Some(objects) = kubectl_reads(text) {
            assert_eq!(
                objects[0]["metadata"]["annotations"][REV],
                "0123456789abcdef0123456789abcdef01234567",
                "{text}"
            );
        }
    }
}

/// The objects kubectl (`annotate --local --dry-run=client`) reads from a YAML text; `None`
/// when kubectl is not installed (a failure under CI).
fn kubectl_reads(text: &str) -> Option<Vec<serde_json::Value>> {
    crate::kube::kubectl(&Sandbox::new(), "-", text, "example.com/read")
}

#[test]
fn kind_must_name_kinds_that_are_there() {
    let good = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: good\n";
    let files = [("a.yaml", good)];
    for (kind, says) in [
        ("Nope,,", "error: --kind `Nope,,` holds an empty kind"),
        (",", "holds an empty kind"),
        ("Nope", "error: --kind `Nope` matches no object in the Kubernetes YAML targets (the kinds there: ConfigMap)"),
        ("ConfigMap,Nope", "--kind `Nope` matches no object"),
    ] {
        let (out, after) = stamp_files(&files, &["--kind", kind], &["m/a.yaml"]);
        out.status(2);
        assert!(out.stderr.contains(says), "{out}");
        unchanged(&files, &after, &out);
    }
    let (out, after) = stamp_files(&files, &["--kind", "configmap"], &["m/a.yaml"]);
    out.ok();
    assert!(after["a.yaml"].contains(REV), "{out}");
}

// ---------------------------------------------------------------------------------------
// Image layouts: limits hold, reads cannot hang or balloon.

use crate::harness::sha256;
use std::path::PathBuf;

const CONFIG: &str =
    r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// A layout `name` whose `index.json` names one manifest blob holding `manifest` (the text;
/// `None`: a valid manifest), with its descriptor's size spelled `size` (`None`: right).
fn layout(
    sb: &Sandbox,
    name: &str,
    manifest: Option<&str>,
    size: Option<&str>,
) -> (PathBuf, String) {
    let dir = sb.path().join(name);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs");
    let config_digest = sha256(CONFIG.as_bytes());
    std::fs::write(blobs.join(&config_digest[7..]), CONFIG).expect("config");
    let valid = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[]}}"#,
        CONFIG.len()
    );
    let manifest = manifest.map_or(valid, str::to_string);
    let digest = sha256(manifest.as_bytes());
    std::fs::write(blobs.join(&digest[7..]), &manifest).expect("manifest");
    let size = size.map_or(manifest.len().to_string(), str::to_string);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{size}}}]}}"#
        ),
    )
    .expect("index.json");
    (dir, digest)
}

/// Every file under `dir` (symbolic links as their target's name) and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            let meta = std::fs::symlink_metadata(&p).expect("lstat");
            if meta.file_type().is_symlink() {
                let to = std::fs::read_link(&p).expect("readlink");
                out.insert(p, to.into_os_string().into_encoded_bytes());
            } else if meta.is_dir() {
                todo.push(p);
            } else if meta.is_file() {
                out.insert(p.clone(), std::fs::read(&p).expect("read"));
            } else {
                out.insert(p, b"(special)".to_vec());
            }
        }
    }
    out
}

/// `annotate` and `validate` on the layout: both end within seconds with `status` and
/// standard error holding `says`, and nothing under the layout changed.
fn refused(sb: &Sandbox, dir: &Path, status: i32, says: &str) {
    let before = snapshot(dir);
    let shown = dir.display().to_string();
    let out = timed(
        sb,
        &[
            "annotate",
            "--created",
            "@1704164645",
            "-a",
            "version=1",
            &shown,
        ],
    );
    assert_eq!(out.0, Some(status), "annotate {shown}: {}", out.1);
    assert!(
        out.1.contains(says),
        "annotate {shown}: lacks `{says}`: {}",
        out.1
    );
    assert_eq!(snapshot(dir), before, "annotate changed {shown}");
    let out = timed(sb, &["validate", &shown]);
    assert_ne!(out.0, Some(0), "validate {shown}: {}", out.1);
    assert!(
        out.1.contains(says),
        "validate {shown}: lacks `{says}`: {}",
        out.1
    );
    assert_eq!(snapshot(dir), before, "validate changed {shown}");
}

/// Runs oci-stamp, killed after 20 s (a read that blocks fails the test rather than
/// hanging it); the exit status and standard error.
fn timed(sb: &Sandbox, args: &[&str]) -> (Option<i32>, String) {
    let mut child = sb
        .command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run oci-stamp");
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} did not end within 20 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(unix)]
#[test]
fn special_files_in_a_layout_are_refused_without_blocking() {
    let sb = Sandbox::new();
    // A manifest blob that is a link to /dev/zero, or a FIFO; index.json a FIFO.
    let (dir, digest) = layout(&sb, "zero", None, None);
    let blob = dir.join("blobs/sha256").join(&digest[7..]);
    std::fs::remove_file(&blob).expect("rm");
    std::os::unix::fs::symlink("/dev/zero", &blob).expect("symlink");
    refused(&sb, &dir, 2, "is a character device, not a regular file");

    let (dir, digest) = layout(&sb, "fifo", None, None);
    let blob = dir.join("blobs/sha256").join(&digest[7..]);
    std::fs::remove_file(&blob).expect("rm");
    sb.tool("mkfifo", &[blob.to_str().expect("UTF-8")]);
    refused(&sb, &dir, 2, "is a FIFO, not a regular file");

    let (dir, _) = layout(&sb, "fifo-index", None, None);
    std::fs::remove_file(dir.join("index.json")).expect("rm");
    sb.tool("mkfifo", &[dir.join("index.json").to_str().expect("UTF-8")]);
    refused(&sb, &dir, 2, "index.json: is a FIFO, not a regular file");

    // index.json a link (to a file of the layout's own): refused before any blob is written.
    let (dir, _) = layout(&sb, "linked-index", None, None);
    std::fs::rename(dir.join("index.json"), dir.join("real-index.json")).expect("mv");
    std::os::unix::fs::symlink("real-index.json", dir.join("index.json")).expect("symlink");
    refused(&sb, &dir, 2, "index.json: is a symbolic link");

    // Special files given as the target.
    sb.tool("mkfifo", &[sb.path().join("pipe").to_str().expect("UTF-8")]);
    for (target, says) in [
        (
            "/dev/null",
            "/dev/null: is a character device, not a file or a directory",
        ),
        (
            "/dev/zero",
            "/dev/zero: is a character device, not a file or a directory",
        ),
        ("pipe", "pipe: is a FIFO, not a file or a directory"),
    ] {
        for cmd in ["annotate", "validate"] {
            let out = timed(&sb, &[cmd, target]);
            assert_eq!(out.0, Some(2), "{cmd} {target}: {}", out.1);
            assert!(out.1.contains(says), "{cmd} {target}: {}", out.1);
        }
    }
}

#[test]
fn what_is_no_manifest_is_refused_by_annotate_and_reported_by_validate() {
    let sb = Sandbox::new();
    for (i, (manifest, says)) in [
        ("null", "is JSON null, not a manifest or index"),
        ("[]", "is JSON an array, not a manifest or index"),
        (r#""text""#, "is JSON a string, not a manifest or index"),
        ("42", "is JSON a number, not a manifest or index"),
        ("{}", "without `schemaVersion` 2"),
    ]
    .into_iter()
    .enumerate()
    {
        let (dir, _) = layout(&sb, &format!("doc{i}"), Some(manifest), None);
        refused(&sb, &dir, 2, says);
    }
    for (i, (size, says)) in [
        ("1", "but its descriptor says 1"),
        ("-1", "size `-1` is not a non-negative integer"),
        (r#""12""#, r#"size `\"12\"` is not a number"#),
        ("12.5", "size `12.5` is not a non-negative integer"),
    ]
    .into_iter()
    .enumerate()
    {
        let (dir, _) = layout(&sb, &format!("size{i}"), None, Some(size));
        refused(&sb, &dir, 2, says);
    }
    // A blob whose content is not what its digest says.
    let (dir, digest) = layout(&sb, "mismatch", None, None);
    let blob = dir.join("blobs/sha256").join(&digest[7..]);
    let text = std::fs::read_to_string(&blob).expect("read");
    std::fs::write(&blob, text.replace("\"layers\":[]", "\"layers\":[ ]")).expect("write");
    // (its size no longer matches either; the digest is what is said first)
    refused(&sb, &dir, 2, "does not match its digest");
    // Over 4 MiB.
    let big = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{}},"layers":[],"x":"{}"}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let (dir, _) = layout(&sb, "big", Some(&big), None);
    refused(&sb, &dir, 2, "is no manifest or index");
    // oci-layout: not JSON, or an unknown version.
    for (i, (marker, says)) in [
        ("1.0.0", "oci-layout: is not a JSON object"),
        (
            r#"{"imageLayoutVersion":"2.0.0"}"#,
            "imageLayoutVersion `2.0.0` is not one this reads",
        ),
        (
            r#"{"imageLayoutVersion":1}"#,
            "has no string `imageLayoutVersion`",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (dir, _) = layout(&sb, &format!("marker{i}"), None, None);
        std::fs::write(dir.join("oci-layout"), marker).expect("oci-layout");
        refused(&sb, &dir, 2, says);
    }
    // And a good one passes both.
    let (dir, _) = layout(&sb, "good", None, None);
    let shown = dir.display().to_string();
    let out = timed(&sb, &["validate", &shown]);
    assert_eq!(out.0, Some(0), "{}", out.1);
}

#[test]
fn annotate_writes_no_manifest_over_the_limit_it_reads() {
    let sb = Sandbox::new();
    let config_digest = sha256(CONFIG.as_bytes());
    // Just under 4 MiB; the stamp takes it over.
    let filler = 4 * 1024 * 1024 - 400;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[],"annotations":{{"x":"{}"}}}}"#,
        CONFIG.len(),
        "x".repeat(filler)
    );
    assert!(manifest.len() < 4 * 1024 * 1024);
    let (dir, _) = layout(&sb, "near", Some(&manifest), None);
    let before = snapshot(&dir);
    let shown = dir.display().to_string();
    let desc = "d".repeat(2000);
    let out = timed(
        &sb,
        &[
            "annotate",
            "--created",
            "@1704164645",
            "-a",
            &format!("description={desc}"),
            &shown,
        ],
    );
    assert_eq!(out.0, Some(1), "{}", out.1);
    assert!(out.1.contains("error[document-size]: "), "{}", out.1);
    assert_eq!(snapshot(&dir), before);
    // A small value still fits.
    let out = timed(
        &sb,
        &[
            "annotate",
            "--created",
            "@1704164645",
            "-a",
            "version=1",
            &shown,
        ],
    );
    assert_eq!(out.0, Some(0), "{}", out.1);
}
