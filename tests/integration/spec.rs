//! A declarative test, in the spirit of `just`'s `Test`: a repository and its files, the
//! arguments, environment and standard input go in; the expected exit status, standard
//! output, standard error and files come out, all checked together by [`Test::run`].
//! Standard error that is not stated must be empty, and a file that is not stated to change
//! must be byte-for-byte as it was.

use std::collections::BTreeMap;

use crate::harness::{Output, Sandbox};

/// What is expected of a stream.
enum Expect {
    Exactly(String),
    Contains(Vec<String>),
}

pub struct Test {
    files: Vec<(String, Vec<u8>)>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<Vec<u8>>,
    status: i32,
    stdout: Expect,
    stderr: Expect,
    changed: BTreeMap<String, Vec<u8>>,
}

impl Test {
    /// A repository with one commit holding the files given with [`Test::file`].
    pub fn new() -> Self {
        Test {
            files: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            status: 0,
            stdout: Expect::Exactly(String::new()),
            stderr: Expect::Exactly(String::new()),
            changed: BTreeMap::new(),
        }
    }

    pub fn file(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.files.push((path.into(), contents.as_ref().to_vec()));
        self
    }

    pub fn args<const N: usize>(mut self, args: [&str; N]) -> Self {
        self.args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = Some(bytes.as_ref().to_vec());
        self
    }

    pub fn status(mut self, code: i32) -> Self {
        self.status = code;
        self
    }

    pub fn stdout(mut self, text: &str) -> Self {
        self.stdout = Expect::Exactly(text.into());
        self
    }

    /// Standard output holds each of these (the rest may vary: digests, times).
    pub fn stdout_has(mut self, parts: &[&str]) -> Self {
        self.stdout = Expect::Contains(parts.iter().map(|p| p.to_string()).collect());
        self
    }

    pub fn stderr(mut self, text: &str) -> Self {
        self.stderr = Expect::Exactly(text.into());
        self
    }

    /// Standard error holds each of these.
    pub fn stderr_has(mut self, parts: &[&str]) -> Self {
        self.stderr = Expect::Contains(parts.iter().map(|p| p.to_string()).collect());
        self
    }

    /// The file is expected to hold exactly this after the run.
    pub fn file_becomes(mut self, path: &str, contents: impl AsRef<[u8]>) -> Self {
        self.changed.insert(path.into(), contents.as_ref().to_vec());
        self
    }

    /// Runs the binary in the repository and checks everything stated (and that nothing
    /// else happened). Returns the output for further checks.
    pub fn run(self) -> Output {
        let sb = Sandbox::new();
        let repo = sb.repo("src");
        for (path, contents) in &self.files {
            repo.write(path, contents);
        }
        repo.commit("initial");
        let mut stamp = repo.stamp(&self.args);
        for (k, v) in &self.env {
            stamp = stamp.env(k, v);
        }
        if let Some(bytes) = &self.stdin {
            stamp = stamp.stdin(bytes.clone());
        }
        let out = stamp.run();
        out.status(self.status);
        check("standard output", &out.stdout, &self.stdout, &out);
        check("standard error", &out.stderr, &self.stderr, &out);
        for (path, before) in &self.files {
            let now = std::fs::read(repo.path.join(path)).expect("read a test file back");
            let want = self.changed.get(path).unwrap_or(before);
            assert!(
                &now == want,
                "{path}: expected {}\n--- found ---\n{}\n{out}",
                if self.changed.contains_key(path) {
                    "the stated contents"
                } else {
                    "no change"
                },
                String::from_utf8_lossy(&now)
            );
        }
        out
    }
}

