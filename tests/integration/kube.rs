//! `oci-stamp annotate` on Kubernetes YAML: every object (a document with `apiVersion` and
//! `kind`, and the items of `…List` kinds) gets `metadata.annotations`, and nothing else in
//! the file changes by a byte. Values are checked with the real `kubectl`, which reads YAML
//! as YAML 1.1 (where `y`, `no`, `1_000` or `0x1F` are not strings).
//!
//! Every run is in a plain directory (not a git repository), with `--created` fixed, so the
//! stamped set is exactly the `-a` values plus `created`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::harness::{Output, Sandbox};

const CREATED_FLAG: &str = "@1704164645";
const CREATED: &str = "2024-01-02T03:04:05Z";
const CREATED_KEY: &str = "org.opencontainers.image.created";
/// The one warning every run here gives: the sandbox is not a git repository.
const NO_GIT: &str = "warning[no-git]: ";

/// `oci-stamp annotate --created @… ARGS`, run in the sandbox directory.
fn annotate(sb: &Sandbox, args: &[&str]) -> Output {
    let mut all = vec!["annotate", "--created", CREATED_FLAG];
    all.extend_from_slice(args);
    sb.stamp(all).run()
}

/// Standard error without the `no-git` warning.
fn problems(out: &Output) -> Vec<&str> {
    out.stderr_lines()
        .into_iter()
        .filter(|l| !l.starts_with(NO_GIT))
        .collect()
}

/// A file in a new directory `m` of the sandbox; returns its path relative to the sandbox
/// (as the runs name it) and its full path.
fn file(sb: &Sandbox, name: &str, text: &str) -> (String, PathBuf) {
    let dir = sb.dir("m", &[(name, text)]);
    (format!("m/{name}"), dir.join(name))
}

fn read(path: &Path) -> String {
    String::from_utf8(std::fs::read(path).expect("read file")).expect("UTF-8")
}

/// The output with the lines the tool inserts removed: the entries of `keys` (`key: "…"`,
/// the key possibly double-quoted), then every `annotations:` or `metadata:` line left
/// without children (the ones the tool created). Asserts how many entries it removed.
fn strip_inserted(out: &str, keys: &[&str], entries: usize) -> String {
    let content = |l: &str| l.trim_end_matches(['\n', '\r']).to_string();
    let indent = |l: &str| content(l).len() - content(l).trim_start().len();
    let is_entry = |l: &str| {
        let t = content(l);
        let t = t.trim_start();
        keys.iter()
            .any(|k| t.starts_with(&format!("{k}: \"")) || t.starts_with(&format!("\"{k}\": \"")))
    };
    let all: Vec<&str> = out.split_inclusive('\n').collect();
    let mut kept: Vec<&str> = all.iter().copied().filter(|l| !is_entry(l)).collect();
    assert_eq!(
        all.len() - kept.len(),
        entries,
        "inserted entries in\n{out}"
    );
    loop {
        let childless = (0..kept.len()).find(|&i| {
            let t = content(kept[i]);
            let t = t.trim_start();
            if t != "annotations:" && t != "metadata:" {
                return false;
            }
            match kept[i + 1..].iter().find(|n| !content(n).trim().is_empty()) {
                None => true,
                Some(n) => {
                    let n_text = content(n);
                    indent(n) <= indent(kept[i])
                        || n_text.starts_with("---")
                        || n_text.starts_with("...")
                }
            }
        });
        match childless {
            Some(i) => {
                kept.remove(i);
            }
            None => break,
        }
    }
    kept.concat()
}

/// `kubectl annotate --local -f FILE -o json --dry-run=client KEY=1` (FILE may be `-`, read
/// from `stdin`): every object kubectl read, as JSON. `None` when kubectl is not installed
/// (a failure under CI).
pub(crate) fn kubectl(sb: &Sandbox, file: &str, stdin: &str, dummy: &str) -> Option<Vec<Value>> {
    let spawned = sb
        .command("kubectl")
        .args(["annotate", "--local", "-f", file, "-o", "json"])
        .args(["--dry-run=client", &format!("{dummy}=1")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("CI").is_none(),
                "kubectl is not installed, and CI needs it"
            );
            eprintln!("note: kubectl is not installed; skipping the kubectl check");
            return None;
        }
        Err(e) => panic!("cannot run kubectl: {e}"),
    };
    let mut input = child.stdin.take().expect("stdin is piped");
    input.write_all(stdin.as_bytes()).expect("write to kubectl");
    drop(input);
    let out = child.wait_with_output().expect("wait for kubectl");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        out.status.success(),
        "kubectl failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let objects: Vec<Value> = serde_json::Deserializer::from_str(&stdout)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("kubectl printed no JSON stream: {e}\n{stdout}"));
    // A `List` printed as one object: its items.
    Some(
        objects
            .into_iter()
            .flat_map(|o| match o["items"].as_array() {
                Some(items) if o["kind"] == "List" => items.clone(),
                _ => vec![o],
            })
            .collect(),
    )
}

