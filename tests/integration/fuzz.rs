//! The fuzz targets of `fuzz/` on stable, in every test run: each target gets its corpus
//! (`fuzz/corpus/TARGET/`) and the inputs that once broke it (`fuzz/regressions/TARGET/`),
//! then a seeded stream of mutations of them — bit flips, byte and token insertions,
//! deletions, duplications, splices — for a bounded number of runs.
//!
//! The run is deterministic: `OCI_STAMP_FUZZ_SEED` changes the seed and
//! `OCI_STAMP_FUZZ_RUNS` the number of mutated inputs per target (for longer runs by hand;
//! the real coverage-guided fuzzing is `cargo +nightly fuzz run TARGET` in `fuzz/`). A
//! failing input is written to the system's temporary directory and named in the panic, to
//! be kept in `fuzz/regressions/TARGET/`.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::Rng;

#[path = "../../fuzz/src/lib.rs"]
#[allow(dead_code)]
pub(crate) mod targets;

/// Mutated inputs per target, unless `OCI_STAMP_FUZZ_RUNS` says otherwise.
const DEFAULT_RUNS: u64 = 1500;
/// The most one target may take, whatever the number of runs.
const TIME_LIMIT: Duration = Duration::from_secs(8);
/// The largest input the mutator makes.
const MAX_LEN: usize = 8 * 1024;

/// Tokens the mutator inserts: the syntax of every input language the targets read.
pub(crate) const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "'",
    "\\",
    "\\u0000",
    "\\ud800",
    "\n",
    "\r\n",
    "\t",
    " ",
    "null",
    "true",
    "-1e999",
    "0.10",
    "\"annotations\"",
    "\"manifests\"",
    "\"mediaType\"",
    "\"application/vnd.oci.image.index.v1+json\"",
    "\"application/vnd.oci.image.manifest.v1+json\"",
    "\"application/vnd.docker.distribution.manifest.v2+json\"",
    "\"platform\"",
    "{\"os\":\"linux\",\"architecture\":\"amd64\"}",
    "\"config\"",
    "\"layers\"",
    "\"subject\"",
    "---\n",
    "...\n",
    "metadata:\n",
    "  annotations:\n",
    "    a: b\n",
    "apiVersion: v1\n",
    "kind: List\n",
    "items:\n- ",
    "spec:\n  template:\n",
    "&a ",
    "*a",
    "!!str ",
    "? ",
    "- ",
    "|\n",
    ">-\n",
    "# c\n",
    "{{ x }}",
    "manifest",
    "index",
    "manifest-descriptor",
    "index-descriptor",
    "[linux/arm64/v8]",
    "=",
    "org.opencontainers.image.",
    "created",
    "T",
    "Z",
    "+23:59",
    "-00:00",
    ".999999999",
    "@",
    "9999-12-31T23:59:60",
    "0000-01-01",
    "2024-02-29",
    " OR ",
    " AND ",
    " WITH ",
    "(",
    ")",
    "+",
    "LicenseRef-",
    "MIT",
    "Apache-2.0",
    "GPL-2.0",
    "https://",
    "ssh://",
    "user:secret-TOKEN@",
    "?private_token=",
    "%40",
    "#frag",
    "\u{0}",
    "\u{85}",
    "\u{2028}",
    "\u{feff}",
    "\u{1F980}",
    "$(",
    "`",
    "$$",
    "'\\''",
];

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..=rng.below(4) {
        let len = input.len();
        match rng.below(8) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(16)).min(len);
                input.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let piece = input[start..end].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, piece);
            }
            5 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                if !other.is_empty() {
                    let start = rng.below(other.len());
                    let end = (start + 1 + rng.below(128)).min(other.len());
                    let at = rng.below(len + 1);
                    input.splice(at..at, other[start..end].iter().copied());
                }
            }
            _ => {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(len + 1);
                input.splice(at..at, token.iter().copied());
            }
        }
    }
    input.truncate(MAX_LEN);
}

fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    files.sort();
    files
}

