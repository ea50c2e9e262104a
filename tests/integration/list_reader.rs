//! The `annotations`/`labels` lists (the `collect --format annotations|labels` renderings and
//! the GitHub outputs of the same names) read back by the real reader: docker/build-push-action
//! reads those inputs with actions-toolkit's `Util.getInputList(name, {ignoreComma: true})`,
//! which is csv-parse with `relax_quotes`, fields joined with `,`, items trimmed.
//! `tests/node/get-input-list.js` does those steps with the csv-parse build-push-action bundles
//! (7.0.0, pinned in `tests/node/package-lock.json`, installed by `.ci/run` with `npm ci`).
//!
//! Every hostile value the suite has (those of outputs.rs, properties.rs and fuzz.rs, and the
//! ones issue 16 found) must come back as its `KEY=VALUE` item byte for byte, or be refused
//! (a format) or left out with a warning (the GitHub outputs), naming its key, exactly when
//! JavaScript's trim would change it. Without node or the package the tests are skipped with
//! a note, except under CI (`CI` set), where they fail.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::{json, Value};

use crate::consumers::read_github_output;
use crate::harness::{have, Output, Sandbox};

/// The csv-parse version build-push-action bundles (its dist/licenses.txt and yarn.lock).
const CSV_PARSE: &str = "7.0.0";

/// What issue 16 found, and values close to it.
const FOUND: &[&str] = &[
    "x,\"y",
    "z\",w",
    "\"",
    "\"\"",
    "\"quoted\"",
    "a,\"b\",c",
    "a,\"\"",
    ",\"",
    "\",",
    "a,\"b\nc\",d",
    "trailing spaces   ",
    "   ",
    " ",
    "\t",
    "ends with no-break space\u{a0}",
    "ends with a BOM\u{feff}",
    "ends with NEL\u{85}",
    "ends with a line separator\u{2028}",
    "\u{3000}ideographic space first",
    "ripgrep is a line-oriented search tool that recursively searches the current\n\
     directory for a regex pattern while respecting gitignore rules. ripgrep has\n\
     first class support on Windows, macOS and Linux.",
    "\r\nfirst a CRLF",
    "\rfirst a CR",
    "\nfirst an LF",
    "mixed\r\nline\nends\rhere.",
    "a\"\"\"b",
    "\"\n\"",
    "# not a comment",
    "main,\"release\"",
];

/// The reader, when node and the pinned csv-parse are installed.
pub(crate) struct ListReader {
    script: PathBuf,
}

/// One list as the reader gave it back: the items, or the parser's error.
pub(crate) type Read = Result<Vec<String>, String>;