/// `kind/name` and the annotations of each object kubectl read.
fn annotations_of(objects: &[Value]) -> Vec<(String, Vec<(String, Value)>)> {
    objects
        .iter()
        .map(|o| {
            let name = format!(
                "{}/{}",
                o["kind"].as_str().unwrap_or("?"),
                o["metadata"]["name"].as_str().unwrap_or("?")
            );
            let ann = o["metadata"]["annotations"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            (name, ann)
        })
        .collect()
}

/// Sorted `(key, string value)` pairs.
fn expected(pairs: &[(&str, &str)]) -> Vec<(String, Value)> {
    let mut v: Vec<(String, Value)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String((*v).to_string())))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn sorted(mut v: Vec<(String, Value)>) -> Vec<(String, Value)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

// ---- lossless editing ----------------------------------------------------------------------

/// Comments (top, trailing, inside a mapping, between documents), blank lines, key order,
/// quoting, anchors and aliases, block scalars, `---` and `...`, a document that is not an
/// object, one without `apiVersion`, an empty document.
const STREAM: &str = r#"# top comment: the whole stream
apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata:
  name: web
  labels: &labels
    app: "web"
    tier: 'front'

  # a comment inside metadata
spec:
  replicas: 2
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
    spec:
      containers:
        - name: web
          image: "nginx:1.25"
          args: ['--a', "--b"]
          command:
            - sh
            - -c
            - |
              echo one

              echo two
---
# between documents
foo: bar
list: [1, 2]
---
---
kind: NotAnObject
note: no apiVersion here
---
apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    existing.example/key: 'keep me'   # keep this comment
    other: "x"
  name: settings
data:
  folded: >-
    folded
    text
  plain: yes
  empty: ""
...
---
apiVersion: v1
kind: ConfigMap
data:
  k: v
...
"#;

const STREAM_KEYS: &[&str] = &["com.example/v1", CREATED_KEY];

#[test]
fn every_object_is_stamped_and_every_other_byte_is_kept() {
    let sb = Sandbox::new();
    let (name, path) = file(&sb, "all.yaml", STREAM);
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.ok();
    assert_eq!(problems(&out), Vec::<&str>::new(), "{out}");
    assert_eq!(
        out.stdout,
        "m/all.yaml: stamped Deployment/web\nm/all.yaml: stamped ConfigMap/settings\nm/all.yaml: stamped ConfigMap/(unnamed)\n",
        "{out}"
    );
    let new = read(&path);
    // Three objects, two entries each.
    assert_eq!(strip_inserted(STREAM, STREAM_KEYS, 0), STREAM);
    assert_eq!(strip_inserted(&new, STREAM_KEYS, 6), STREAM, "{new}");
    // Where the entries went: a new block after the last metadata entry, the end of an
    // existing block (before `name:`), a new `metadata:` at the end of the object.
    assert!(
        new.contains("    tier: 'front'\n  annotations:\n    com.example/v1: \"y\"\n    org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n\n  # a comment inside metadata\n"),
        "{new}"
    );
    assert!(
        new.contains("    other: \"x\"\n    com.example/v1: \"y\"\n    org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n  name: settings\n"),
        "{new}"
    );
    assert!(
        new.ends_with("data:\n  k: v\nmetadata:\n  annotations:\n    com.example/v1: \"y\"\n    org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n...\n"),
        "{new}"
    );
}

#[test]
fn crlf_line_endings_are_kept_on_every_line() {
    let sb = Sandbox::new();
    let crlf = STREAM.replace('\n', "\r\n");
    let (name, path) = file(&sb, "crlf.yaml", &crlf);
    annotate(&sb, &["-a", "com.example/v1=y", &name]).ok();
    let new = read(&path);
    assert_eq!(strip_inserted(&new, STREAM_KEYS, 6), crlf, "{new:?}");
    let lines: Vec<&str> = new.split_inclusive('\n').collect();
    assert_eq!(lines.len(), crlf.split_inclusive('\n').count() + 9);
    for line in lines {
        assert!(line.ends_with("\r\n"), "{line:?} in {new:?}");
        assert!(!line[..line.len() - 2].contains('\r'), "{line:?}");
    }
}

#[test]
fn a_missing_final_newline_stays_missing() {
    let sb = Sandbox::new();
    for (file_name, eol) in [("lf.yaml", "\n"), ("crlf.yaml", "\r\n")] {
        // Entries inserted in the middle of the file, and at its very end.
        let middle = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v"
            .replace('\n', eol);
        let end = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b".replace('\n', eol);
        for (n, text) in [middle, end].iter().enumerate() {
            let (name, path) = file(&sb, &format!("{n}{file_name}"), text);
            annotate(&sb, &["-a", "com.example/v1=y", &name]).ok();
            let new = read(&path);
            let entries = format!(
                "  annotations:{eol}    com.example/v1: \"y\"{eol}    {CREATED_KEY}: \"{CREATED}\""
            );
            let want = if n == 0 {
                text.replace(
                    &format!("  name: a{eol}"),
                    &format!("  name: a{eol}{entries}{eol}"),
                )
            } else {
                format!("{text}{eol}{entries}")
            };
            assert_eq!(new, want, "{file_name} #{n}");
        }
    }
}