/// Runs the target on one input; a panic becomes a saved input and a failure naming it.
fn check(name: &str, target: fn(&[u8]), input: &[u8], origin: &str) {
    let result = panic::catch_unwind(AssertUnwindSafe(|| target(input)));
    if let Err(cause) = result {
        let message = cause
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| cause.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_default();
        let saved = std::env::temp_dir().join(format!("oci-stamp-fuzz-{name}-{:016x}", fnv(input)));
        let _ = std::fs::write(&saved, input);
        panic!(
            "fuzz target `{name}` failed on {origin} (saved as {}; keep it in fuzz/regressions/{name}/):\n{:?}\n{message}",
            saved.display(),
            String::from_utf8_lossy(input)
        );
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn env_number(var: &str) -> Option<u64> {
    std::env::var(var).ok()?.trim().parse().ok()
}

fn fuzz(name: &str) {
    let target = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no fuzz target `{name}`"))
        .1;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let corpus = files_in(&root.join("corpus").join(name));
    let regressions = files_in(&root.join("regressions").join(name));
    assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ is empty");
    for (path, bytes) in corpus.iter().chain(&regressions) {
        check(name, target, bytes, &path.display().to_string());
    }
    let seeds: Vec<Vec<u8>> = corpus
        .iter()
        .chain(&regressions)
        .map(|(_, b)| b.clone())
        .collect();
    let seed = env_number("OCI_STAMP_FUZZ_SEED").unwrap_or(0x0c1_57a3b);
    let runs = env_number("OCI_STAMP_FUZZ_RUNS").unwrap_or(DEFAULT_RUNS);
    let limit = if std::env::var_os("OCI_STAMP_FUZZ_RUNS").is_some() {
        Duration::MAX
    } else {
        TIME_LIMIT
    };
    let mut rng = Rng(seed ^ fnv(name.as_bytes()));
    let start = Instant::now();
    for run in 0..runs {
        if start.elapsed() > limit {
            eprintln!("note: fuzz target `{name}`: stopped after {run} runs (time limit)");
            break;
        }
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &mut input, &seeds);
        check(
            name,
            target,
            &input,
            &format!("mutated run {run} (seed {seed:#x})"),
        );
    }
}

#[test]
fn fuzz_validate() {
    fuzz("validate");
}

#[test]
fn fuzz_levels() {
    fuzz("levels");
}

#[test]
fn fuzz_git_index() {
    fuzz("git_index");
}

#[test]
fn fuzz_created() {
    fuzz("created");
}

#[test]
fn fuzz_license() {
    fuzz("license");
}

#[test]
fn fuzz_manifest() {
    fuzz("manifest");
}

#[test]
fn fuzz_kubernetes_yaml() {
    fuzz("kubernetes_yaml");
}

#[test]
fn fuzz_render() {
    fuzz("render");
}

#[test]
fn every_target_has_a_libfuzzer_binary_and_a_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in targets::TARGETS {
        let file = root.join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert!(
            text.contains(&format!("oci_stamp_fuzz::{name}(data)")),
            "{}",
            file.display()
        );
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] {name}"
        );
        assert!(
            root.join("corpus").join(name).is_dir(),
            "no corpus for {name}"
        );
    }
}

/// The git index corpus is what git wrote (versions 2, 3 with extended flags, and 4), and
/// the dirty check's reader reads it: the same paths in each, the cached root tree where
/// git keeps one.
#[test]
fn git_index_corpus_reads_as_git_wrote_it() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/git_index");
    for (file, with_root) in [("v2-tree", true), ("v3-extended", false), ("v4-tree", true)] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let (paths, root) = oci_stamp::fuzzing::parse_git_index(&bytes)
            .unwrap_or_else(|| panic!("{file} is not read"));
        let paths: Vec<String> = paths
            .iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(paths, ["a/b/c.txt", "link", "top.txt"], "{file}");
        if with_root {
            assert_eq!(root.map(|r| r.len()), Some(20), "{file}");
        }
    }
}