impl ListReader {
    /// The reader; `None` (with a note) when node or `tests/node/node_modules` is missing,
    /// which fails the test under CI.
    pub(crate) fn find() -> Option<Self> {
        if !have("node") {
            return None;
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/node");
        let package = dir.join("node_modules/csv-parse/package.json");
        if !package.is_file() {
            assert!(
                std::env::var_os("CI").is_none(),
                "csv-parse is not installed in tests/node, and CI is set: run `npm ci` there \
                 (`.ci/run` does)"
            );
            eprintln!("note: csv-parse is not installed (`npm ci` in tests/node); skipping");
            return None;
        }
        let installed: Value =
            serde_json::from_slice(&std::fs::read(&package).expect("read its package.json"))
                .expect("its package.json is JSON");
        assert_eq!(
            installed["version"], CSV_PARSE,
            "tests/node holds another csv-parse than build-push-action's: run `npm ci` there"
        );
        Some(ListReader {
            script: dir.join("get-input-list.js"),
        })
    }

    /// Reads each list as build-push-action reads an input; for each value, whether it ends
    /// in nothing JavaScript's trim removes.
    pub(crate) fn read(
        &self,
        sb: &Sandbox,
        lists: &[String],
        values: &[&str],
    ) -> (Vec<Read>, Vec<bool>) {
        let request = json!({ "lists": lists, "values": values }).to_string();
        let mut child = sb
            .command("node")
            .arg(&self.script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run node");
        let mut input = child.stdin.take().expect("piped");
        let writer = std::thread::spawn(move || input.write_all(request.as_bytes()));
        let out = child.wait_with_output().expect("wait for node");
        writer.join().expect("writer").expect("write to node");
        assert!(
            out.status.success(),
            "node failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let reply: Value = serde_json::from_slice(&out.stdout).expect("node's reply is JSON");
        assert_eq!(reply["version"], CSV_PARSE);
        let lists = reply["lists"]
            .as_array()
            .expect("lists")
            .iter()
            .map(|l| match l.as_array() {
                Some(items) => Ok(items
                    .iter()
                    .map(|i| i.as_str().expect("a string item").to_string())
                    .collect()),
                None => Err(l["error"].as_str().expect("an error").to_string()),
            })
            .collect();
        let kept = reply["kept"]
            .as_array()
            .expect("kept")
            .iter()
            .map(|b| b.as_bool().expect("a bool"))
            .collect();
        (lists, kept)
    }
}

/// Every hostile value of the suite (but NUL, which no argument holds, and the empty value,
/// which removes its key).
fn hostile() -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    values.extend(crate::outputs::VALUES.iter().map(|v| (*v).to_string()));
    values.extend(crate::fuzz::TOKENS.iter().map(|v| (*v).to_string()));
    values.extend(FOUND.iter().map(|v| (*v).to_string()));
    for c in crate::properties::TRICKY {
        // alone, at either end, and after a comma (where a quote opens a field)
        values.extend([
            c.to_string(),
            format!("a{c}"),
            format!("{c}a"),
            format!("a,{c}b"),
            format!("a,{c}"),
        ]);
    }
    values.retain(|v| !v.is_empty() && !v.contains('\0'));
    let mut seen = std::collections::BTreeSet::new();
    values.retain(|v| seen.insert(v.clone()));
    values
}

fn key(i: usize) -> String {
    format!("com.example.v{i:03}")
}

/// `-a KEY=VALUE` for each value, after a fixed `created` and the words.
fn args(words: &[&str], values: &[(usize, &str)]) -> Vec<String> {
    let mut args: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    args.extend(["--created".into(), "@1704164645".into()]);
    for (i, v) in values {
        args.extend(["-a".into(), format!("{}={v}", key(*i))]);
    }
    args
}

/// The items a list must give back for these values: `PREFIXKEY=VALUE`, in key order.
fn items(prefix: &str, values: &[(usize, &str)]) -> Vec<String> {
    let mut map: BTreeMap<String, &str> = values.iter().map(|(i, v)| (key(*i), *v)).collect();
    map.insert(
        "org.opencontainers.image.created".into(),
        "2024-01-02T03:04:05Z",
    );
    map.iter()
        .map(|(k, v)| format!("{prefix}{k}={v}"))
        .collect()
}

/// The keys of the `severity[list-blanks]` lines, asserting each names one key.
fn blank_keys(ran: &Output, severity: &str) -> Vec<String> {
    let tag = format!("{severity}[list-blanks]: the value of `");
    ran.stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&tag))
        .map(|rest| {
            rest.split_once('`')
                .expect("a key in backticks")
                .0
                .to_string()
        })
        .collect()
}