#[test]
fn new_annotations_are_indented_as_the_file_is() {
    // yaml-edit indents a mapping it adds by two; a file indented by four (or a List item
    // after `-   `) gets four, as yamllint (`indentation: {spaces: consistent}`) wants.
    let sb = Sandbox::new();
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n    name: four\n    labels:\n        app: four\nspec:\n    template:\n        metadata:\n            labels:\n                app: four\n        spec:\n            containers:\n                - name: c\n                  image: nginx\n---\napiVersion: v1\nkind: List\nitems:\n    -   apiVersion: v1\n        kind: ConfigMap\n        metadata:\n            name: item\n";
    let (name, path) = file(&sb, "four.yaml", text);
    let args = ["-a", "com.example/v1=y", "--pod-template", &name];
    annotate(&sb, &args).ok();
    let e = |indent: &str| {
        format!("{indent}annotations:\n{indent}    com.example/v1: \"y\"\n{indent}    {CREATED_KEY}: \"{CREATED}\"\n")
    };
    let want = text
        .replace(
            "        app: four\nspec:",
            &format!("        app: four\n{}spec:", e("    ")),
        )
        .replace(
            "                app: four\n        spec:",
            &format!(
                "                app: four\n{}        spec:",
                e("            ")
            ),
        )
        .replace(
            "            name: item\n",
            &format!("            name: item\n{}", e("            ")),
        );
    let new = read(&path);
    assert_eq!(new, want);
    let again = annotate(&sb, &args);
    assert_eq!(again.stdout, "m/four.yaml: unchanged\n", "{again}");
    assert_eq!(read(&path), new);
}

#[test]
fn flow_mappings_and_changed_values_are_edited_in_place() {
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: svc, labels: {a: b}}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    com.example/v1: \"old\"   # why\n    keep: 'x'\n";
    let (name, path) = file(&sb, "flow.yaml", text);
    annotate(&sb, &["-a", "com.example/v1=y", &name]).ok();
    assert_eq!(
        read(&path),
        "apiVersion: v1\nkind: Service\nmetadata: {name: svc, labels: {a: b}, annotations: {com.example/v1: \"y\", org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"}}\nspec:\n  ports: [{port: 80}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    com.example/v1: \"y\"   # why\n    keep: 'x'\n    org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n"
    );
}

// ---- values and keys stay strings ----------------------------------------------------------

