//! Every output format, read back by the program that consumes it — bash and dash `eval`,
//! `xargs -0`, GNU make, the GitHub Actions runner's `$GITHUB_OUTPUT` reader, a JSON parser —
//! gives back the exact bytes of every value, or refuses the value with a diagnostic.
//!
//! The consumers are the real programs where they exist on the machine; a test whose tool is
//! missing is skipped with a note, except under CI (`CI` set), where it fails.

#![cfg(unix)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::consumers::{hcl_template_literal, read_github_output};
use crate::harness::{Sandbox, BIN};

/// `--created @1704164645`, as the `created` annotation shows it.
const CREATED: &str = "2024-01-02T03:04:05Z";
const CREATED_KEY: &str = "org.opencontainers.image.created";

/// Values that some naive quoting gets wrong: in a shell, in make, in a line list, in a heredoc.
pub(crate) const VALUES: &[&str] = &[
    "two words",
    "single ' and double \" quotes",
    "$HOME ${HOME} $(id) `id` $$ $",
    "back\\slash \\n \\\\ \\' \\\"",
    "trailing backslash\\",
    "; | & * ? [a-z] {a,b} ~ ! < > ( ) ^",
    "#hash % percent %s %% \\0",
    "line one\nline two",
    "trailing newline\n",
    "\n",
    "backslash at a line end\\\nnext line",
    "carriage return\r",
    "carriage\r\nreturn line feed",
    "\ttabs\tbetween and after\t",
    "   leading spaces",
    "trailing spaces  ",
    "=equals=:colon:,comma,",
    "emoji 🦀📦✨ done",
    "עברית العربية mixed עם English",
    "ghadelimiter_0123456789abcdef0123456789abcdef",
    "ghadelimiter_x\nEOF\nghadelimiter_",
    "'",
    "\\",
    "-a --annotation",
];

/// `com.example.v01`, `com.example.v02`, …
fn key(i: usize) -> String {
    format!("com.example.v{:02}", i + 1)
}

/// The shell and make variable for `key(i)`.
fn var(i: usize) -> String {
    format!("OCI_IMAGE_COM_EXAMPLE_V{:02}", i + 1)
}

/// `-a com.example.vNN=VALUE` for each value.
fn value_args(values: &[&str]) -> Vec<String> {
    let mut args = Vec::new();
    for (i, v) in values.iter().enumerate() {
        args.push("-a".to_string());
        args.push(format!("{}={v}", key(i)));
    }
    args
}

/// The values and a fixed `created`: the arguments after the command.
fn stamp_args(values: &[&str]) -> Vec<String> {
    let mut args = vec!["--created".to_string(), "@1704164645".to_string()];
    args.extend(value_args(values));
    args
}

/// `words` followed by `rest`.
fn cmdline(words: &[&str], rest: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|w| (*w).to_string())
        .chain(rest.iter().cloned())
        .collect()
}

/// What `stamp_args(values)` collects outside git.
fn expected(values: &[&str]) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (key(i), (*v).to_string()))
        .collect();
    map.insert(CREATED_KEY.into(), CREATED.into());
    map
}

/// `--annotation LEVELS:KEY=VALUE` for each entry, in key order.
fn annotation_argv(map: &BTreeMap<String, String>, levels: &str) -> Vec<String> {
    map.iter()
        .flat_map(|(k, v)| ["--annotation".to_string(), format!("{levels}:{k}={v}")])
        .collect()
}

/// `--label KEY=VALUE` for each entry, in key order.
fn label_argv(map: &BTreeMap<String, String>) -> Vec<String> {
    map.iter()
        .flat_map(|(k, v)| ["--label".to_string(), format!("{k}={v}")])
        .collect()
}

fn is_multiline(v: &str) -> bool {
    v.contains(['\n', '\r'])
}

fn which(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(tool))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Whether every tool a test needs is installed. A missing one skips the test with a note,
/// except under CI, where it fails the test.
pub(crate) fn tools(names: &[&str]) -> bool {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|t| which(t).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "this test needs {} on PATH, which is not installed (CI is set, so that is a failure)",
        missing.join(", ")
    );
    eprintln!(
        "note: skipping this test: {} is not installed",
        missing.join(", ")
    );
    false
}

/// The shells `eval` is checked in: bash, and dash (Debian's `sh`).
const SHELLS: &[&str] = &["bash", "dash"];

/// A command with the sandbox's clean environment and no git configuration.
fn command(sb: &Sandbox, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = sb.command(program);
    cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

/// A finished child: exit status, raw standard output, standard error.
struct Ran {
    shown: String,
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- status {:?} ---\n--- stdout ---\n{:?}\n--- stderr ---\n{}",
            self.shown,
            self.status,
            String::from_utf8_lossy(&self.stdout),
            self.stderr
        )
    }
}

impl Ran {
    fn status(&self, code: i32) -> &Self {
        assert_eq!(self.status, Some(code), "unexpected exit status\n{self}");
        self
    }

