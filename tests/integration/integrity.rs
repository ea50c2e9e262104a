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
        // A strict reader refuses it too; kubectl would read the last one.
        assert!(yaml12(&text).is_err(), "{text}");
        let files = [("dup.yaml", text.as_str())];
        let (out, after) = stamp_files(&files, &[], &["m/dup.yaml"]);
        out.status(1);
        let line = out.line("duplicate-key");
        assert!(
            line.contains("m/dup.yaml: ConfigMap/a: ")
                && line.contains(&format!("{place} holds the key `{key}` more than once")),
            "{out}"
        );
        unchanged(&files, &after, &out);
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
    // All good: all written.
    let files = [("a.yaml", good), ("c.yaml", good)];
    let (out, after) = stamp_files(&files, &[], &["m"]);
    out.ok();
    assert!(after.values().all(|t| t.contains(REV)), "{out}");
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