/// Values a YAML reader would take for a bool, a number, null, a date, a mapping or a
/// comment, unless they are quoted.
const TRICKY: &[(&str, &str)] = &[
    ("com.example/v1", "y"),
    ("com.example/v2", "no"),
    ("com.example/v3", "1_000"),
    ("com.example/v4", "0x1F"),
    ("com.example/v5", "null"),
    ("com.example/v6", "~"),
    ("com.example/v7", "2024-01-01"),
    ("com.example/v8", "a: b"),
    ("com.example/v9", "#x"),
    ("com.example/v10", "line one\nline two\n  indented\n"),
    ("com.example/v11", r#"say "hi" \n \\ 'single' \"#),
    ("com.example/v12", "🚀 ünïcode ✓"),
    ("com.example/v13", "on"),
    ("com.example/v14", "012"),
    ("com.example/v15", "1e3"),
    ("com.example/v16", ".inf"),
    ("com.example/v17", "- item"),
    ("com.example/v18", "[a, b]"),
    ("com.example/v19", "&anchor"),
    ("com.example/v20", "*alias"),
    ("com.example/v21", "!!int 1"),
];

fn tricky_args() -> Vec<String> {
    TRICKY
        .iter()
        .flat_map(|(k, v)| ["-a".to_string(), format!("{k}={v}")])
        .collect()
}

const TWO_OBJECTS: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  k: v\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    existing.example/key: 'kept'\nspec:\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: c\n        image: nginx\n";

#[test]
fn tricky_values_read_back_as_the_same_strings_in_kubectl() {
    let sb = Sandbox::new();
    let (name, path) = file(&sb, "deploy.yaml", TWO_OBJECTS);
    let args = tricky_args();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.push(&name);
    let out = annotate(&sb, &all);
    out.ok();
    assert_eq!(
        out.stdout, "m/deploy.yaml: stamped ConfigMap/cm\nm/deploy.yaml: stamped Deployment/web\n",
        "{out}"
    );
    let new = read(&path);
    let Some(objects) = kubectl(&sb, "m/deploy.yaml", "", "some.dummy/key") else {
        return;
    };
    let mut want: Vec<(&str, &str)> = TRICKY.to_vec();
    want.push((CREATED_KEY, CREATED));
    want.push(("some.dummy/key", "1"));
    let cm = expected(&want);
    want.push(("existing.example/key", "kept"));
    let web = expected(&want);
    let got = annotations_of(&objects);
    assert_eq!(got.len(), 2, "{new}");
    assert_eq!(got[0].0, "ConfigMap/cm");
    assert_eq!(sorted(got[0].1.clone()), cm, "{new}");
    assert_eq!(got[1].0, "Deployment/web");
    assert_eq!(sorted(got[1].1.clone()), web, "{new}");
    // The pod template was not asked for.
    assert_eq!(
        objects[1]["spec"]["template"]["metadata"],
        serde_json::json!({"labels": {"app": "web"}})
    );
    // Stamping again changes nothing.
    let again = annotate(&sb, &all);
    again.ok();
    assert_eq!(again.stdout, "m/deploy.yaml: unchanged\n", "{again}");
    assert_eq!(read(&path), new);
}

#[test]
fn keys_that_look_like_yaml_values_stay_strings_in_kubectl() {
    let sb = Sandbox::new();
    let (name, path) = file(
        &sb,
        "keys.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n",
    );
    let keys = [
        "y", "n", "no", "on", "Off", "true", "1_000", "0x1F", "010", "1e3", "1.50",
    ];
    let mut args = Vec::new();
    for k in keys {
        args.push("-a".to_string());
        args.push(format!("{k}=v-{k}"));
    }
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.push(&name);
    annotate(&sb, &all).ok();
    let new = read(&path);
    let Some(objects) = kubectl(&sb, "m/keys.yaml", "", "some.dummy/key") else {
        return;
    };
    let values: Vec<String> = keys.iter().map(|k| format!("v-{k}")).collect();
    let mut want: Vec<(&str, &str)> = keys
        .iter()
        .zip(&values)
        .map(|(k, v)| (*k, v.as_str()))
        .collect();
    want.push((CREATED_KEY, CREATED));
    want.push(("some.dummy/key", "1"));
    let got = annotations_of(&objects);
    assert_eq!(got.len(), 1);
    assert_eq!(sorted(got[0].1.clone()), expected(&want), "{new}");
}

#[test]
fn an_existing_unquoted_value_equal_to_the_new_one_is_quoted() {
    // `y` unquoted is a bool to kubectl: "already there" would leave an object it cannot read.
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    com.example/v1: y # a bool to YAML 1.1\n    com.example/v2: 'no'\n";
    let (name, path) = file(&sb, "plain.yaml", text);
    let out = annotate(
        &sb,
        &["-a", "com.example/v1=y", "-a", "com.example/v2=no", &name],
    );
    out.ok();
    assert_eq!(out.stdout, "m/plain.yaml: stamped ConfigMap/cm\n", "{out}");
    assert_eq!(
        read(&path),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    com.example/v1: \"y\" # a bool to YAML 1.1\n    com.example/v2: 'no'\n    org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n"
    );
    let Some(objects) = kubectl(&sb, "m/plain.yaml", "", "x.y/z") else {
        return;
    };
    assert_eq!(
        sorted(annotations_of(&objects)[0].1.clone()),
        expected(&[
            ("com.example/v1", "y"),
            ("com.example/v2", "no"),
            (CREATED_KEY, CREATED),
            ("x.y/z", "1"),
        ])
    );
}

// ---- which objects -------------------------------------------------------------------------

#[test]
fn the_items_of_list_kinds_are_stamped() {
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n    annotations:\n      keep: \"k\"\n---\napiVersion: v1\nkind: ServiceList\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata:\n      name: s\n";
    let (name, path) = file(&sb, "list.yaml", text);
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.ok();
    assert_eq!(
        out.stdout,
        "m/list.yaml: stamped ConfigMap/a\nm/list.yaml: stamped Secret/b\nm/list.yaml: stamped Service/s\n",
        "{out}"
    );
    assert_eq!(
        read(&path),
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n    annotations:\n      com.example/v1: \"y\"\n      org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n    annotations:\n      keep: \"k\"\n      com.example/v1: \"y\"\n      org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n---\napiVersion: v1\nkind: ServiceList\nitems:\n  - apiVersion: v1\n    kind: Service\n    metadata:\n      name: s\n      annotations:\n        com.example/v1: \"y\"\n        org.opencontainers.image.created: \"2024-01-02T03:04:05Z\"\n"
    );
    let Some(objects) = kubectl(&sb, "m/list.yaml", "", "x.y/z") else {
        return;
    };
    let got = annotations_of(&objects);
    let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ConfigMap/a", "Secret/b", "Service/s"]);
    for (n, ann) in got {
        let mut want = vec![
            ("com.example/v1", "y"),
            (CREATED_KEY, CREATED),
            ("x.y/z", "1"),
        ];
        if n == "Secret/b" {
            want.push(("keep", "k"));
        }
        assert_eq!(sorted(ann), expected(&want), "{n}");
    }
}

const WORKLOADS: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: c\n        image: nginx\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: c\n            image: busybox\n";

#[test]
fn pod_templates_are_stamped_only_when_asked() {
    let sb = Sandbox::new();
    let (name, path) = file(&sb, "workloads.yaml", WORKLOADS);
    let out = annotate(&sb, &["-a", "com.example/v1=y", "--pod-template", &name]);
    out.ok();
    assert_eq!(
        out.stdout,
        "m/workloads.yaml: stamped Deployment/web\nm/workloads.yaml: stamped CronJob/nightly\n",
        "{out}"
    );
    let e = |indent: &str| {
        format!("{indent}annotations:\n{indent}  com.example/v1: \"y\"\n{indent}  {CREATED_KEY}: \"{CREATED}\"\n")
    };
    let want = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n{}spec:\n  template:\n    metadata:\n      labels:\n        app: web\n{}    spec:\n      containers:\n      - name: c\n        image: nginx\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\n{}spec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n          - name: c\n            image: busybox\n        metadata:\n{}",
        e("  "),
        e("      "),
        e("  "),
        e("          "),
    );
    assert_eq!(read(&path), want);
    if let Some(objects) = kubectl(&sb, "m/workloads.yaml", "", "x.y/z") {
        let stamped = serde_json::json!({"com.example/v1": "y", CREATED_KEY: CREATED});
        assert_eq!(
            objects[0]["spec"]["template"]["metadata"]["annotations"],
            stamped
        );
        assert_eq!(
            objects[1]["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"],
            stamped
        );
    }

    // Without the flag, only the objects' own metadata.
    let (name, path) = file(&sb, "plain.yaml", WORKLOADS);
    annotate(&sb, &["-a", "com.example/v1=y", &name]).ok();
    let want = WORKLOADS
        .replace("  name: web\n", &format!("  name: web\n{}", e("  ")))
        .replace(
            "  name: nightly\n",
            &format!("  name: nightly\n{}", e("  ")),
        );
    assert_eq!(read(&path), want);
}

