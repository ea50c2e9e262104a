//! The bad-input corpus in `tests/bad-inputs/`: every case of `cases.toml` run against the
//! real binary in a fresh copy of the directory, with its exit status, its message, no
//! panic, and no file changed unless the case says it writes. Inputs too large to keep in
//! the repository (a 50 MB manifest, a 1 MB value, nesting 100,000 deep) are generated here.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::harness::Sandbox;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    stdin: Option<String>,
    status: i32,
    stderr: Option<String>,
    stdout: Option<String>,
    #[serde(default)]
    writes: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    case: Vec<Case>,
}

/// The longest any one case may take (the 50 MB manifest included).
const CASE_LIMIT: Duration = Duration::from_secs(10);

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-inputs")
}

/// The large inputs, written into `dir`.
fn generate(dir: &Path) {
    fs::create_dir_all(dir.join("empty-dir")).expect("create empty-dir");
    // A valid manifest of 50 MB: a config and 50 MB of layer descriptors.
    let digest = format!("sha256:{}", "a".repeat(64));
    let layer = format!(
        r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{digest}","size":1}}"#
    );
    let head = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{digest}","size":2}},"layers":["#
    );
    const SIZE: usize = 50 * 1024 * 1024;
    let mut big = String::with_capacity(SIZE);
    big.push_str(&head);
    while big.len() + 2 * layer.len() + 4 < SIZE {
        big.push_str(&layer);
        big.push(',');
    }
    big.push_str(&layer);
    big.push_str("]}");
    while big.len() < SIZE - 1 {
        big.push(' ');
    }
    big.push('\n');
    fs::write(dir.join("manifest-50mb.json"), &big).expect("write manifest-50mb.json");

    let deep =
        |open: &str, close: &str| format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
    fs::write(dir.join("deep.json"), deep(r#"{"a":"#, "}")).expect("deep.json");
    fs::write(dir.join("deep-annotations.json"), deep(r#"{"a":"#, "}"))
        .expect("deep-annotations.json");
    fs::write(dir.join("deep-flow.yaml"), deep("[", "]")).expect("deep-flow.yaml");
    let block: String = (0..300)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    fs::write(
        dir.join("deep-block.yaml"),
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n{block}"),
    )
    .expect("deep-block.yaml");
    fs::write(
        dir.join("deep-dashes.yaml"),
        format!("{}x\n", "- ".repeat(100_000)),
    )
    .expect("deep-dashes.yaml");
    fs::write(
        dir.join("value-1mb.json"),
        format!(r#"{{"com.example.big": "{}"}}"#, "x".repeat(1024 * 1024)),
    )
    .expect("value-1mb.json");
}

/// `bytes:` arguments and values: `\xNN` escapes become raw bytes.
fn os(arg: &str) -> OsString {
    let Some(text) = arg.strip_prefix("bytes:") else {
        return OsString::from(arg);
    };
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'\\' && tail.first() == Some(&b'x') && tail.len() >= 3 {
            let hex = std::str::from_utf8(&tail[1..3]).expect("hex digits");
            bytes.push(u8::from_str_radix(hex, 16).expect("hex digits"));
            rest = &tail[3..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    OsString::from_vec(bytes)
}

/// Every file under `dir`: size, inode and modification time (a rewrite by rename changes
/// the inode, one in place the time), and the bytes of the small ones.
fn state(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for e in fs::read_dir(dir)
            .expect("read directory")
            .filter_map(Result::ok)
        {
            let path = e.path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            if meta.is_dir() {
                walk(&path, out);
            }
            let content = if meta.is_file() && meta.len() < 64 * 1024 {
                String::from_utf8_lossy(&fs::read(&path).expect("read")).into_owned()
            } else {
                String::new()
            };
            out.insert(
                path,
                format!(
                    "{} {} {}.{} {content}",
                    meta.len(),
                    meta.ino(),
                    meta.mtime(),
                    meta.mtime_nsec()
                ),
            );
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    fs::create_dir_all(to).expect("create directory");
    for e in fs::read_dir(from)
        .expect("read corpus")
        .filter_map(Result::ok)
    {
        fs::copy(e.path(), to.join(e.file_name())).expect("copy input");
    }
}

#[test]
fn every_bad_input_is_refused_as_the_corpus_says() {
    let text = fs::read_to_string(corpus().join("cases.toml")).expect("read cases.toml");
    let cases: Cases = toml::from_str(&text).unwrap_or_else(|e| panic!("cases.toml: {e}"));
    assert!(cases.case.len() > 50, "{} cases", cases.case.len());
    let sb = Sandbox::new();
    let gen = sb.path().join("gen");
    generate(&gen);
    let inputs = sb.path().join("in");
    let generated = state(&gen);
    let mut failures = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for case in &cases.case {
        assert!(
            names.insert(&case.name),
            "two cases are named `{}`",
            case.name
        );
        copy_dir(&corpus(), &inputs);
        let pristine = state(&inputs);
        let fill = |s: &str| {
            s.replace("{in}", &inputs.display().to_string())
                .replace("{gen}", &gen.display().to_string())
        };
        let mut run = sb.stamp(case.args.iter().map(|a| os(&fill(a))));
        for (k, v) in &case.env {
            run = run.env(k, os(v));
        }
        if let Some(file) = &case.stdin {
            run = run.stdin(fs::read(corpus().join(file)).expect("read stdin file"));
        }
        let start = Instant::now();
        let out = run.run();
        let took = start.elapsed();
        let mut problems = Vec::new();
        if out.status != case.status {
            problems.push(format!(
                "exit status {}, expected {}",
                out.status, case.status
            ));
        }
        if let Some(want) = &case.stderr {
            if !out.stderr.contains(&fill(want)) {
                problems.push(format!("standard error lacks {:?}", fill(want)));
            }
        }
        if let Some(want) = &case.stdout {
            if !out.stdout.contains(&fill(want)) {
                problems.push(format!("standard output lacks {:?}", fill(want)));
            }
        }
        if case.status != 0 && case.stderr.is_none() {
            problems.push("a failing case must say what standard error holds".into());
        }
        // One line per problem: no error line runs over into the next.
        if out.status != 0 && !out.stderr.lines().any(|l| l.starts_with("error")) {
            problems.push("no `error` line on standard error".into());
        }
        if !case.writes && state(&inputs) != pristine {
            problems.push("a file of the input directory changed".into());
        }
        if state(&gen) != generated {
            problems.push("a generated input changed".into());
        }
        if took > CASE_LIMIT {
            problems.push(format!("took {took:?}"));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "case `{}`: {}\n{}",
                case.name,
                problems.join("; "),
                out
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.case.len(),
        failures.join("\n\n")
    );
}
