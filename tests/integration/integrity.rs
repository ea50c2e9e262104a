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