#[test]
fn kind_limits_which_objects_are_stamped() {
    let sb = Sandbox::new();
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: ss\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n";
    let (name, path) = file(&sb, "mixed.yaml", text);
    let out = annotate(
        &sb,
        &[
            "-a",
            "com.example/v1=y",
            "--kind",
            "Deployment,StatefulSet",
            &name,
        ],
    );
    out.ok();
    assert_eq!(
        out.stdout, "m/mixed.yaml: stamped Deployment/d\nm/mixed.yaml: stamped StatefulSet/ss\n",
        "{out}"
    );
    let e =
        format!("  annotations:\n    com.example/v1: \"y\"\n    {CREATED_KEY}: \"{CREATED}\"\n");
    assert_eq!(
        read(&path),
        text.replace("  name: d\n", &format!("  name: d\n{e}"))
            .replace("  name: ss\n", &format!("  name: ss\n{e}"))
    );
}

// ---- refusals ------------------------------------------------------------------------------

#[test]
fn keys_kubernetes_rejects_refuse_the_file() {
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";
    let (name, path) = file(&sb, "deploy.yaml", text);
    let long = format!("com.example/{}", "a".repeat(64));
    let json = format!("{{\"com.example/a/b\": \"x\", \"{long}\": \"y\"}}");
    sb.dir("m", &[("bad.json", json.as_str())]);
    let out = annotate(&sb, &["--annotation-file", "m/bad.json", &name]);
    out.status(1);
    assert_eq!(out.stdout, "", "{out}");
    let hint = " — Kubernetes keys are `[prefix/]name`, e.g. `example.com/build-id`";
    let slash =
        "`com.example/a/b` is not a valid Kubernetes annotation key: a key holds at most one `/`";
    let length = format!(
        "`{long}` is not a valid Kubernetes annotation key: the name is 64 bytes long (at most 63)"
    );
    assert_eq!(
        problems(&out),
        [
            format!("error[kubernetes-key]: ConfigMap/cm: {slash}{hint}"),
            format!("error[kubernetes-key]: ConfigMap/cm: {length}{hint}"),
            format!("error[kubernetes-key]: Deployment/web: {slash}{hint}"),
            format!("error[kubernetes-key]: Deployment/web: {length}{hint}"),
        ],
        "{out}"
    );
    assert_eq!(read(&path), text);
}

#[test]
fn annotations_over_the_size_limit_refuse_the_file() {
    let sb = Sandbox::new();
    // `big` + its value + `com.example/v` + `1` + created's key and value.
    let room = 262_144 - 3 - "com.example/v".len() - 1 - CREATED_KEY.len() - CREATED.len();
    for (value_len, fits) in [(room, true), (room + 1, false)] {
        let text = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\n  annotations:\n    big: \"{}\"\n",
            "x".repeat(value_len)
        );
        let (name, path) = file(&sb, &format!("big{value_len}.yaml"), &text);
        let out = annotate(&sb, &["-a", "com.example/v=1", &name]);
        if fits {
            out.ok();
            assert_eq!(
                out.stdout,
                format!("{name}: stamped ConfigMap/big\n"),
                "{out}"
            );
            assert_eq!(
                read(&path),
                format!("{text}    com.example/v: \"1\"\n    {CREATED_KEY}: \"{CREATED}\"\n")
            );
        } else {
            out.status(1);
            assert_eq!(out.stdout, "", "{out}");
            assert_eq!(
                problems(&out),
                [format!("error[kubernetes-size]: {name}: ConfigMap/big: its annotations would total 262145 bytes, over the Kubernetes limit of 262144 — shorten or drop large values, or remove large existing annotations")],
                "{out}"
            );
            assert_eq!(read(&path), text);
        }
    }
}

