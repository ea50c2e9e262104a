//! The harness: a sandbox directory, git repositories built in it with the real `git` CLI at
//! fixed dates and with no user or system configuration, and a builder that runs the
//! `oci-stamp` binary with a cleared environment and checks what it printed.
//!
//! Every child process starts from an empty environment plus `PATH` and `HOME` (the
//! sandbox's own), so the host's CI variables, `SOURCE_DATE_EPOCH`, `OCI_STAMP_*`, `GIT_DIR`
//! and git config never reach it; a test sets the variables it is about.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_oci-stamp");

/// The committer (and author) time of the first commit in a sandbox,
/// 2023-06-01T12:00:00Z; each further commit is one day later.
pub const FIRST_COMMIT_EPOCH: i64 = 1_685_620_800;
const DAY: i64 = 86_400;

/// The predefined keys' short names, as `-a` accepts them.
const SHORT_NAMES: &[&str] = &[
    "authors",
    "base.digest",
    "base.name",
    "created",
    "description",
    "documentation",
    "licenses",
    "ref.name",
    "revision",
    "source",
    "title",
    "url",
    "vendor",
    "version",
];

/// `version` → `org.opencontainers.image.version`; other keys unchanged.
pub fn key(k: &str) -> String {
    if SHORT_NAMES.contains(&k) {
        format!("org.opencontainers.image.{k}")
    } else {
        k.to_string()
    }
}

/// An expected annotation map; keys may be short names.
pub fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (key(k), (*v).to_string()))
        .collect()
}

/// Seconds since the epoch → `2024-01-02T03:04:05Z`.
pub fn rfc3339(epoch: i64) -> String {
    let days = epoch.div_euclid(DAY);
    let secs = epoch.rem_euclid(DAY);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `2024-01-02T03:04:05Z` → seconds since the epoch (UTC `Z` form only).
pub fn epoch_of(s: &str) -> i64 {
    assert!(
        s.len() == 20 && s.ends_with('Z') && s.as_bytes()[10] == b'T',
        "`{s}` is not YYYY-MM-DDTHH:MM:SSZ"
    );
    let n = |r: std::ops::Range<usize>| -> i64 { s[r].parse().expect("digits") };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * DAY + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

/// The wall clock, in seconds since the epoch.
pub fn now() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_secs()).expect("seconds fit")
}

/// A temporary directory holding repositories, plain directories and a `home`.
pub struct Sandbox {
    tmp: tempfile::TempDir,
    /// Commits made so far (the next commit's date follows from it).
    commits: Cell<i64>,
}

/// A commit made by [`Repo::commit`].
pub struct Commit {
    pub hash: String,
    /// Its committer time as `created` shows it.
    pub time: String,
}

impl Sandbox {
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("oci-stamp-test-")
            .tempdir()
            .expect("create a temporary directory");
        std::fs::create_dir(tmp.path().join("home")).expect("create home");
        Sandbox {
            tmp,
            commits: Cell::new(0),
        }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// `HOME` for every child: empty, so no `~/.gitconfig` or other user configuration.
    pub fn home(&self) -> PathBuf {
        self.path().join("home")
    }

    /// A plain directory (not a git repository) with these files.
    pub fn dir(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path().join(name);
        std::fs::create_dir_all(&dir).expect("create directory");
        for (file, text) in files {
            write_file(&dir.join(file), text.as_bytes());
        }
        dir
    }