    fn ok(&self) -> &Self {
        self.status(0)
    }

    fn text(&self) -> &str {
        std::str::from_utf8(&self.stdout)
            .unwrap_or_else(|e| panic!("standard output is not UTF-8: {e}\n{self}"))
    }

    /// Standard output as NUL-terminated items.
    fn items(&self) -> Vec<String> {
        let text = self.text();
        if text.is_empty() {
            return Vec::new();
        }
        let body = text
            .strip_suffix('\0')
            .unwrap_or_else(|| panic!("standard output does not end with NUL\n{self}"));
        body.split('\0').map(str::to_string).collect()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("standard output is not JSON: {e}\n{self}"))
    }

    /// The standard-error lines of diagnostics with this severity and code.
    fn diagnostics(&self, severity: &str, code: &str) -> Vec<&str> {
        let tag = format!("{severity}[{code}]: ");
        self.stderr
            .lines()
            .filter(|l| l.starts_with(&tag))
            .collect()
    }

    /// Asserts one `severity[code]` line per key, each naming its key, and no other.
    fn names_each(&self, severity: &str, code: &str, keys: &[String]) -> &Self {
        let lines = self.diagnostics(severity, code);
        assert_eq!(
            lines.len(),
            keys.len(),
            "expected one {severity}[{code}] line for each of {keys:?}\n{self}"
        );
        for k in keys {
            let named = format!("`{k}`");
            assert!(
                lines.iter().any(|l| l.contains(&named)),
                "no {severity}[{code}] line names {k}\n{self}"
            );
        }
        self
    }
}