#[test]
fn helm_templates_and_broken_yaml_are_refused() {
    let sb = Sandbox::new();
    let helm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.name }}\n";
    let (name, path) = file(&sb, "chart.yaml", helm);
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.status(2);
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(
        problems(&out),
        ["error: m/chart.yaml: line 4: `{{` outside a quoted string — this looks like a Helm or Go template, not YAML; render it first (`helm template … | oci-stamp annotate -`), or quote the value if the braces are text"],
        "{out}"
    );
    assert_eq!(read(&path), helm);

    // A template that is not even YAML: the parser's complaint, and where the template is.
    let helm = "{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{{ .Release.Name }}\"\n{{- end }}\n";
    let (name, path) = file(&sb, "if.yaml", helm);
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.status(2);
    let lines = problems(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("error: m/if.yaml: not valid YAML: ")
            && lines[0].ends_with("; the `{{` on line 1 suggests a Helm or Go template: render it first (`helm template … | oci-stamp annotate -`)"),
        "{out}"
    );
    assert_eq!(read(&path), helm);
    // `validate` says the same.
    let out = sb.stamp(["validate", "--kubernetes", &name]).run();
    out.status(2);
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
    assert!(
        out.stderr_lines()[0].starts_with("error: m/if.yaml: not valid YAML: ")
            && out.stderr_lines()[0].ends_with("; the `{{` on line 1 suggests a Helm or Go template: render it first (`helm template … | oci-stamp annotate -`)"),
        "{out}"
    );

    let broken = "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n  name: x\n";
    let (name, path) = file(&sb, "broken.yaml", broken);
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.status(2);
    assert_eq!(out.stdout, "", "{out}");
    let lines = problems(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("error: m/broken.yaml: not valid YAML: "),
        "{out}"
    );
    assert_eq!(read(&path), broken);
}

#[test]
fn metadata_that_merges_a_mapping_is_refused() {
    // `annotations` written beside `<<` would hide the merged ones: kubectl would read
    // only the stamped annotations, and `team` would be gone.
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    <<: {annotations: {team: platform}}\n    name: b\n";
    let (name, path) = file(&sb, "merge.yaml", text);
    if let Some(objects) = kubectl(&sb, "m/merge.yaml", "", "x.y/z") {
        assert_eq!(objects[0]["metadata"]["annotations"]["team"], "platform");
    }
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.status(1);
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(
        problems(&out),
        ["error[yaml-alias]: m/merge.yaml: ConfigMap/b: `metadata` merges a mapping (`<<:`); stamping it would change more than the annotations — make it a plain mapping (expand aliases with `yq 'explode(.)'`), then annotate"],
        "{out}"
    );
    assert_eq!(read(&path), text);
}

#[test]
fn braces_in_quoted_or_block_text_and_comments_are_no_template() {
    // Rendered manifests hold Go templates as text: Prometheus alert annotations, Argo
    // parameters, placeholders for envsubst. And a stamped value may hold `{{` itself.
    let sb = Sandbox::new();
    let text = "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: pods # {{ not a template }}\n  namespace: \"{{NAMESPACE}}\"\nspec:\n  groups:\n  - name: pods\n    rules:\n    - alert: KubePodCrashLooping\n      annotations:\n        description: 'Pod {{ $labels.namespace }}/{{ $labels.pod }} is crash looping.'\n        runbook: |\n          See {{ $labels.runbook }}\n        summary: !!str \"{{ $value }} restarts\"\n      expr: rate(kube_pod_container_status_restarts_total[5m]) > 0\n";
    let (name, path) = file(&sb, "rule.yaml", text);
    let args = ["-a", "com.example/tmpl={{ .Values.x }}", &name];
    let out = annotate(&sb, &args);
    out.ok();
    assert_eq!(
        out.stdout, "m/rule.yaml: stamped PrometheusRule/pods\n",
        "{out}"
    );
    let new = read(&path);
    assert_eq!(
        new,
        text.replace(
            "  namespace: \"{{NAMESPACE}}\"\n",
            &format!("  namespace: \"{{{{NAMESPACE}}}}\"\n  annotations:\n    com.example/tmpl: \"{{{{ .Values.x }}}}\"\n    {CREATED_KEY}: \"{CREATED}\"\n")
        )
    );
    // The `{{` written last time is a quoted string too.
    let again = annotate(&sb, &args);
    again.ok();
    assert_eq!(again.stdout, "m/rule.yaml: unchanged\n", "{again}");
    assert_eq!(read(&path), new);
    if let Some(objects) = kubectl(&sb, "m/rule.yaml", "", "x.y/z") {
        assert_eq!(
            objects[0]["metadata"]["annotations"]["com.example/tmpl"],
            "{{ .Values.x }}"
        );
    }

    // A plain `{{`, even inside a value, is a template's.
    let helm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{{ .Release.Name }}\"\ndata:\n  image: repo:{{ .Values.tag }}\n";
    let (name, path) = file(&sb, "plain.yaml", helm);
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.status(2);
    assert_eq!(
        problems(&out),
        ["error: m/plain.yaml: line 6: `{{` outside a quoted string — this looks like a Helm or Go template, not YAML; render it first (`helm template … | oci-stamp annotate -`), or quote the value if the braces are text"],
        "{out}"
    );
    assert_eq!(read(&path), helm);
}