    /// A command with the clean environment: only `PATH` and `HOME` are set.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", self.home())
            .current_dir(self.path());
        cmd
    }

    /// The date git stamps on the next commit or tag, in git's raw format.
    fn git_date(&self) -> String {
        format!("@{} +0000", FIRST_COMMIT_EPOCH + self.commits.get() * DAY)
    }

    /// Runs git in `dir`, without any user or system configuration, at the sandbox's fixed
    /// date; panics unless it succeeds. Returns its standard output, trimmed.
    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let date = self.git_date();
        let out = self
            .command("git")
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Test Committer")
            .env("GIT_COMMITTER_EMAIL", "committer@example.com")
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .env("LC_ALL", "C")
            .args(["-c", "init.defaultBranch=main"])
            .args(["-c", "protocol.file.allow=always"])
            .args(["-c", "advice.detachedHead=false"])
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?} in {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("git output is UTF-8")
            .trim()
            .to_string()
    }

    /// A new repository (`git init`, branch `main`, no commits).
    pub fn repo(&self, name: &str) -> Repo<'_> {
        self.git(self.path(), &["init", "-q", "-b", "main", name]);
        self.open(name)
    }

    /// A repository that already exists under the sandbox (a clone, a worktree).
    pub fn open(&self, name: &str) -> Repo<'_> {
        Repo {
            sb: self,
            path: self.path().join(name),
        }
    }

    /// A builder for `oci-stamp ARGS`, run in the sandbox directory.
    pub fn stamp<I, S>(&self, args: I) -> Stamp
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(BIN);
        cmd.args(args);
        Stamp {
            cmd,
            stdin: Vec::new(),
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::write(path, bytes).expect("write file");
}

/// A git repository in a sandbox.
pub struct Repo<'s> {
    sb: &'s Sandbox,
    pub path: PathBuf,
}

impl Repo<'_> {
    /// Runs git in the repository.
    pub fn git(&self, args: &[&str]) -> String {
        self.sb.git(&self.path, args)
    }

    /// Writes a file (relative to the working tree).
    pub fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> &Self {
        write_file(&self.path.join(file), contents.as_ref());
        self
    }

    /// Stages everything and commits, one day after the previous commit of the sandbox.
    pub fn commit(&self, message: &str) -> Commit {
        let time = rfc3339(FIRST_COMMIT_EPOCH + self.sb.commits.get() * DAY);
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.sb.commits.set(self.sb.commits.get() + 1);
        Commit {
            hash: self.head(),
            time,
        }
    }

    pub fn head(&self) -> String {
        self.git(&["rev-parse", "HEAD"])
    }

    /// What `git status` says is modified (tracked files only, sorted, each once), without
    /// letting it refresh and rewrite the index the way a plain `git status` would.
    pub fn git_modified(&self) -> Vec<String> {
        let out = self.git(&[
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "--no-renames",
            "--untracked-files=no",
        ]);
        let mut paths: Vec<String> = out
            .lines()
            .filter(|l| !l.is_empty())
            // `1 XY … PATH` and, for conflicts, `u XY … PATH` (test paths hold no spaces)
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .collect();
        paths.sort();
        paths.dedup();
        paths
    }

    /// Feeds a `git fast-import` stream (written to `name` in the sandbox) into the
    /// repository, without user configuration; with `marks`, the marks are exported to
    /// `NAME.marks`, whose path is returned.
    pub fn fast_import(&self, name: &str, stream: &str, marks: bool) -> PathBuf {
        let file = self.sb.path().join(name);
        std::fs::write(&file, stream).expect("write the stream");
        let script = if marks {
            "git fast-import --quiet --export-marks=\"$0.marks\" < \"$0\""
        } else {
            "git fast-import --quiet < \"$0\""
        };
        let status = self
            .sb
            .command("sh")
            .args(["-c", script, &file.display().to_string()])
            .current_dir(&self.path)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .expect("run git fast-import");
        assert!(status.success(), "git fast-import failed");
        PathBuf::from(format!("{}.marks", file.display()))
    }

    /// `oci-stamp ARGS`, run inside the repository (so `--repo` defaults to it).
    pub fn stamp<I, S>(&self, args: I) -> Stamp
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut s = self.sb.stamp(args);
        s.cmd.current_dir(&self.path);
        s
    }
}

/// One run of a child process being prepared.
pub struct Stamp {
    cmd: Command,
    stdin: Vec<u8>,
}

impl Stamp {
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn current_dir(mut self, dir: &Path) -> Self {
        self.cmd.current_dir(dir);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = bytes.into();
        self
    }

