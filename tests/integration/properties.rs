//! Property tests: for arbitrary annotation values, every output format gives back the same
//! bytes through its real consumer — bash and dash `eval`, `xargs -0`, GNU make, the GitHub
//! Actions `$GITHUB_OUTPUT` reader, a JSON parser, and kubectl reading the YAML `annotate`
//! wrote — or the format refuses the value with a diagnostic naming the key.
//!
//! The values are drawn from the characters that break naive quoting (quotes, `$`,
//! backticks, backslashes, `#`, `%`, line breaks, carriage returns, tabs, blanks) and from
//! all of Unicode but NUL, which no argument can hold. A small number of cases keeps the
//! suite fast; `PROPTEST_CASES` runs more. Failing cases are kept by proptest beside this
//! file, in `properties.proptest-regressions`.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};

use crate::consumers::read_github_output;
use crate::harness::{Sandbox, BIN};
use crate::outputs::tools;

/// Characters that some naive quoting gets wrong, somewhere.
pub(crate) const TRICKY: &[char] = &[
    ' ', '\t', '\n', '\r', '\'', '"', '`', '$', '\\', '#', '%', ';', '&', '|', '*', '?', '[', ']',
    '{', '}', '(', ')', '<', '>', '~', '!', '=', ':', ',', '-', '@', '^', 'x', '0', 'é', '\u{85}',
    '\u{a0}', '\u{2028}', '\u{feff}', '\u{7f}', '\u{1b}', '\u{7}', '🦀',
];

/// One value: tricky characters, and now and then any character but NUL.
fn value() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => proptest::sample::select(TRICKY),
        1 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
    ];
    proptest::collection::vec(c, 0..16).prop_map(String::from_iter)
}

/// Up to five values, for the keys `com.example.v1` … (an empty value removes its key).
fn values() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(value(), 1..6)
}

fn key(i: usize) -> String {
    format!("com.example.v{}", i + 1)
}

/// `-a KEY=VALUE` for each value, and a fixed `created`.
fn args(words: &[&str], values: &[String]) -> Vec<String> {
    let mut args: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    args.extend(["--created".to_string(), "@1704164645".to_string()]);
    for (i, v) in values.iter().enumerate() {
        args.push("-a".into());
        args.push(format!("{}={v}", key(i)));
    }
    args
}

/// The annotations the values make: empty values are no annotation.
fn expected(values: &[String]) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(i, v)| (key(i), v.clone()))
        .collect();
    map.insert(
        "org.opencontainers.image.created".into(),
        "2024-01-02T03:04:05Z".into(),
    );
    map
}