#[test]
fn non_ascii_text_is_written_as_utf8_and_json_documents_stay_json() {
    // kubectl reads a document that starts with `{` as JSON, where yaml-edit's `\xE9` and
    // `\U0001F680` are no escapes; people read `\u65E5\u672C` no better.
    let sb = Sandbox::new();
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml\n---\n{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"json\"}}\n";
    let (name, path) = file(&sb, "utf8.yaml", text);
    let values = [
        ("com.example/text", "héllo ✓ 🚀 日本"),
        // Characters no reader takes raw: control characters (C0, DEL, C1), line and
        // paragraph separators (line breaks to YAML 1.1), a BOM.
        (
            "com.example/ctl",
            "a\u{1}b\u{7f}c\u{85}d\u{2028}e\u{feff}f\t",
        ),
        ("y", "1"),
    ];
    let args: Vec<String> = values
        .iter()
        .flat_map(|(k, v)| ["-a".to_string(), format!("{k}={v}")])
        .collect();
    let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
    all.push(&name);
    annotate(&sb, &all).ok();
    let new = read(&path);
    let ctl = r#""a\u0001b\u007Fc\u0085d\u2028e\uFEFFf\t""#;
    assert_eq!(
        new,
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml\n  annotations:\n    com.example/ctl: {ctl}\n    com.example/text: \"héllo ✓ 🚀 日本\"\n    {CREATED_KEY}: \"{CREATED}\"\n    \"y\": \"1\"\n---\n{{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"json\", \"annotations\": {{\"com.example/ctl\": {ctl}, \"com.example/text\": \"héllo ✓ 🚀 日本\", \"{CREATED_KEY}\": \"{CREATED}\", \"y\": \"1\"}}}}}}\n"
        )
    );
    let again = annotate(&sb, &all);
    assert_eq!(again.stdout, "m/utf8.yaml: unchanged\n", "{again}");
    let Some(objects) = kubectl(&sb, "m/utf8.yaml", "", "x.y/z") else {
        return;
    };
    let mut want = values.to_vec();
    want.push((CREATED_KEY, CREATED));
    want.push(("x.y/z", "1"));
    let got = annotations_of(&objects);
    assert_eq!(got.len(), 2, "{new}");
    for (object, ann) in got {
        assert_eq!(sorted(ann), expected(&want), "{object}");
    }
}

// ---- runs ----------------------------------------------------------------------------------

#[test]
fn a_file_already_stamped_is_not_rewritten() {
    let sb = Sandbox::new();
    let (name, path) = file(&sb, "deploy.yaml", TWO_OBJECTS);
    annotate(&sb, &["-a", "com.example/v1=y", &name]).ok();
    let stamped = std::fs::read(&path).expect("read");
    // An old mtime, so a rewrite (which would set it to now) shows.
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(old))
        .expect("set mtime");
    let out = annotate(&sb, &["-a", "com.example/v1=y", &name]);
    out.ok();
    assert_eq!(out.stdout, "m/deploy.yaml: unchanged\n", "{out}");
    assert_eq!(std::fs::read(&path).expect("read"), stamped);
    let mtime = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(mtime, old);
    // A changed value is written.
    let out = annotate(&sb, &["-a", "com.example/v1=z", &name]);
    assert_eq!(
        out.stdout, "m/deploy.yaml: stamped ConfigMap/cm\nm/deploy.yaml: stamped Deployment/web\n",
        "{out}"
    );
    assert_ne!(
        std::fs::metadata(&path)
            .and_then(|m| m.modified())
            .expect("mtime"),
        old
    );
}

#[test]
fn a_directory_is_annotated_file_by_file() {
    let sb = Sandbox::new();
    let cm = |n: &str| format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {n}\n");
    let (a, b, c, txt) = (cm("a"), cm("b"), cm("c"), cm("t"));
    let dir = sb.dir(
        "m",
        &[
            ("b.yml", b.as_str()),
            ("a.yaml", a.as_str()),
            ("c.YAML", c.as_str()),
            ("notes.txt", txt.as_str()),
            ("sub/d.yaml", a.as_str()),
        ],
    );
    let out = annotate(&sb, &["-a", "com.example/v1=y", "m"]);
    out.ok();
    assert_eq!(
        out.stdout,
        "m/a.yaml: stamped ConfigMap/a\nm/b.yml: stamped ConfigMap/b\nm/c.YAML: stamped ConfigMap/c\n",
        "{out}"
    );
    let e =
        format!("  annotations:\n    com.example/v1: \"y\"\n    {CREATED_KEY}: \"{CREATED}\"\n");
    assert_eq!(read(&dir.join("a.yaml")), format!("{a}{e}"));
    assert_eq!(read(&dir.join("b.yml")), format!("{b}{e}"));
    assert_eq!(read(&dir.join("c.YAML")), format!("{c}{e}"));
    assert_eq!(read(&dir.join("notes.txt")), txt);
    assert_eq!(read(&dir.join("sub/d.yaml")), a);
}