fn run(mut cmd: Command) -> Ran {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    let ran = Ran {
        shown,
        status: out.status.code(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!ran.stderr.contains("panicked"), "{ran}");
    ran
}

/// `oci-stamp ARGS` in the sandbox (not a git repository).
fn stamp(sb: &Sandbox, args: &[String]) -> Ran {
    let mut cmd = command(sb, BIN);
    cmd.args(args);
    run(cmd)
}

/// `SHELL -c SCRIPT` with `$0` the oci-stamp binary and `$@` the arguments.
fn shell(sb: &Sandbox, sh: &str, script: &str, args: &[String]) -> Ran {
    let mut cmd = command(sb, sh);
    cmd.arg("-c").arg(script).arg(BIN).args(args);
    run(cmd)
}

/// The shell words as a user evaluates them: `eval "set -- $(oci-stamp flags …)"`.
const EVAL_FLAGS: &str = r#"eval "set -- $("$0" "$@")" && printf '%s\0' "$@""#;

#[test]
fn flags_shell_words_eval_back_to_the_same_arguments() {
    if !tools(SHELLS) {
        return;
    }
    let sb = Sandbox::new();
    let want = annotation_argv(&expected(VALUES), "manifest");
    for sh in SHELLS {
        let ran = shell(
            &sb,
            sh,
            EVAL_FLAGS,
            &cmdline(&["flags"], &stamp_args(VALUES)),
        );
        ran.ok();
        assert_eq!(ran.items(), want, "{sh}\n{ran}");
    }
}

#[test]
fn flags_with_labels_and_levels_eval_back() {
    if !tools(SHELLS) {
        return;
    }
    let sb = Sandbox::new();
    let levels = "index,manifest[linux/amd64]";
    let mut args = cmdline(
        &[
            "flags",
            "--labels",
            "--level",
            levels,
            "-a",
            "index:com.example.idx=per-key level, 'quoted'",
        ],
        &stamp_args(VALUES),
    );
    args.extend([
        "-a".into(),
        "manifest-descriptor[linux/arm/v7]:com.example.zzz=$z".into(),
    ]);
    let mut map = expected(VALUES);
    map.insert("com.example.idx".into(), "per-key level, 'quoted'".into());
    map.insert("com.example.zzz".into(), "$z".into());
    let mut want: Vec<String> = map
        .iter()
        .flat_map(|(k, v)| {
            let levels = match k.as_str() {
                "com.example.idx" => "index",
                "com.example.zzz" => "manifest-descriptor[linux/arm/v7]",
                _ => levels,
            };
            ["--annotation".to_string(), format!("{levels}:{k}={v}")]
        })
        .collect();
    want.extend(label_argv(&map));
    for sh in SHELLS {
        let ran = shell(&sb, sh, EVAL_FLAGS, &args);
        ran.ok();
        assert_eq!(ran.items(), want, "{sh}\n{ran}");
    }
}

#[test]
fn flags_null_separated_split_back_and_pass_through_xargs() {
    let sb = Sandbox::new();
    let want = annotation_argv(&expected(VALUES), "manifest");
    let args = cmdline(&["flags", "-0"], &stamp_args(VALUES));
    let ran = stamp(&sb, &args);
    ran.ok();
    assert_eq!(ran.items(), want, "{ran}");

    if !tools(&["dash", "xargs", "printf"]) {
        return;
    }
    let ran = shell(&sb, "dash", r#""$0" "$@" | xargs -0 printf '%s\0'"#, &args);
    ran.ok();
    assert_eq!(ran.items(), want, "{ran}");
}

#[test]
fn flags_json_parses_back() {
    let sb = Sandbox::new();
    let map = expected(VALUES);
    let ran = stamp(
        &sb,
        &cmdline(&["flags", "--format", "json"], &stamp_args(VALUES)),
    );
    ran.ok();
    let args: Vec<String> = serde_json::from_slice(&ran.stdout)
        .unwrap_or_else(|e| panic!("not a JSON array of strings: {e}\n{ran}"));
    assert_eq!(args, annotation_argv(&map, "manifest"), "{ran}");

    let ran = stamp(
        &sb,
        &cmdline(&["flags", "-f", "json", "--labels"], &stamp_args(VALUES)),
    );
    ran.ok();
    let args: Vec<String> = serde_json::from_slice(&ran.stdout).expect("JSON array");
    let mut want = annotation_argv(&map, "manifest");
    want.extend(label_argv(&map));
    assert_eq!(args, want, "{ran}");
}

#[test]
fn flags_for_podman_and_buildah_have_no_levels() {
    let sb = Sandbox::new();
    let map = expected(VALUES);
    let want: Vec<String> = map
        .iter()
        .flat_map(|(k, v)| ["--annotation".to_string(), format!("{k}={v}")])
        .collect();
    for tool in ["podman", "buildah"] {
        let ran = stamp(
            &sb,
            &cmdline(&["flags", "-0", "--tool", tool], &stamp_args(VALUES)),
        );
        ran.ok();
        assert_eq!(ran.items(), want, "{ran}");
        assert!(
            ran.diagnostics("warning", "levels-unsupported").is_empty(),
            "{ran}"
        );

        // Levels podman cannot express: the same arguments, and a warning.
        let ran = stamp(
            &sb,
            &cmdline(
                &["flags", "-0", "--tool", tool, "--level", "index"],
                &stamp_args(VALUES),
            ),
        );
        ran.ok();
        assert_eq!(ran.items(), want, "{ran}");
        assert_eq!(
            ran.diagnostics("warning", "levels-unsupported").len(),
            1,
            "{ran}"
        );
    }

    // A per-key level is named in the warning.
    let ran = stamp(
        &sb,
        &cmdline(
            &["flags", "-0", "--tool", "podman", "--labels"],
            &[
                "--created".into(),
                "@1704164645".into(),
                "-a".into(),
                "index:com.example.x=a b".into(),
            ],
        ),
    );
    ran.ok();
    assert_eq!(
        ran.items(),
        [
            "--annotation",
            "com.example.x=a b",
            "--annotation",
            &format!("{CREATED_KEY}={CREATED}"),
            "--label",
            "com.example.x=a b",
            "--label",
            &format!("{CREATED_KEY}={CREATED}"),
        ],
        "{ran}"
    );
    let warning = ran.diagnostics("warning", "levels-unsupported");
    assert!(
        warning.len() == 1
            && warning[0]
                .contains("1 annotation (`com.example.x`) goes to the image manifest only"),
        "{ran}"
    );
}

#[test]
fn exec_appends_the_arguments_intact() {
    if !tools(&["sh", "printf"]) {
        return;
    }
    let sb = Sandbox::new();
    let want = annotation_argv(&expected(VALUES), "manifest");

    let mut args = cmdline(&["exec"], &stamp_args(VALUES));
    args.extend(
        [
            "--",
            "sh",
            "-c",
            r#"printf '%s\0' "$@""#,
            "sh",
            "given first",
        ]
        .map(String::from),
    );
    let ran = stamp(&sb, &args);
    ran.ok();
    let mut with_first = vec!["given first".to_string()];
    with_first.extend(want.iter().cloned());
    assert_eq!(ran.items(), with_first, "{ran}");

    let mut args = cmdline(&["exec", "--labels"], &stamp_args(VALUES));
    args.extend(["--", "printf", "%s\\0"].map(String::from));
    let ran = stamp(&sb, &args);
    ran.ok();
    let mut want = want;
    want.extend(label_argv(&expected(VALUES)));
    assert_eq!(ran.items(), want, "{ran}");
}

#[test]
fn exec_returns_the_status_of_the_command() {
    if !tools(&["sh"]) {
        return;
    }
    let sb = Sandbox::new();
    let exec = |command: &[&str]| {
        let mut args = cmdline(&["exec"], &stamp_args(&["x"]));
        args.push("--".into());
        args.extend(command.iter().map(|s| (*s).to_string()));
        stamp(&sb, &args)
    };
    exec(&["sh", "-c", "exit 7", "x"]).status(7);
    exec(&["sh", "-c", "exit 0", "x"]).status(0);
    let ran = exec(&["oci-stamp-test-no-such-command"]);
    ran.status(127);
    assert!(
        ran.stderr
            .contains("cannot run `oci-stamp-test-no-such-command`: command not found"),
        "{ran}"
    );
}

/// The command replaces oci-stamp (no process in between): a signal sent to the pid the
/// caller started reaches the build, and a shell reports a signal death as 128+n.
#[test]
fn exec_becomes_the_command() {
    if !tools(&["sh"]) {
        return;
    }
    let sb = Sandbox::new();
    let mut args = cmdline(&["exec"], &stamp_args(&["x"]));
    args.push("--".into());
    let mut child = command(&sb, BIN)
        .args(&args)
        .args(["sh", "-c", "echo $$; exec sleep 30", "x"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(
        line.trim(),
        child.id().to_string(),
        "the command runs as the same process"
    );
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let waited = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        waited.signal(),
        Some(15),
        "SIGTERM reached the command: {waited:?}"
    );

    // What a Makefile recipe or CI step sees through its shell.
    let ran = shell(
        &sb,
        "sh",
        r#""$0" "$@" sh -c 'kill -TERM $$' x; echo "status $?""#,
        &args,
    );
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "status 143",
        "{ran}"
    );
}

#[test]
fn env_evals_back_in_bash_and_dash() {
    if !tools(SHELLS) {
        return;
    }
    let sb = Sandbox::new();
    let description = "a description\nghadelimiter_x\nEOF\n";
    let mut args = cmdline(&["collect", "-f", "env"], &stamp_args(VALUES));
    args.extend([
        "-a".to_string(),
        format!("description={description}"),
        "-a".to_string(),
        "com.example.pull-request=42 'x'".to_string(),
    ]);
    let mut vars: Vec<(String, &str)> = VALUES
        .iter()
        .enumerate()
        .map(|(i, v)| (var(i), *v))
        .collect();
    vars.push(("OCI_IMAGE_CREATED".into(), CREATED));
    vars.push(("OCI_IMAGE_DESCRIPTION".into(), description));
    vars.push(("OCI_IMAGE_COM_EXAMPLE_PULL_REQUEST".into(), "42 'x'"));
    let script = format!(
        r#"eval "$("$0" "$@")" && printf '%s\0'{}"#,
        vars.iter()
            .map(|(name, _)| format!(r#" "${name}""#))
            .collect::<String>()
    );
    let want: Vec<&str> = vars.iter().map(|(_, v)| *v).collect();
    for sh in SHELLS {
        let ran = shell(&sb, sh, &script, &args);
        ran.ok();
        assert_eq!(ran.items(), want, "{sh}\n{ran}");
    }
}

#[test]
fn make_reads_back_every_value_and_the_recipe_flags() {
    if !tools(&["make", "bash", "dash"]) {
        return;
    }
    let sb = Sandbox::new();
    let ran = stamp(
        &sb,
        &cmdline(&["collect", "--format", "make"], &stamp_args(VALUES)),
    );
    ran.ok();
    let mut vars: Vec<(String, &str)> = VALUES
        .iter()
        .enumerate()
        .map(|(i, v)| (var(i), *v))
        .collect();
    vars.push(("OCI_IMAGE_CREATED".into(), CREATED));
    // `$(file >F,TEXT)` writes TEXT and a line feed unless TEXT already ends with one (GNU make
    // 4.x), so each value is written with a `|` after it.
    let mut check =
        String::from(".PHONY: all\nall:\n\t@printf '%s\\0' $(OCI_STAMP_FLAGS) > argv\n");
    for (i, (name, _)) in vars.iter().enumerate() {
        check.push_str(&format!("$(file >value_{i:02},$({name})|)\n"));
    }
    let dir = sb.dir("mk", &[("stamp.mk", ran.text()), ("check.mk", &check)]);
    let want = annotation_argv(&expected(VALUES), "manifest");
    let bash = which("bash").expect("bash");
    // The recipe runs in /bin/sh, then in bash.
    for shell in [None, Some(bash)] {
        for f in std::fs::read_dir(&dir).expect("read dir") {
            let path = f.expect("entry").path();
            if !path.ends_with("stamp.mk") && !path.ends_with("check.mk") {
                std::fs::remove_file(path).expect("remove");
            }
        }
        let mut cmd = command(&sb, "make");
        cmd.current_dir(&dir)
            .args(["-s", "-f", "stamp.mk", "-f", "check.mk"]);
        if let Some(sh) = &shell {
            cmd.arg(format!("SHELL={}", sh.display()));
        }
        let made = run(cmd);
        made.ok();
        for (i, (name, value)) in vars.iter().enumerate() {
            let got = std::fs::read(dir.join(format!("value_{i:02}"))).expect("value file");
            assert_eq!(
                String::from_utf8_lossy(&got),
                format!("{value}|\n"),
                "{name} in make\n{ran}"
            );
        }
        let argv = std::fs::read(dir.join("argv")).expect("argv file");
        let argv = Ran {
            shown: format!("the recipe's arguments, SHELL={shell:?}"),
            status: Some(0),
            stdout: argv,
            stderr: String::new(),
        };
        assert_eq!(argv.items(), want, "{argv}\n{ran}");
    }
}

#[test]
fn github_outputs_read_back_as_the_runner_reads_them() {
    if !tools(&["bash"]) {
        return;
    }
    let sb = Sandbox::new();
    let repo = sb.repo("repo");
    let commit = repo.commit("first");
    let description = "first line\nghadelimiter_x\nEOF\n  indented 'q' $x\n";
    let title = "a title with 'quotes', \"double\" and $(id)";
    let mut args = cmdline(&["collect", "--format", "github"], &value_args(VALUES));
    args.extend([
        "-a".to_string(),
        format!("description={description}"),
        "-a".to_string(),
        format!("title={title}"),
    ]);
    let mut map: BTreeMap<String, String> = VALUES
        .iter()
        .enumerate()
        .map(|(i, v)| (key(i), (*v).to_string()))
        .collect();
    for (short, value) in [
        ("created", commit.time.as_str()),
        ("description", description),
        ("revision", commit.hash.as_str()),
        ("title", title),
    ] {
        map.insert(format!("org.opencontainers.image.{short}"), value.into());
    }
    let run_github = || {
        let mut cmd = command(&sb, BIN);
        cmd.current_dir(&repo.path).args(&args);
        let ran = run(cmd);
        ran.ok();
        ran
    };
    let ran = run_github();
    let (outputs, delimiters) = read_github_output(ran.text());

    let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "annotations",
            "created",
            "description",
            "flags",
            "json",
            "labels",
            "revision",
            "title"
        ],
        "{ran}"
    );
    assert_eq!(outputs["revision"], commit.hash, "{ran}");
    assert_eq!(outputs["created"], commit.time, "{ran}");
    assert_eq!(outputs["title"], title, "{ran}");
    assert_eq!(outputs["description"], description, "{ran}");

    let json: BTreeMap<String, String> = serde_json::from_str(&outputs["json"])
        .unwrap_or_else(|e| panic!("the json output is not a JSON object of strings: {e}\n{ran}"));
    assert_eq!(json, map, "{ran}");

    // The two lists, read as build-push-action reads them: every value the reader's trim
    // leaves alone, multi-line ones too; the others left out with a warning naming each.
    if let Some(reader) = crate::list_reader::ListReader::find() {
        let values: Vec<&str> = map.values().map(String::as_str).collect();
        let lists = [outputs["labels"].clone(), outputs["annotations"].clone()];
        let (read, kept) = reader.read(&sb, &lists, &values);
        let (listed, trimmed): (Vec<_>, Vec<_>) = map.iter().zip(&kept).partition(|(_, k)| **k);
        let trimmed: Vec<String> = trimmed.iter().map(|((k, _), _)| (*k).clone()).collect();
        assert!(trimmed.len() > 3, "{trimmed:?}");
        ran.names_each("warning", "list-blanks", &trimmed);
        let labels: Vec<String> = listed
            .iter()
            .map(|((k, v), _)| format!("{k}={v}"))
            .collect();
        assert_eq!(read[0], Ok(labels), "{ran}");
        let annotations: Vec<String> = listed
            .iter()
            .map(|((k, v), _)| format!("manifest:{k}={v}"))
            .collect();
        assert_eq!(read[1], Ok(annotations), "{ran}");
    }

    // `${{ steps.stamp.outputs.flags }}` is pasted into a `run:` script that bash runs.
    let script = sb.path().join("step.sh");
    std::fs::write(
        &script,
        format!("set -- {}\nprintf '%s\\0' \"$@\"\n", outputs["flags"]),
    )
    .expect("write the step script");
    let mut cmd = command(&sb, "bash");
    cmd.arg("-e").arg(&script);
    let step = run(cmd);
    step.ok();
    assert_eq!(
        step.items(),
        annotation_argv(&map, "manifest"),
        "{step}\n{ran}"
    );

    // One random delimiter per run, in no value; a second run picks another.
    assert!(
        delimiters.iter().all(|d| d == &delimiters[0])
            && delimiters[0].starts_with("ghadelimiter_"),
        "{delimiters:?}"
    );
    assert!(map.values().all(|v| !v.contains(&delimiters[0])));
    let again = run_github();
    let (outputs_again, delimiters_again) = read_github_output(again.text());
    assert_ne!(delimiters_again[0], delimiters[0], "{again}");
    assert_eq!(outputs_again, outputs, "{again}");
}

#[test]
fn line_lists_hold_one_line_values_exactly() {
    let sb = Sandbox::new();
    // A line with no quote, no line break and no trailing blank is written as it is (the
    // others are quoted; tests/integration/list_reader.rs reads them all back).
    let values: Vec<&str> = VALUES
        .iter()
        .copied()
        .filter(|v| !is_multiline(v) && !v.contains('"') && v.trim_end() == *v)
        .collect();
    assert!(values.len() > 10);
    let map = expected(&values);

    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "labels"], &stamp_args(&values)),
    );
    ran.ok();
    let want: String = map.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    assert_eq!(ran.text(), want, "{ran}");

    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "annotations"], &stamp_args(&values)),
    );
    ran.ok();
    let want: String = map
        .iter()
        .map(|(k, v)| format!("manifest:{k}={v}\n"))
        .collect();
    assert_eq!(ran.text(), want, "{ran}");

    let ran = stamp(
        &sb,
        &cmdline(
            &[
                "collect",
                "-f",
                "annotations",
                "--level",
                "index,manifest[linux/arm64]",
            ],
            &stamp_args(&values),
        ),
    );
    ran.ok();
    let want: String = map
        .iter()
        .map(|(k, v)| format!("index,manifest[linux/arm64]:{k}={v}\n"))
        .collect();
    assert_eq!(ran.text(), want, "{ran}");

    // dotenv: raw `NAME=VALUE`; GitLab strips blanks around a value, so none may have them.
    let trimmed: Vec<&str> = VALUES
        .iter()
        .copied()
        .filter(|v| !is_multiline(v) && v.trim() == *v)
        .collect();
    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "dotenv"], &stamp_args(&trimmed)),
    );
    ran.ok();
    let mut want: BTreeMap<String, String> = trimmed
        .iter()
        .enumerate()
        .map(|(i, v)| (var(i), (*v).to_string()))
        .collect();
    want.insert("OCI_IMAGE_CREATED".into(), CREATED.into());
    let lines: Vec<&str> = ran.text().lines().collect();
    assert_eq!(lines.len(), want.len(), "{ran}");
    assert!(ran.text().ends_with('\n'), "{ran}");
    let got: BTreeMap<String, String> = lines
        .iter()
        .map(|l| {
            let (name, value) = l.split_once('=').expect("NAME=VALUE");
            (name.to_string(), value.to_string())
        })
        .collect();
    assert_eq!(got, want, "{ran}");
}