/// A finished process.
struct Ran {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

fn run(mut cmd: Command, stdin: &[u8]) -> Ran {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut input = child.stdin.take().expect("stdin");
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    let ran = Ran {
        status: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
    ran
}

/// `oci-stamp ARGS` in the sandbox.
fn stamp(sb: &Sandbox, args: &[String]) -> Ran {
    let mut cmd = sb.command(BIN);
    cmd.args(args);
    run(cmd, b"")
}

/// `SHELL -c SCRIPT` with `$0` the oci-stamp binary and `$@` the arguments.
fn shell(sb: &Sandbox, sh: &str, script: &str, args: &[String]) -> Ran {
    let mut cmd = sb.command(sh);
    cmd.arg("-c").arg(script).arg(BIN).args(args);
    run(cmd, b"")
}

/// NUL-terminated items.
fn items(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8");
    match text.strip_suffix('\0') {
        Some(body) => body.split('\0').map(str::to_string).collect(),
        None => {
            assert!(text.is_empty(), "not NUL-terminated: {text:?}");
            Vec::new()
        }
    }
}

/// `--annotation manifest:KEY=VALUE` for each entry.
fn annotation_argv(map: &BTreeMap<String, String>) -> Vec<String> {
    map.iter()
        .flat_map(|(k, v)| ["--annotation".to_string(), format!("manifest:{k}={v}")])
        .collect()
}

/// Runs `test` on `cases` generated value lists (32 unless `PROPTEST_CASES` says).
fn check(cases: u32, test: impl Fn(&[String]) -> Result<(), TestCaseError>) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        source_file: Some(file!()),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&values(), |v| test(&v));
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn shell_words_and_nul_items_give_back_every_value() {
    if !tools(&["bash", "dash", "xargs", "printf"]) {
        return;
    }
    let sb = Sandbox::new();
    check(32, |values| {
        let want = annotation_argv(&expected(values));
        let flags = args(&["flags"], values);
        for sh in ["bash", "dash"] {
            let ran = shell(
                &sb,
                sh,
                r#"eval "set -- $("$0" "$@")" && printf '%s\0' "$@""#,
                &flags,
            );
            prop_assert_eq!(ran.status, Some(0), "{}: {}", sh, ran.stderr);
            prop_assert_eq!(items(&ran.stdout), want.clone(), "{} eval", sh);
        }
        let null = args(&["flags", "-0"], values);
        let ran = shell(&sb, "dash", r#""$0" "$@" | xargs -0 printf '%s\0'"#, &null);
        prop_assert_eq!(ran.status, Some(0), "{}", ran.stderr);
        prop_assert_eq!(items(&ran.stdout), want, "xargs -0");
        Ok(())
    });
}

#[test]
fn env_assignments_evaluate_back_in_bash_and_dash() {
    if !tools(&["bash", "dash"]) {
        return;
    }
    let sb = Sandbox::new();
    check(32, |values| {
        let map = expected(values);
        let vars: Vec<String> = map
            .keys()
            .map(|k| {
                let stem = k.strip_prefix("org.opencontainers.image.").unwrap_or(k);
                format!("OCI_IMAGE_{}", stem.to_uppercase().replace(['.', '-'], "_"))
            })
            .collect();
        let script = format!(
            r#"eval "$("$0" "$@")" && printf '%s\0'{}"#,
            vars.iter()
                .map(|v| format!(r#" "${v}""#))
                .collect::<String>()
        );
        let env = args(&["collect", "--format", "env"], values);
        for sh in ["bash", "dash"] {
            let ran = shell(&sb, sh, &script, &env);
            prop_assert_eq!(ran.status, Some(0), "{}: {}", sh, ran.stderr);
            prop_assert_eq!(
                items(&ran.stdout),
                map.values().cloned().collect::<Vec<_>>(),
                "{} eval",
                sh
            );
        }
        Ok(())
    });
}

#[test]
fn make_reads_back_every_value_and_the_recipe_flags() {
    if !tools(&["make", "sh"]) {
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.path().join("mk");
    std::fs::create_dir_all(&dir).expect("create mk");
    check(32, |values| {
        let map = expected(values);
        let ran = stamp(&sb, &args(&["collect", "--format", "make"], values));
        prop_assert_eq!(ran.status, Some(0), "{}", ran.stderr);
        let vars: Vec<String> = map
            .keys()
            .map(|k| {
                let stem = k.strip_prefix("org.opencontainers.image.").unwrap_or(k);
                format!("OCI_IMAGE_{}", stem.to_uppercase().replace(['.', '-'], "_"))
            })
            .collect();
        // `$(file >F,TEXT)` adds a line feed unless TEXT ends with one: a `|` after each.
        let mut check =
            String::from(".PHONY: all\nall:\n\t@printf '%s\\0' $(OCI_STAMP_FLAGS) > argv\n");
        for (i, name) in vars.iter().enumerate() {
            check.push_str(&format!("$(file >value_{i},$({name})|)\n"));
        }
        std::fs::write(dir.join("stamp.mk"), &ran.stdout).expect("write stamp.mk");
        std::fs::write(dir.join("check.mk"), check).expect("write check.mk");
        let mut cmd = sb.command("make");
        cmd.current_dir(&dir)
            .args(["-s", "-f", "stamp.mk", "-f", "check.mk"]);
        let made = run(cmd, b"");
        prop_assert_eq!(made.status, Some(0), "make: {}", made.stderr);
        for (i, (k, v)) in map.iter().enumerate() {
            let got = std::fs::read(dir.join(format!("value_{i}"))).expect("value file");
            prop_assert_eq!(
                String::from_utf8_lossy(&got),
                format!("{v}|\n"),
                "{} in make",
                k
            );
        }
        let argv = std::fs::read(dir.join("argv")).expect("argv");
        prop_assert_eq!(items(&argv), annotation_argv(&map), "the recipe's flags");
        Ok(())
    });
}

#[test]
fn github_outputs_json_and_line_lists_give_back_every_value() {
    let sb = Sandbox::new();
    let reader = crate::list_reader::ListReader::find();
    let reader = reader.as_ref();
    check(32, |values| {
        let map = expected(values);

        let ran = stamp(&sb, &args(&["collect", "--format", "github"], values));
        prop_assert_eq!(ran.status, Some(0), "{}", ran.stderr);
        let (outputs, _) = read_github_output(&String::from_utf8(ran.stdout).expect("UTF-8"));
        let json: BTreeMap<String, String> =
            serde_json::from_str(&outputs["json"]).expect("the json output");
        prop_assert_eq!(&json, &map);
        prop_assert_eq!(outputs["created"].as_str(), "2024-01-02T03:04:05Z");

        let ran_json = stamp(&sb, &args(&["collect", "--format", "json"], values));
        prop_assert_eq!(ran_json.status, Some(0), "{}", ran_json.stderr);
        let got: BTreeMap<String, String> = serde_json::from_slice(&ran_json.stdout).expect("JSON");
        prop_assert_eq!(&got, &map);

        // The lists, read by build-push-action's reader (tests/integration/list_reader.rs),
        // give back every value its final trim leaves alone; the others are left out of the
        // GitHub lists, and make the `labels` format refuse, naming each key.
        let Some(reader) = reader else {
            return Ok(());
        };
        let labels_ran = stamp(&sb, &args(&["collect", "--format", "labels"], values));
        let labels_text = String::from_utf8(labels_ran.stdout.clone()).expect("UTF-8");
        let map_values: Vec<&str> = map.values().map(String::as_str).collect();
        let (read, kept) = reader.read(&sb, &[outputs["labels"].clone(), labels_text], &map_values);
        let want: Vec<String> = map
            .iter()
            .zip(&kept)
            .filter(|(_, k)| **k)
            .map(|((k, v), _)| format!("{k}={v}"))
            .collect();
        prop_assert_eq!(&read[0], &Ok(want.clone()));
        if kept.iter().all(|k| *k) {
            prop_assert_eq!(labels_ran.status, Some(0), "{}", labels_ran.stderr);
            prop_assert_eq!(&read[1], &Ok(want));
        } else {
            prop_assert_eq!(labels_ran.status, Some(1));
            for ((k, _), _) in map.iter().zip(&kept).filter(|(_, k)| !**k) {
                let named = format!("[list-blanks]: the value of `{k}`");
                prop_assert!(labels_ran.stderr.contains(&named), "{}", labels_ran.stderr);
                prop_assert!(ran.stderr.contains(&named), "{}", ran.stderr);
            }
        }
        Ok(())
    });
}

#[test]
fn kubectl_reads_back_every_value_annotate_wrote() {
    if !tools(&["kubectl"]) {
        return;
    }
    let sb = Sandbox::new();
    let file = sb.path().join("deploy.yaml");
    check(12, |values| {
        let map = expected(values);
        std::fs::write(
            &file,
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # the app\nspec:\n  template:\n    spec:\n      containers: []\n",
        )
        .expect("write YAML");
        let mut a = args(&["annotate"], values);
        a.push(file.display().to_string());
        let ran = stamp(&sb, &a);
        prop_assert_eq!(ran.status, Some(0), "{}", ran.stderr);
        let mut cmd = sb.command("kubectl");
        cmd.args([
            "annotate",
            "--local",
            "-o",
            "json",
            "--dry-run=client",
            "-f",
        ])
        .arg(&file)
        .arg("some.dummy/key=1");
        let read = run(cmd, b"");
        let yaml = std::fs::read_to_string(&file).expect("read YAML");
        prop_assert_eq!(read.status, Some(0), "kubectl: {}\n{}", read.stderr, yaml);
        let object: serde_json::Value = serde_json::from_slice(&read.stdout).expect("JSON");
        let mut got: BTreeMap<String, String> =
            serde_json::from_value(object["metadata"]["annotations"].clone()).expect("strings");
        got.remove("some.dummy/key");
        prop_assert_eq!(&got, &map, "{}", yaml);
        Ok(())
    });
}