#[test]
fn standard_input_is_stamped_to_standard_output() {
    let sb = Sandbox::new();
    let out = sb
        .stamp([
            "annotate",
            "--created",
            CREATED_FLAG,
            "-a",
            "com.example/v1=no",
            "--pod-template",
            "-",
        ])
        .stdin(TWO_OBJECTS)
        .run();
    out.ok();
    assert_eq!(
        problems(&out),
        ["-: stamped ConfigMap/cm", "-: stamped Deployment/web"],
        "{out}"
    );
    let e = |indent: &str| {
        format!("{indent}  com.example/v1: \"no\"\n{indent}  {CREATED_KEY}: \"{CREATED}\"\n")
    };
    let want = TWO_OBJECTS
        .replace(
            "  name: cm\n",
            &format!("  name: cm\n  annotations:\n{}", e("  ")),
        )
        .replace(
            "    existing.example/key: 'kept'\n",
            &format!("    existing.example/key: 'kept'\n{}", e("  ")),
        )
        .replace(
            "      labels: {app: web}\n",
            &format!(
                "      labels: {{app: web}}\n      annotations:\n{}",
                e("      ")
            ),
        );
    assert_eq!(out.stdout, want);
    let Some(objects) = kubectl(&sb, "-", &out.stdout, "x.y/z") else {
        return;
    };
    let got = annotations_of(&objects);
    assert_eq!(got.len(), 2);
    let mut want = vec![
        ("com.example/v1", "no"),
        (CREATED_KEY, CREATED),
        ("x.y/z", "1"),
    ];
    assert_eq!(sorted(got[0].1.clone()), expected(&want));
    want.push(("existing.example/key", "kept"));
    assert_eq!(sorted(got[1].1.clone()), expected(&want));
    assert_eq!(
        objects[1]["spec"]["template"]["metadata"]["annotations"],
        serde_json::json!({"com.example/v1": "no", CREATED_KEY: CREATED})
    );
}

#[test]
fn validate_kubernetes_reads_the_stamped_file() {
    let sb = Sandbox::new();
    let (name, _) = file(&sb, "deploy.yaml", WORKLOADS);
    annotate(&sb, &["-a", "com.example/v1=y", "--pod-template", &name]).ok();
    let out = sb.stamp(["validate", "--kubernetes", &name]).run();
    out.ok().quiet();
    assert_eq!(out.stdout, "", "{out}");

    let bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    com.example/a/b: \"x\"\n";
    let (name, _) = file(&sb, "bad.yaml", bad);
    let out = sb.stamp(["validate", "--kubernetes", &name]).run();
    out.status(1);
    assert_eq!(
        out.stderr_lines(),
        ["error[kubernetes-key]: m/bad.yaml: ConfigMap/cm: `com.example/a/b` is not a valid Kubernetes annotation key: a key holds at most one `/` — Kubernetes keys are `[prefix/]name`, e.g. `example.com/build-id`"],
        "{out}"
    );
}

/// A Kubernetes object as `kubectl create … --dry-run=client -o json` prints it.
const KUBECTL_JSON: &str = r#"{
    "kind": "ConfigMap",
    "apiVersion": "v1",
    "metadata": {
        "name": "settings",
        "creationTimestamp": null
    },
    "data": {
        "mode": "fast"
    }
}
"#;

/// Kubernetes objects written as JSON (`kubectl … -o json`, a `.json` file) are Kubernetes
/// objects, not OCI documents: stamped on standard input and in a file, and kubectl reads
/// the result. A Helm template on standard input gets the template refusal, not a JSON
/// error.
#[test]
fn kubernetes_json_is_stamped_and_templates_on_stdin_are_named() {
    let sb = Sandbox::new();
    let out = sb
        .stamp([
            "annotate",
            "--created",
            CREATED_FLAG,
            "-a",
            "com.example/k=v",
            "-",
        ])
        .stdin(KUBECTL_JSON)
        .run();
    out.ok();
    assert_eq!(problems(&out), ["-: stamped ConfigMap/settings"], "{out}");
    let stamped: Value = serde_json::from_str(&out.stdout).expect("still JSON");
    assert_eq!(
        stamped["metadata"]["annotations"],
        serde_json::json!({"com.example/k": "v", CREATED_KEY: CREATED})
    );
    assert_eq!(stamped["data"]["mode"], "fast");
    if let Some(objects) = kubectl(&sb, "-", &out.stdout, "x.y/z") {
        assert_eq!(
            sorted(annotations_of(&objects)[0].1.clone()),
            expected(&[
                ("com.example/k", "v"),
                (CREATED_KEY, CREATED),
                ("x.y/z", "1")
            ])
        );
    }

    let (name, path) = file(&sb, "settings.json", KUBECTL_JSON);
    let out = annotate(&sb, &["-a", "com.example/k=v", &name]);
    out.ok();
    let stamped: Value = serde_json::from_str(&read(&path)).expect("still JSON");
    assert_eq!(stamped["metadata"]["annotations"]["com.example/k"], "v");

    let out = sb
        .stamp(["annotate", "--created", CREATED_FLAG, "-"])
        .stdin("{{- if .Values.enabled }}\napiVersion: v1\nkind: ConfigMap\n{{- end }}\n")
        .run();
    out.status(2);
    assert!(out.stderr.contains("Helm or Go template"), "{out}");
}