#[test]
fn line_lists_refuse_what_they_cannot_hold() {
    let sb = Sandbox::new();
    let multiline: Vec<String> = VALUES
        .iter()
        .enumerate()
        .filter(|(_, v)| is_multiline(v))
        .map(|(i, _)| key(i))
        .collect();
    assert!(multiline.len() > 3);
    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "dotenv"], &stamp_args(VALUES)),
    );
    ran.status(1);
    assert_eq!(ran.text(), "", "{ran}");
    ran.names_each("error", "multiline-value", &multiline);

    // The lists hold line breaks (quoted) but not a value ending in whitespace, which
    // build-push-action's reader trims: refused, naming each key (these values' whitespace
    // is all ASCII, where Rust's trim and JavaScript's agree).
    let ends_blank: Vec<String> = VALUES
        .iter()
        .enumerate()
        .filter(|(_, v)| v.trim_end() != **v)
        .map(|(i, _)| key(i))
        .collect();
    assert!(ends_blank.len() > 3);
    for format in ["labels", "annotations"] {
        let ran = stamp(
            &sb,
            &cmdline(&["collect", "-f", format], &stamp_args(VALUES)),
        );
        ran.status(1);
        assert_eq!(ran.text(), "", "{ran}");
        ran.names_each("error", "list-blanks", &ends_blank);
        assert!(
            ran.diagnostics("error", "multiline-value").is_empty(),
            "{ran}"
        );
    }

    let values: Vec<&str> = VALUES
        .iter()
        .copied()
        .filter(|v| !is_multiline(v))
        .collect();
    let blank: Vec<String> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.trim() != **v)
        .map(|(i, _)| key(i))
        .collect();
    assert!(blank.len() >= 3);
    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "dotenv"], &stamp_args(&values)),
    );
    ran.status(1);
    assert_eq!(ran.text(), "", "{ran}");
    ran.names_each("error", "dotenv-blanks", &blank);
}