    /// Runs to completion. Whatever the outcome, it must not be a panic.
    pub fn run(mut self) -> Output {
        let shown = format!("{:?}", self.cmd);
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
        let mut input = child.stdin.take().expect("stdin is piped");
        let bytes = std::mem::take(&mut self.stdin);
        let writer = std::thread::spawn(move || {
            // A child that does not read its input closes the pipe; that is fine.
            let _ = input.write_all(&bytes);
        });
        let out = child.wait_with_output().expect("wait for the child");
        writer.join().expect("stdin writer");
        let output = Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
            shown,
        };
        assert!(
            !output.stderr.contains("panicked") && output.status != 101,
            "{output}"
        );
        output
    }
}

/// What a run printed, and how it ended.
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    shown: String,
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}\n--- status {} ---\n--- stdout ---\n{}--- stderr ---\n{}",
            self.shown, self.status, self.stdout, self.stderr
        )
    }
}

impl Output {
    /// Asserts the exit status.
    pub fn status(&self, code: i32) -> &Self {
        assert_eq!(self.status, code, "unexpected exit status\n{self}");
        self
    }

    /// Asserts exit status 0.
    pub fn ok(&self) -> &Self {
        self.status(0)
    }

    /// Asserts that nothing was written to standard error.
    pub fn quiet(&self) -> &Self {
        assert_eq!(self.stderr, "", "unexpected standard error\n{self}");
        self
    }

    /// Standard output parsed as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("standard output is not JSON: {e}\n{self}"))
    }

    /// Standard output as the flat `collect --format json` object.
    pub fn annotations(&self) -> BTreeMap<String, String> {
        to_map(&self.json())
    }

    /// The lines of standard error.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The diagnostic codes on standard error (`error[code]: …` lines), in order.
    pub fn codes(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|l| l.split_once('[')?.1.split_once("]: ").map(|(c, _)| c))
            .collect()
    }

    /// The one standard-error line with this diagnostic code.
    pub fn line(&self, code: &str) -> &str {
        let tag = format!("[{code}]: ");
        let lines: Vec<&str> = self.stderr.lines().filter(|l| l.contains(&tag)).collect();
        assert_eq!(lines.len(), 1, "expected one `{code}` line\n{self}");
        lines[0]
    }
}

/// A JSON object of strings as a map.
pub fn to_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {v}"))
        .iter()
        .map(|(k, v)| {
            let s = v
                .as_str()
                .unwrap_or_else(|| panic!("`{k}` is not a string: {v}"));
            (k.clone(), s.to_string())
        })
        .collect()
}

#[test]
fn children_see_only_path_and_home() {
    let sb = Sandbox::new();
    let out = sb.command("env").output().expect("run env");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let mut names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["HOME", "PATH"], "{text}");
    assert!(text.contains(&format!("HOME={}\n", sb.home().display())));
}

#[test]
fn dates_convert_both_ways() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_704_164_645), "2024-01-02T03:04:05Z");
    assert_eq!(rfc3339(FIRST_COMMIT_EPOCH), "2023-06-01T12:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    for t in [0, 951_782_400, 1_704_164_645, 4_102_444_799] {
        assert_eq!(epoch_of(&rfc3339(t)), t);
    }
}

/// The fixture corpus in the repository (`tests/fixtures`): real layouts and manifests from
/// public Apache-2.0 projects, with their sources in `tests/fixtures/SOURCES.md`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `sha256:` and the hex digest of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

/// Whether `tool` is on `PATH`. Under CI a missing tool fails the test (`.ci/run` installs
/// what the tests need); elsewhere the test is skipped with a note.
pub fn have(tool: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(tool).is_file()));
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{tool}` is not installed, and CI is set: this test needs it (`.ci/run` installs it)"
        );
        eprintln!("note: `{tool}` is not installed; skipping this test");
    }
    found
}

impl Sandbox {
    /// Runs a tool in the sandbox's clean environment; panics unless it succeeds. Its
    /// standard output.
    pub fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// SplitMix64: small and seedable, for the mutations of the fuzz loop and the kill delays of
/// the fault tests (the same seed gives the same run).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