fn stamp(sb: &Sandbox, args: &[String]) -> Output {
    sb.stamp(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .run()
}

/// The runs of one case: every `(format args, item prefix)`, each output list and what it
/// must give back.
struct Case {
    lists: Vec<String>,
    want: Vec<Vec<String>>,
    shown: Vec<String>,
}

impl Case {
    fn new() -> Self {
        Case {
            lists: Vec::new(),
            want: Vec::new(),
            shown: Vec::new(),
        }
    }

    fn push(&mut self, list: String, want: Vec<String>, shown: String) {
        self.lists.push(list);
        self.want.push(want);
        self.shown.push(shown);
    }

    fn check(&self, sb: &Sandbox, reader: &ListReader) {
        let (read, _) = reader.read(sb, &self.lists, &[]);
        for (i, got) in read.iter().enumerate() {
            let want = &self.want[i];
            match got {
                Ok(items) => {
                    if items != want {
                        let first = items
                            .iter()
                            .zip(want)
                            .position(|(a, b)| a != b)
                            .unwrap_or(items.len().min(want.len()));
                        panic!(
                            "{}: the reader gave back {} items for {} expected; first \
                             difference at item {first}: got {:?}, want {:?}\n--- list ---\n{:?}",
                            self.shown[i],
                            items.len(),
                            want.len(),
                            items.get(first),
                            want.get(first),
                            self.lists[i]
                        );
                    }
                }
                Err(e) => panic!(
                    "{}: the reader failed: {e}\n--- list ---\n{:?}",
                    self.shown[i], self.lists[i]
                ),
            }
        }
    }
}

#[test]
fn lists_come_back_through_build_push_actions_reader() {
    let Some(reader) = ListReader::find() else {
        return;
    };
    let sb = Sandbox::new();
    let values = hostile();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    assert!(values.len() > 200, "{}", values.len());
    // Which values survive the reader's final trim, by JavaScript's own trim.
    let (_, kept) = reader.read(&sb, &[], &refs);
    let all: Vec<(usize, &str)> = refs.iter().copied().enumerate().collect();
    let listed: Vec<(usize, &str)> = all.iter().copied().filter(|(i, _)| kept[*i]).collect();
    let trimmed: Vec<String> = all
        .iter()
        .filter(|(i, _)| !kept[*i])
        .map(|(i, _)| key(*i))
        .collect();
    assert!(trimmed.len() > 20 && listed.len() > 150, "{trimmed:?}");

    let mut case = Case::new();
    let formats: [(&[&str], &str); 4] = [
        (&["collect", "-f", "labels"], ""),
        (&["collect", "-f", "annotations"], "manifest:"),
        (
            &[
                "collect",
                "-f",
                "annotations",
                "--level",
                "index,manifest[linux/arm64]",
            ],
            "index,manifest[linux/arm64]:",
        ),
        (
            &[
                "collect",
                "-f",
                "annotations",
                "--level",
                "manifest-descriptor,index",
            ],
            "manifest-descriptor,index:",
        ),
    ];
    for (words, prefix) in formats {
        // The values the list can hold: all together, then each alone (first and last line
        // of the input, where the reader's trim and its line-break detection act).
        let ran = stamp(&sb, &args(words, &listed));
        ran.ok();
        case.push(
            ran.stdout.clone(),
            items(prefix, &listed),
            format!("{words:?}"),
        );
        for v in &listed {
            let ran = stamp(&sb, &args(words, &[*v]));
            ran.ok();
            case.push(
                ran.stdout.clone(),
                items(prefix, &[*v]),
                format!("{words:?} {v:?}"),
            );
        }
        // With the others too: refused, naming exactly the keys whose values the trim
        // would change, and nothing printed.
        let ran = stamp(&sb, &args(words, &all));
        ran.status(1);
        assert_eq!(ran.stdout, "", "{ran}");
        assert_eq!(blank_keys(&ran, "error"), trimmed, "{ran}");
    }

    // The GitHub outputs: every value at once; those the trim would change are left out of
    // the two lists with a warning each, and are exact in `json`.
    let ran = stamp(&sb, &args(&["collect", "-f", "github"], &all));
    ran.ok();
    assert_eq!(blank_keys(&ran, "warning"), trimmed, "{ran}");
    let (outputs, _) = read_github_output(&ran.stdout);
    case.push(
        outputs["labels"].clone(),
        items("", &listed),
        "github labels".into(),
    );
    case.push(
        outputs["annotations"].clone(),
        items("manifest:", &listed),
        "github annotations".into(),
    );
    let json: BTreeMap<String, String> = serde_json::from_str(&outputs["json"]).expect("json");
    for (i, v) in &all {
        assert_eq!(json.get(&key(*i)).map(String::as_str), Some(*v), "{ran}");
    }
    case.check(&sb, &reader);
}

/// The reader is the one the issue describes: without the quoting, two lines with quotes
/// merge into one item, and a lone opening quote fails the step. (This holds the test's
/// reader to the behaviour the lists are written for: if it quoted nothing, the test above
/// could not fail.)
#[test]
fn the_reader_merges_and_fails_on_unquoted_quotes() {
    let Some(reader) = ListReader::find() else {
        return;
    };
    let sb = Sandbox::new();
    let raw = [
        "com.example.a=x,\"y\ncom.example.b=z\",w".to_string(),
        "com.example.a=x,\"y".to_string(),
        "com.example.a=trailing  ".to_string(),
    ];
    let (read, kept) = reader.read(&sb, &raw, &["a ", " a", "a\u{85}", "a\u{feff}"]);
    assert_eq!(
        read[0],
        Ok(vec!["com.example.a=x,y\ncom.example.b=z,w".to_string()])
    );
    assert!(read[1]
        .as_ref()
        .is_err_and(|e| e.contains("Quote Not Closed")));
    assert_eq!(read[2], Ok(vec!["com.example.a=trailing".to_string()]));
    assert_eq!(kept, [false, true, true, false]);
}