#[test]
fn json_bake_and_oras_parse_back() {
    let sb = Sandbox::new();
    let map = expected(VALUES);

    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "json"], &stamp_args(VALUES)),
    );
    ran.ok();
    let got: BTreeMap<String, String> =
        serde_json::from_slice(&ran.stdout).unwrap_or_else(|e| panic!("{e}\n{ran}"));
    assert_eq!(got, map, "{ran}");

    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "oras"], &stamp_args(VALUES)),
    );
    ran.ok();
    assert_eq!(ran.json(), json!({ "$manifest": map }), "{ran}");

    let mut args = cmdline(
        &[
            "collect",
            "-f",
            "bake",
            "--bake-target",
            "web",
            "--level",
            "index",
        ],
        &stamp_args(VALUES),
    );
    args.extend([
        "-a".into(),
        "manifest[linux/amd64]:com.example.own=own level".into(),
    ]);
    let ran = stamp(&sb, &args);
    ran.ok();
    let mut map = map;
    map.insert("com.example.own".into(), "own level".into());
    let annotations: Vec<String> = map
        .iter()
        .map(|(k, v)| {
            let levels = if k == "com.example.own" {
                "manifest[linux/amd64]"
            } else {
                "index"
            };
            format!("{levels}:{k}={v}")
        })
        .collect();
    // Bake reads each string of a JSON file as an HCL template: read it back the same way.
    let doc = ran.json();
    let target = &doc["target"]["web"];
    let got_annotations: Vec<String> = target["annotations"]
        .as_array()
        .unwrap_or_else(|| panic!("{ran}"))
        .iter()
        .map(|v| hcl_template_literal(v.as_str().unwrap()))
        .collect();
    assert_eq!(got_annotations, annotations, "{ran}");
    let got_labels: BTreeMap<String, String> = target["labels"]
        .as_object()
        .unwrap_or_else(|| panic!("{ran}"))
        .iter()
        .map(|(k, v)| {
            (
                hcl_template_literal(k),
                hcl_template_literal(v.as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(got_labels, map, "{ran}");
    assert_eq!(doc.as_object().map(|o| o.len()), Some(1), "{ran}");
}

#[test]
fn bake_escapes_hcl_interpolation() {
    let sb = Sandbox::new();
    let values = [
        "${HOME}",
        "%{ if true }x%{ endif }",
        "$${already} %%{doubled}",
        "$ % {} $x",
    ];
    let ran = stamp(
        &sb,
        &cmdline(&["collect", "-f", "bake"], &stamp_args(&values)),
    );
    ran.ok();
    let doc = ran.json();
    let labels = &doc["target"]["oci-stamp"]["labels"];
    assert_eq!(labels[key(0)], "$${HOME}", "{ran}");
    assert_eq!(labels[key(1)], "%%{ if true }x%%{ endif }", "{ran}");
    assert_eq!(labels[key(2)], "$$${already} %%%{doubled}", "{ran}");
    assert_eq!(labels[key(3)], "$ % {} $x", "{ran}");
    for (i, v) in values.iter().enumerate() {
        assert_eq!(
            hcl_template_literal(labels[key(i)].as_str().unwrap()),
            *v,
            "{ran}"
        );
    }
    assert_eq!(
        doc["target"]["oci-stamp"]["annotations"][0],
        format!("manifest:{}=$${{HOME}}", key(0)),
        "{ran}"
    );
}

#[test]
fn levels_are_checked_and_echoed() {
    let sb = Sandbox::new();
    let args = |level: &str| {
        cmdline(
            &["flags", "-0", "--level", level, "--created", "@1704164645"],
            &["-a".into(), "com.example.x=1".into()],
        )
    };
    for level in [
        "manifest",
        "index",
        "manifest-descriptor",
        "index-descriptor",
        "index,manifest",
        "manifest[linux/amd64]",
        "manifest[linux/arm/v7]",
    ] {
        let ran = stamp(&sb, &args(level));
        ran.ok();
        assert_eq!(
            ran.items(),
            [
                "--annotation".to_string(),
                format!("{level}:com.example.x=1"),
                "--annotation".to_string(),
                format!("{level}:{CREATED_KEY}={CREATED}"),
            ],
            "{ran}"
        );
    }
    for (level, problem) in [
        ("bogus", "unknown level `bogus`"),
        ("manifest[linux/*]", "invalid platform `linux/*`"),
        ("manifest[linux]", "invalid platform `linux`"),
        ("index,index", "level `index` is given twice"),
        ("", "empty level list"),
    ] {
        let ran = stamp(&sb, &args(level));
        ran.status(2);
        assert_eq!(ran.text(), "", "{ran}");
        assert!(ran.stderr.contains(problem), "`{level}`: {ran}");
    }
    // A level of its own, in `-a`.
    let ran = stamp(
        &sb,
        &["flags".into(), "-a".into(), "bogus:com.example.x=1".into()],
    );
    ran.status(2);
    assert!(ran.stderr.contains("unknown level `bogus`"), "{ran}");
}

#[test]
fn keys_with_a_colon_are_refused_for_buildx() {
    if !tools(&["sh"]) {
        return;
    }
    let sb = Sandbox::new();
    let dir = sb.dir("colon", &[("a.json", r#"{"com.example:x":"1"}"#)]);
    let file = dir.join("a.json").display().to_string();
    let base = [
        "--annotation-file".to_string(),
        file,
        "--created".into(),
        "@1704164645".into(),
    ];
    let ran_file = sb.path().join("ran");
    for words in [
        &["flags"][..],
        &["flags", "-0"],
        &["flags", "-f", "json"],
        &["collect", "-f", "github"],
        &["exec"],
    ] {
        let mut args = cmdline(words, &base);
        if words == ["exec"] {
            args.extend(["--", "sh", "-c", ": > ran", "sh"].map(String::from));
        }
        let ran = stamp(&sb, &args);
        ran.status(1);
        assert_eq!(ran.text(), "", "{ran}");
        ran.names_each("error", "key-colon", &["com.example:x".to_string()]);
    }
    assert!(!ran_file.exists(), "exec ran the command after a refusal");
}

#[test]
fn a_colon_key_after_levels_is_named_as_the_problem() {
    let sb = Sandbox::new();
    let ran = stamp(
        &sb,
        &cmdline(&["flags", "-a", "index,manifest:com.example:x=1"], &[]),
    );
    ran.status(2);
    assert!(
        ran.stderr.contains(
            "the key `com.example:x` contains `:`, which buildx reads as the end of the levels"
        ),
        "{ran}"
    );
    let ran = stamp(&sb, &cmdline(&["flags", "-a", "com.example:x=1"], &[]));
    ran.status(2);
    assert!(ran.stderr.contains("unknown level `com.example`"), "{ran}");
    assert!(ran.stderr.contains("a key cannot hold `:`"), "{ran}");
}

#[test]
fn the_xargs_example_builds_with_the_flags_and_never_without() {
    if !tools(&["sh", "xargs", "mktemp"]) {
        return;
    }
    let sb = Sandbox::new();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/build.sh");
    // a stand-in for docker that records its arguments, NUL-separated
    let docker = sb.path().join("docker");
    std::fs::write(&docker, "#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$0.argv\"\n").unwrap();
    std::fs::set_permissions(&docker, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let argv = sb.path().join("docker.argv");
    let file = sb.path().join("a.json");
    std::fs::write(&file, r#"{"com.example.v": "it's $x\nline two"}"#).unwrap();
    let run_example = |require: &str| {
        let mut cmd = command(&sb, "sh");
        cmd.arg(&script)
            .arg("ctx")
            .env("OCI_STAMP", BIN)
            .env("DOCKER", &docker)
            .env("OCI_STAMP_CREATED", "@1704164645")
            .env("OCI_STAMP_ANNOTATION_FILE", &file)
            .env("OCI_STAMP_REQUIRE", require);
        run(cmd)
    };
    let ran = run_example("created");
    ran.ok();
    let got = std::fs::read(&argv).unwrap_or_else(|e| panic!("{e}\n{ran}"));
    let got: Vec<&[u8]> = got
        .strip_suffix(b"\0")
        .unwrap()
        .split(|b| *b == 0)
        .collect();
    assert_eq!(
        &got[..4],
        [&b"buildx"[..], b"build", b"--tag", b"example/hello:dev"]
    );
    assert!(
        got.contains(&&b"index,manifest:com.example.v=it's $x\nline two"[..]),
        "{ran}"
    );
    assert!(
        got.contains(&&b"com.example.v=it's $x\nline two"[..]),
        "{ran}"
    );
    std::fs::remove_file(&argv).unwrap();

    // a refused collection stops the script before the build
    let ran = run_example("vendor");
    assert_ne!(ran.status, Some(0), "{ran}");
    assert!(ran.stderr.contains("missing-required"), "{ran}");
    assert!(!argv.exists(), "the build ran without annotations: {ran}");
}

#[test]
fn a_closed_standard_output_is_success() {
    if !tools(&["bash", "head"]) {
        return;
    }
    let sb = Sandbox::new();
    // Far more than a pipe buffers, so the writer is still writing when `head` exits.
    let filler = "x".repeat(100);
    let values: Vec<String> = (0..3000)
        .flat_map(|i| ["-a".to_string(), format!("com.example.k{i:04}={filler}")])
        .collect();
    for words in [
        &["flags"][..],
        &["flags", "-0"],
        &["collect", "-f", "json"],
        &["collect", "-f", "github"],
    ] {
        let args = cmdline(words, &cmdline(&["--created", "@1704164645"], &values));
        let ran = shell(
            &sb,
            "bash",
            r#""$0" "$@" | head -c 10 > /dev/null; exit "${PIPESTATUS[0]}""#,
            &args,
        );
        ran.ok();
        assert!(
            !ran.stderr.lines().any(|l| l.starts_with("error")),
            "{words:?}: {}",
            ran.stderr
        );
    }
}

/// The text table keeps each entry on one line and shows what could reorder or hide text
/// (line breaks, ESC, bidirectional controls) escaped.
#[test]
fn the_text_table_escapes_controls_and_bidi_marks() {
    let sb = Sandbox::new();
    let value = "safe\u{202e}gnp.exe\nnext\u{1b}[2J";
    let args = cmdline(
        &["collect", "--format", "text"],
        &[
            "--created".into(),
            "@1704164645".into(),
            "-a".into(),
            format!("com.example.x={value}"),
        ],
    );
    let ran = stamp(&sb, &args);
    ran.ok();
    let text = String::from_utf8(ran.stdout.clone()).expect("UTF-8");
    let line = text
        .lines()
        .find(|l| l.starts_with("com.example.x"))
        .expect("the entry");
    assert!(
        line.ends_with(r"safe\u{202e}gnp.exe\nnext\u{1b}[2J"),
        "{line:?}"
    );
    assert!(!text.contains(['\u{202e}', '\u{1b}']), "{text:?}");
}