fn check(name: &str, got: &str, want: &Expect, out: &Output) {
    match want {
        Expect::Exactly(text) => assert_eq!(got, text, "unexpected {name}\n{out}"),
        Expect::Contains(parts) => {
            for p in parts {
                assert!(got.contains(p.as_str()), "{name} lacks `{p}`\n{out}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Standard input: read once, never empty where a document is expected.

const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef","size":2},"layers":[]}"#;

#[test]
fn standard_input_feeds_one_reader_only() {
    Test::new()
        .args(["annotate", "--annotation-file", "-", "-"])
        .stdin(MANIFEST)
        .status(2)
        .stderr("error: standard input can feed `--annotation-file -` or the target `-`, not both; give one of them a file\n")
        .run();
    Test::new()
        .args(["annotate", "-", "-"])
        .stdin(MANIFEST)
        .status(2)
        .stderr("error: `-` (standard input) can be given once\n")
        .run();
}

#[test]
fn an_empty_standard_input_is_named_not_read_as_a_document() {
    for args in [
        ["annotate", "-a", "version=1", "-"],
        ["validate", "-", "", ""],
        ["collect", "--annotation-file", "-", "--format=json"],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        let sb = Sandbox::new();
        let repo = sb.repo("src");
        repo.commit("initial");
        let out = repo.stamp(&args).stdin("").run();
        out.status(2);
        assert!(
            out.stderr.contains("standard input (for ")
                && out.stderr.contains("is empty or closed"),
            "{out}"
        );
        assert_eq!(out.stdout, "", "{out}");
    }
}

#[test]
fn validate_reads_kubernetes_yaml_on_standard_input() {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    org.opencontainers.image.revison: abc\n";
    Test::new()
        .args(["validate", "-"])
        .stdin(yaml)
        .status(1)
        .stderr_has(&[
            "error[unknown-oci-key]: -: ConfigMap/cm: `org.opencontainers.image.revison`",
            "did you mean `org.opencontainers.image.revision`?",
        ])
        .run();
}

#[test]
fn the_declarative_harness_catches_what_it_must() {
    // A stated file that does not change, and unstated standard error, both fail the test.
    let unchanged = std::panic::catch_unwind(|| {
        Test::new()
            .file("m.json", MANIFEST)
            .args(["annotate", "-a", "version=1", "m.json"])
            .stdout_has(&["m.json"])
            .run()
    });
    assert!(unchanged.is_err(), "a rewritten file passed as unchanged");
    let noisy = std::panic::catch_unwind(|| Test::new().args(["validate", "-a", "foo=bar"]).run());
    assert!(
        noisy.is_err(),
        "an unstated warning passed as an empty standard error"
    );
}

#[test]
fn annotate_changes_only_the_annotations_of_a_manifest_file() {
    // Only `version` is stamped (the other collected keys are removed with `-a KEY=`); an
    // empty OCI_STAMP_LEVEL counts as unset, so the level is the default `manifest`.
    let stamped = MANIFEST.replace(
        r#""layers":[]}"#,
        r#""layers":[],"annotations":{"org.opencontainers.image.version":"1"}}"#,
    );
    Test::new()
        .file("m.json", MANIFEST)
        .args([
            "annotate",
            "-a",
            "revision=",
            "-a",
            "created=",
            "-a",
            "title=",
            "-a",
            "version=1",
            "m.json",
        ])
        .env("OCI_STAMP_LEVEL", "")
        .stdout_has(&["m.json: file sha256:"])
        .file_becomes("m.json", &stamped)
        .run();
    Test::new()
        .file("m.json", MANIFEST)
        .args([
            "annotate",
            "--dry-run",
            "--format",
            "json",
            "-a",
            "version=1",
            "-a",
            "revision=",
            "-a",
            "created=",
            "-a",
            "title=",
            "m.json",
        ])
        .stdout_has(&[r#""written": false"#])
        .run();
    Test::new()
        .args(["validate", "--format", "json", "-a", "version=1"])
        .stdout("[]\n")
        .run();
}

#[test]
fn validate_without_arguments_checks_the_checkout() {
    // A repository with one commit: created, revision and title (the directory name).
    Test::new()
        .args(["validate"])
        .stdout(".: 3 annotations collected, all valid\n")
        .run();
    Test::new()
        .args(["validate", "--format", "json"])
        .stdout("[]\n")
        .run();
    Test::new()
        .args(["validate"])
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .status(2)
        .stderr_has(&["SOURCE_DATE_EPOCH", "`yesterday`"])
        .run();
}

#[test]
fn validate_takes_a_layouts_index_json_as_the_layout_does() {
    // ref.name on index.json's descriptors is where it belongs, however the file is named.
    let fixture = crate::harness::fixtures().join("layouts/containers-image-multiple-images");
    let index = std::fs::read_to_string(fixture.join("index.json")).expect("fixture");
    assert!(index.contains("org.opencontainers.image.ref.name"));
    let out = Test::new()
        .file("layout/oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#)
        .file("layout/index.json", &index)
        .args(["validate", "layout/index.json"])
        .run();
    assert_eq!(out.stderr, "");
    // A loose index (not a layout's) with ref.name on its descriptors is warned about.
    Test::new()
        .file("loose/index.json", &index)
        .args(["validate", "loose/index.json"])
        .stderr_has(&["warning[ref-name-level]: loose/index.json → descriptor"])
        .run();
}

/// `collect --format env` with `created` the only annotation left.
const ONLY_CREATED: [&str; 7] = [
    "collect",
    "--format",
    "env",
    "-a",
    "revision=",
    "-a",
    "title=",
];

/// `created` is written in one form, UTC in whole seconds, whichever way it is given, and a
/// change is said: `-a created=…`, `--created DATE-TIME` and an annotation file alike.
#[test]
fn created_is_written_in_utc_seconds_and_the_change_is_said() {
    let normal = "OCI_IMAGE_CREATED=2024-01-02T03:04:05Z\n";
    for args in [
        ["-a", "created=2024-01-02T05:04:05.5+02:00"],
        ["--created", "2024-01-02T05:04:05.5+02:00"],
        ["--annotation-file", "a.txt"],
    ] {
        Test::new()
            .file("a.txt", "created=2024-01-01T22:04:05-05:00\n")
            .args(ONLY_CREATED)
            .args(args)
            .stdout(normal)
            .stderr_has(&[
                "warning[created-normalised]",
                "written as `2024-01-02T03:04:05Z` (UTC, whole seconds)",
            ])
            .run();
    }
    // Already in the written form: as given, and nothing said.
    Test::new()
        .args(ONLY_CREATED)
        .args(["-a", "created=2024-01-02T03:04:05Z"])
        .stdout(normal)
        .run();
    // --explain says where it came from and that it changed.
    Test::new()
        .args(["collect", "--explain", "-a", "revision=", "-a", "title="])
        .args(["-a", "created=2024-01-02T03:04:05.000Z"])
        .stdout_has(&["normalised from `2024-01-02T03:04:05.000Z`"])
        .stderr_has(&["warning[created-normalised]"])
        .run();
}
