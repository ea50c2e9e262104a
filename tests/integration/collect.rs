//! `oci-stamp collect`: what it finds in git, the CI environment, project files and license
//! texts, how explicit values override and remove, `created` and `SOURCE_DATE_EPOCH`, secrets
//! kept out, and exit statuses (0 ok, 1 validation or policy failure, 2 usage or operational
//! error).

use std::collections::BTreeMap;

use crate::harness::{epoch_of, key, map, now, rfc3339, Sandbox, BIN, FIRST_COMMIT_EPOCH};

const JSON: [&str; 3] = ["collect", "--format", "json"];
const NS: [&str; 2] = ["--namespace", "com.example"];

const MIT_TEXT: &str = "MIT License

Copyright (c) 2024 Example Corp

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
";

const APACHE_TEXT: &str = include_str!("../fixtures/LICENSE-Apache-2.0.txt");

/// `args` after `collect --format json`.
fn json_args<'a>(args: &[&'a str]) -> Vec<&'a str> {
    JSON.iter().chain(args).copied().collect()
}

/// The `source` `--explain` gives for a key.
fn explained_source(explained: &serde_json::Value, k: &str) -> String {
    explained["sources"][key(k)]["source"]
        .as_str()
        .unwrap_or_else(|| panic!("no source for {k} in {explained:#}"))
        .to_string()
}

/// The columns of a `collect -f text` row (separated by two or more spaces).
fn text_row(stdout: &str, k: &str) -> Vec<String> {
    let k = key(k);
    let line = stdout
        .lines()
        .find(|l| l.split("  ").next() == Some(k.as_str()))
        .unwrap_or_else(|| panic!("no row for {k} in\n{stdout}"));
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

/// Asserts that `created` is the wall clock of a run between `before` and `after`.
fn assert_clock(created: &str, before: i64, after: i64) {
    let t = epoch_of(created);
    assert!(
        (before..=after).contains(&t),
        "created {created} is not between {} and {}",
        rfc3339(before),
        rfc3339(after)
    );
}

// ---- git: revision, branch, version --------------------------------------------------------

#[test]
fn revision_is_the_full_head_hash() {
    let sb = Sandbox::new();
    let repo = sb.repo("plain");
    repo.write("a.txt", "a\n").commit("one");
    let c = repo.write("a.txt", "b\n").commit("two");
    assert_eq!(c.hash.len(), 40);
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "plain"),
        ])
    );
}

#[test]
fn branch_and_dirty_under_the_namespace() {
    let sb = Sandbox::new();
    let repo = sb.repo("ns");
    let c = repo.write("a.txt", "a\n").commit("one");
    repo.git(&["checkout", "-q", "-b", "feature/x"]);
    let out = repo.stamp(json_args(&NS)).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("com.example.branch", "feature/x"),
            ("com.example.dirty", "false"),
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "ns"),
        ])
    );
    // A trailing dot on the namespace is the same namespace.
    let out = repo
        .stamp(json_args(&["--namespace", "com.example."]))
        .run();
    out.ok();
    assert_eq!(out.annotations()["com.example.branch"], "feature/x");
}

#[test]
fn detached_head_at_a_branch_tip_names_that_branch() {
    let sb = Sandbox::new();
    let repo = sb.repo("detached");
    let first = repo.write("a.txt", "a\n").commit("one");
    repo.git(&["branch", "release"]);
    repo.write("a.txt", "b\n").commit("two");
    repo.git(&["checkout", "-q", "--detach", "release"]);
    let out = repo.stamp(json_args(&NS)).run();
    out.ok().quiet();
    let got = out.annotations();
    assert_eq!(got["com.example.branch"], "release");
    assert_eq!(got[&key("revision")], first.hash);
    let explained = repo
        .stamp(json_args(&["--namespace", "com.example", "--explain"]))
        .run()
        .ok()
        .json();
    assert_eq!(
        explained_source(&explained, "com.example.branch"),
        "git branch at detached HEAD"
    );
}

#[test]
fn detached_head_off_any_branch_has_no_branch() {
    let sb = Sandbox::new();
    let repo = sb.repo("detached");
    let first = repo.write("a.txt", "a\n").commit("one");
    repo.write("a.txt", "b\n").commit("two");
    repo.git(&["checkout", "-q", "--detach", "HEAD~1"]);
    let out = repo.stamp(json_args(&NS)).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("com.example.dirty", "false"),
            ("created", &first.time),
            ("revision", &first.hash),
            ("title", "detached"),
        ])
    );
}

/// A GitHub Actions pull-request checkout: a detached merge commit.
#[test]
fn detached_head_takes_the_branch_from_github_actions() {
    let sb = Sandbox::new();
    let repo = sb.repo("gha");
    let c = repo.write("a.txt", "a\n").commit("merge");
    repo.git(&["checkout", "-q", "--detach"]);
    repo.git(&["branch", "-D", "main"]);
    let out = repo
        .stamp(json_args(&NS))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
        .env("GITHUB_HEAD_REF", "feature/login")
        .env("GITHUB_REF", "refs/pull/42/merge")
        .env("GITHUB_REF_NAME", "42/merge")
        .env("GITHUB_REF_TYPE", "branch")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_REPOSITORY", "acme/gha")
        .env("GITHUB_RUN_ID", "99")
        .run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("com.example.branch", "feature/login"),
            ("com.example.dirty", "false"),
            ("com.example.pull-request", "42"),
            (
                "com.example.run-url",
                "https://github.com/acme/gha/actions/runs/99"
            ),
            ("created", &c.time),
            // git wins over GITHUB_SHA: it is what was built
            ("revision", &c.hash),
            ("source", "https://github.com/acme/gha"),
            ("title", "gha"),
            ("url", "https://github.com/acme/gha"),
        ])
    );
}

/// A GitHub Actions push: no head ref, the branch is the ref name.
#[test]
fn detached_head_takes_the_branch_from_github_ref_name() {
    let sb = Sandbox::new();
    let repo = sb.repo("gha");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&["checkout", "-q", "--detach"]);
    repo.git(&["branch", "-D", "main"]);
    let head = repo.head();
    let run = |ref_type: &str, ref_name: &str| {
        repo.stamp(json_args(&["--namespace", "com.example", "--explain"]))
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_SHA", &head)
            .env("GITHUB_HEAD_REF", "")
            .env("GITHUB_REF_NAME", ref_name)
            .env("GITHUB_REF_TYPE", ref_type)
            .run()
    };
    let out = run("branch", "release/2");
    out.ok().quiet();
    let explained = out.json();
    let got = crate::harness::to_map(&explained["annotations"]);
    assert_eq!(got["com.example.branch"], "release/2");
    assert_eq!(
        explained_source(&explained, "com.example.branch"),
        "env GITHUB_REF_NAME"
    );
    assert!(!got.contains_key(&key("version")));

    // A tag push names a version, not a branch.
    let out = run("tag", "v3.0.0");
    out.ok().quiet();
    let explained = out.json();
    let got = crate::harness::to_map(&explained["annotations"]);
    assert!(!got.contains_key("com.example.branch"), "{got:?}");
    assert_eq!(got[&key("version")], "3.0.0");
    assert_eq!(
        explained_source(&explained, "version"),
        "env GITHUB_REF_NAME"
    );
}

#[test]
fn exact_tag_gives_the_version() {
    let sb = Sandbox::new();
    let repo = sb.repo("tagged");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&["tag", "v1.2.3"]);
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(explained["annotations"][key("version")], "1.2.3");
    assert_eq!(explained_source(&explained, "version"), "git tag v1.2.3");

    // An annotated tag, and a version-like tag ranks above a higher non-version one.
    let c = repo.write("a.txt", "b\n").commit("two");
    repo.git(&["tag", "-a", "-m", "release", "v1.10.0"]);
    repo.git(&["tag", "v1.9.0"]);
    repo.git(&["tag", "latest"]);
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "tagged"),
            ("version", "1.10.0"),
        ])
    );
}

#[test]
fn untagged_commit_is_described_from_the_older_tag() {
    let sb = Sandbox::new();
    let repo = sb.repo("described");
    repo.write("a.txt", "1\n").commit("one");
    repo.git(&["tag", "v1.0.0"]);
    repo.write("a.txt", "2\n").commit("two");
    let c = repo.write("a.txt", "3\n").commit("three");
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("version")],
        format!("1.0.1-dev.2.g{}", &c.hash[..7])
    );
    assert_eq!(
        explained_source(&explained, "version"),
        "git describe (tag v1.0.0)"
    );
}

/// A tag on HEAD that is not a version (`nightly`) gives no version of its own; describe
/// then counts from the last release tag. With no release tags at all, there is no version
/// from git, and a warning says that the tags are not releases.
#[test]
fn a_tag_that_is_not_a_version_is_passed_over() {
    let sb = Sandbox::new();
    let repo = sb.repo("nightly");
    repo.write("a.txt", "1\n").commit("one");
    repo.git(&["tag", "release-candidate"]);
    repo.write("a.txt", "2\n").commit("two");
    repo.git(&["tag", "nightly"]);
    let out = repo.stamp(JSON).run();
    out.ok();
    assert!(!out.annotations().contains_key(&key("version")), "{out}");
    assert_eq!(
        out.line("no-release-tag"),
        "warning[no-release-tag]: the repository has 2 tags, but none is a release tag of this package (`vVERSION`); no version from git — pass --tag-prefix PREFIX for tags such as `release-1.0.0`, or -a version=…"
    );

    let sb = Sandbox::new();
    let repo = sb.repo("nightly");
    repo.write("a.txt", "1\n").commit("one");
    repo.git(&["tag", "v2.0.0"]);
    repo.write("a.txt", "2\n").commit("two");
    let c2 = repo.write("a.txt", "3\n").commit("three");
    repo.git(&["tag", "nightly"]);
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("version")],
        format!("2.0.1-dev.2.g{}", &c2.hash[..7])
    );
    assert_eq!(
        explained_source(&explained, "version"),
        "git describe (tag v2.0.0)"
    );
}

/// The distance counts what `git describe` counts: every commit in HEAD's history that is
/// not in the tag's, also on a merged side branch older than the tag.
#[test]
fn describe_counts_like_git_across_a_merge() {
    let sb = Sandbox::new();
    let repo = sb.repo("merged");
    repo.commit("c0");
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.commit("s1 (older than the tag)");
    repo.git(&["checkout", "-q", "main"]);
    repo.commit("c1");
    repo.git(&["tag", "v1.0.0"]);
    repo.commit("c2");
    repo.git(&["merge", "-q", "--no-ff", "side", "-m", "merge"]);
    let head = repo.head();
    let described = repo.git(&["describe", "--tags"]);
    assert_eq!(described, format!("v1.0.0-3-g{}", &head[..7]));
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    // git's distance and abbreviation, in the development form
    assert_eq!(
        out.annotations()[&key("version")],
        format!("1.0.1-dev.3.g{}", &described[described.len() - 7..])
    );
}

/// `describe` is bounded: a tag more than 500 commits back gives no version and a warning.
#[test]
fn describe_gives_up_after_five_hundred_commits() {
    let sb = Sandbox::new();
    let repo = sb.repo("long");
    let mut stream = String::new();
    for i in 1..=501 {
        let parent = if i == 1 {
            String::new()
        } else {
            format!("from :{}\n", i - 1)
        };
        let t = FIRST_COMMIT_EPOCH + i;
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter T <t@example.com> {t} +0000\ndata 2\nc\n{parent}\n"
        ));
    }
    stream.push_str("reset refs/tags/v1.0.0\nfrom :1\n\n");
    repo.fast_import("history.fi", &stream, false);
    repo.git(&["reset", "-q", "--hard", "main"]);

    let out = repo.stamp(JSON).run();
    out.ok();
    assert_eq!(out.codes(), ["describe-gave-up"]);
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
    assert!(
        out.line("describe-gave-up")
            .contains("no release tag (`vVERSION`) within 500 commits of HEAD"),
        "{out}"
    );
    assert!(!out.annotations().contains_key(&key("version")));

    // one commit fewer and the tag is found
    repo.git(&["reset", "-q", "--hard", "main~1"]);
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations()[&key("version")],
        format!("1.0.1-dev.499.g{}", &repo.head()[..7])
    );
}

const CARGO_TOML: &str = r#"[package]
name = "widget"
version = "0.4.2"
license = "MIT OR Apache-2.0"
description = "A widget"
repository = "https://github.com/acme/widget"
authors = ["Ann <ann@example.com>", "Bob"]
"#;

#[test]
fn cargo_version_when_there_is_no_tag() {
    let sb = Sandbox::new();
    let repo = sb.repo("cargo");
    repo.write("Cargo.toml", CARGO_TOML).commit("one");
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(explained["annotations"][key("version")], "0.4.2");
    assert_eq!(
        explained_source(&explained, "version"),
        "Cargo.toml version"
    );

    // A version file beats an older tag's describe…
    repo.git(&["tag", "v0.4.0"]);
    repo.write("a.txt", "x\n").commit("two");
    let out = repo.stamp(JSON).run();
    assert_eq!(out.ok().annotations()[&key("version")], "0.4.2");

    // …but a tag on HEAD beats the version file.
    repo.git(&["tag", "v0.5.0"]);
    let out = repo.stamp(JSON).run();
    assert_eq!(out.ok().annotations()[&key("version")], "0.5.0");
}

#[test]
fn annotation_flags_override_and_an_empty_value_removes() {
    let sb = Sandbox::new();
    let repo = sb.repo("flags");
    let c = repo.write("a.txt", "a\n").commit("one");
    repo.git(&["tag", "v1.2.3"]);
    let out = repo
        .stamp(json_args(&[
            "-a",
            "version=9",
            "-a",
            "title=",
            "--annotation",
            "com.example.note=two words = \"quoted\"",
            "--explain",
        ]))
        .run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        crate::harness::to_map(&explained["annotations"]),
        map(&[
            ("com.example.note", "two words = \"quoted\""),
            ("created", &c.time),
            ("revision", &c.hash),
            ("version", "9"),
        ])
    );
    assert_eq!(explained_source(&explained, "version"), "flag --annotation");
}

#[test]
fn an_invalid_explicit_value_fails_the_run() {
    let sb = Sandbox::new();
    let repo = sb.repo("invalid");
    repo.write("a.txt", "a\n").commit("one");
    let out = repo
        .stamp(json_args(&[
            "-a",
            "created=2024-01-02",
            "-a",
            "org.opencontainers.image.revison=x",
        ]))
        .run();
    out.status(1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.codes(), ["invalid-created", "unknown-oci-key"]);
    assert_eq!(out.stderr_lines().len(), 2, "{out}");
    assert!(out
        .line("unknown-oci-key")
        .ends_with("did you mean `org.opencontainers.image.revision`?"));
}

// ---- unborn, no git, not a directory ------------------------------------------------------

#[test]
fn unborn_branch_has_no_revision_and_the_clock_as_created() {
    let sb = Sandbox::new();
    let repo = sb.repo("unborn");
    let before = now();
    let out = repo.stamp(json_args(&NS)).run();
    let after = now();
    out.ok();
    assert_eq!(
        out.line("unborn-head"),
        "warning[unborn-head]: HEAD (branch `main`) has no commit yet: no revision, tag or commit time from git — commit first, or pass -a revision=…"
    );
    let mut got = out.annotations();
    assert_clock(
        &got.remove(&key("created")).expect("created"),
        before,
        after,
    );
    assert_eq!(
        got,
        map(&[
            ("com.example.branch", "main"),
            ("com.example.dirty", "false"),
            ("title", "unborn"),
        ])
    );

    let out = repo.stamp(json_args(&["--require", "revision"])).run();
    out.status(1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.codes(), ["unborn-head", "missing-required"]);
    assert!(out
        .line("missing-required")
        .starts_with("error[missing-required]: `org.opencontainers.image.revision` is required"));

    // There is no commit time to take.
    let out = repo.stamp(json_args(&["--created", "commit"])).run();
    out.status(2);
    assert_eq!(
        out.stderr_lines(),
        ["error: --created commit needs a commit, but there is no git HEAD here"]
    );
}

#[test]
fn outside_git_collection_goes_on_with_a_warning() {
    let sb = Sandbox::new();
    let dir = sb.dir("tarball", &[("README", "hello\n")]);
    let before = now();
    let out = sb.stamp(json_args(&[])).current_dir(&dir).run();
    let after = now();
    out.ok();
    let got = out.annotations();
    assert_eq!(got.keys().collect::<Vec<_>>(), [&key("created")]);
    assert_clock(&got[&key("created")], before, after);
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("warning[no-git]: . is not in a git repository"),
        "{out}"
    );

    let shown = dir.display().to_string();
    let out = sb
        .stamp(json_args(&["-C", &shown, "--require", "revision"]))
        .run();
    out.status(1);
    assert_eq!(out.codes(), ["no-git", "missing-required"]);
    assert!(out.line("no-git").contains(&shown));
}

#[test]
fn a_missing_repo_directory_is_an_error() {
    let sb = Sandbox::new();
    let missing = sb.path().join("no-such-dir");
    let shown = missing.display().to_string();
    let out = sb.stamp(json_args(&["-C", &shown])).run();
    out.status(2);
    assert_eq!(out.stdout, "");
    let lines = out.stderr_lines();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains(&shown),
        "{out}"
    );

    let file = sb.dir("d", &[("file.txt", "x")]).join("file.txt");
    let out = sb
        .stamp(json_args(&["-C", &file.display().to_string()]))
        .run();
    out.status(2);
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
}

// ---- remotes -------------------------------------------------------------------------------

#[test]
fn credentials_in_the_remote_never_get_out() {
    let sb = Sandbox::new();
    let repo = sb.repo("creds");
    let c = repo.write("a.txt", "a\n").commit("one");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://x-access-token:TOKEN@github.com/o/r.git",
    ]);
    let expected = map(&[
        ("created", &c.time),
        ("revision", &c.hash),
        ("source", "https://github.com/o/r"),
        ("title", "r"),
        ("url", "https://github.com/o/r"),
    ]);
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(out.annotations(), expected);

    let explain = repo.stamp(json_args(&["--explain"])).run();
    explain.ok();
    assert_eq!(
        explained_source(&explain.json(), "source"),
        "git remote origin"
    );
    let text = repo
        .stamp([
            "collect",
            "-f",
            "text",
            "--explain",
            "--namespace",
            "com.example",
        ])
        .run();
    text.ok();
    assert_eq!(
        text_row(&text.stdout, "source"),
        [
            "org.opencontainers.image.source",
            "https://github.com/o/r",
            "git remote origin"
        ]
    );
    for out in [&out, &explain, &text] {
        assert!(!out.stdout.contains("TOKEN"), "{out}");
        assert!(!out.stderr.contains("TOKEN"), "{out}");
        assert!(!out.stdout.contains("x-access-token"), "{out}");
    }

    // A remote that is not a URL at all is reported without its user-info.
    repo.git(&[
        "remote",
        "set-url",
        "origin",
        "https://user:TOKEN@host:notaport/o/r",
    ]);
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok();
    assert_eq!(out.codes(), ["remote-not-url"]);
    assert!(
        !out.stdout.contains("TOKEN") && !out.stderr.contains("TOKEN"),
        "{out}"
    );
    assert!(out.json()["annotations"].get(key("source")).is_none());

    // A local path (a clone of a mirror) holds no credential: the warning names it.
    repo.git(&["remote", "set-url", "origin", "/srv/git/mirror.git"]);
    let out = repo.stamp(json_args(&[])).run();
    out.ok();
    assert!(
        out.line("remote-not-url").contains(
            "remote origin is the local path `/srv/git/mirror.git`, not a URL others can reach"
        ),
        "{out}"
    );
}

#[test]
fn a_password_in_an_scp_like_remote_never_gets_out() {
    // `user:password@host:path` is not git's scp syntax, but it is a credential: the password
    // must reach no annotation, warning or explanation, in any format.
    let sb = Sandbox::new();
    let repo = sb.repo("scp");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "deploy:SECRET9@git.example.com:o/r.git",
    ]);
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok();
    assert_eq!(
        out.json()["annotations"][key("source")],
        "https://git.example.com/o/r",
        "{out}"
    );
    for format in [
        "text", "json", "env", "make", "github", "bake", "oras", "labels",
    ] {
        let out = repo
            .stamp([
                "collect",
                "--explain",
                "-f",
                format,
                "--namespace",
                "com.example",
            ])
            .run();
        out.ok();
        assert!(
            !out.stdout.contains("SECRET9") && !out.stderr.contains("SECRET9"),
            "{format}: {out}"
        );
    }
    // A value of that shape given with -a is refused, and not echoed.
    let out = repo
        .stamp([
            "collect",
            "-a",
            "source=deploy:SECRET9@git.example.com:o/r.git",
        ])
        .run();
    out.status(1);
    assert!(!out.stderr.contains("SECRET9"), "{out}");
    assert!(out.stderr.contains("***@git.example.com:o/r.git"), "{out}");
}

#[test]
fn credentials_in_ci_variables_never_get_out() {
    let sb = Sandbox::new();
    let dir = sb.dir("job", &[]);
    let out = sb
        .stamp(json_args(&["--namespace", "com.example", "--explain"]))
        .current_dir(&dir)
        .env("JENKINS_URL", "https://jenkins.example/")
        .env("GIT_URL", "https://u:SECRET@git.example.com/o/r.git")
        .env("GIT_BRANCH", "origin/main")
        .env("BUILD_URL", "https://u:SECRET@jenkins.example/job/1/")
        .run();
    out.ok();
    assert!(
        !out.stdout.contains("SECRET") && !out.stderr.contains("SECRET"),
        "{out}"
    );
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("source")],
        "https://git.example.com/o/r"
    );
    assert_eq!(explained_source(&explained, "source"), "env GIT_URL");
    assert_eq!(explained["annotations"]["com.example.branch"], "main");
}

#[test]
fn ssh_remotes_become_https() {
    let sb = Sandbox::new();
    let repo = sb.repo("ssh");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&["remote", "add", "origin", "git@github.com:o/r.git"]);
    let got = repo.stamp(JSON).run().ok().quiet().annotations();
    assert_eq!(got[&key("source")], "https://github.com/o/r");
    assert_eq!(got[&key("url")], "https://github.com/o/r");
    assert_eq!(got[&key("title")], "r");

    repo.git(&["remote", "set-url", "origin", "ssh://git@host:22/o/r.git"]);
    let got = repo.stamp(JSON).run().ok().quiet().annotations();
    assert_eq!(got[&key("source")], "https://host/o/r");
    // not a known forge: no url from it
    assert!(!got.contains_key(&key("url")), "{got:?}");
    assert_eq!(got[&key("title")], "r");
}

#[test]
fn the_upstream_remote_is_preferred_over_origin() {
    let sb = Sandbox::new();
    let repo = sb.repo("up");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&["remote", "add", "origin", "https://github.com/fork/r.git"]);
    repo.git(&["remote", "add", "upstream", "git@gitlab.com:up/proj.git"]);
    let got = repo.stamp(JSON).run().ok().quiet().annotations();
    assert_eq!(got[&key("source")], "https://github.com/fork/r");

    repo.git(&["config", "branch.main.remote", "upstream"]);
    repo.git(&["config", "branch.main.merge", "refs/heads/main"]);
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("source")],
        "https://gitlab.com/up/proj"
    );
    assert_eq!(
        explained["annotations"][key("url")],
        "https://gitlab.com/up/proj"
    );
    assert_eq!(
        explained_source(&explained, "source"),
        "git remote upstream (upstream of main)"
    );
}

/// Without an upstream and without `origin` (`git clone -o upstream`, detached in CI), the
/// one remote there is gives `source`; with several and none of them `origin`, none does.
#[test]
fn the_only_remote_stands_in_for_origin() {
    let sb = Sandbox::new();
    let repo = sb.repo("only");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&["remote", "add", "upstream", "https://github.com/o/only.git"]);
    repo.git(&["checkout", "-q", "--detach"]);
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("source")],
        "https://github.com/o/only"
    );
    assert_eq!(
        explained_source(&explained, "source"),
        "git remote upstream (the only remote)"
    );

    repo.git(&["remote", "add", "mirror", "https://example.com/o/only.git"]);
    let got = repo.stamp(JSON).run().ok().quiet().annotations();
    assert!(!got.contains_key(&key("source")), "{got:?}");
}

// ---- kinds of checkout -----------------------------------------------------------------------

#[test]
fn a_shallow_clone_warns() {
    let sb = Sandbox::new();
    let origin = sb.repo("origin");
    origin.write("a.txt", "1\n").commit("one");
    origin.git(&["tag", "v1.0.0"]);
    let c = origin.write("a.txt", "2\n").commit("two");
    origin.git(&["tag", "v2.0.0"]);
    let url = format!("file://{}", origin.path.display());
    sb.git(sb.path(), &["clone", "-q", "--depth", "1", &url, "shallow"]);
    let shallow = sb.open("shallow");
    shallow.git(&["remote", "set-url", "origin", "https://github.com/o/r.git"]);
    let out = shallow.stamp(JSON).run();
    out.ok();
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("revision", &c.hash),
            ("source", "https://github.com/o/r"),
            ("title", "r"),
            ("url", "https://github.com/o/r"),
            ("version", "2.0.0"),
        ])
    );
    assert_eq!(out.codes(), ["shallow-clone"]);
    assert_eq!(out.stderr_lines().len(), 1, "{out}");
    assert!(out
        .line("shallow-clone")
        .starts_with("warning[shallow-clone]: "));
}

#[test]
fn dirty_tree_counts_tracked_files_only() {
    let sb = Sandbox::new();
    let repo = sb.repo("dirty");
    repo.write("tracked.txt", "a\n").commit("one");
    repo.write("untracked.txt", "new\n");

    // untracked files alone do not count
    let out = repo
        .stamp(json_args(&[
            "--require-clean",
            "--namespace",
            "com.example",
        ]))
        .run();
    out.ok().quiet();
    assert_eq!(out.annotations()["com.example.dirty"], "false");

    repo.write("tracked.txt", "changed\n");
    let out = repo.stamp(json_args(&NS)).run();
    out.ok().quiet();
    assert_eq!(out.annotations()["com.example.dirty"], "true");

    let out = repo.stamp(json_args(&["--require-clean"])).run();
    out.status(1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr_lines(),
        ["error[dirty-tree]: the working tree has 1 modified tracked file (tracked.txt) — commit or stash the changes, or drop --require-clean"]
    );

    // a staged new file is a change to the index
    repo.git(&["checkout", "-q", "tracked.txt"]);
    repo.git(&["add", "untracked.txt"]);
    let out = repo.stamp(json_args(&["--require-clean"])).run();
    out.status(1);
    assert!(out.line("dirty-tree").contains("(untracked.txt)"), "{out}");
}

/// What oci-stamp says is modified: the count and the first paths from `dirty-tree`.
fn stamp_modified(repo: &crate::harness::Repo<'_>) -> (usize, Vec<String>) {
    let out = repo.stamp(json_args(&["--require-clean"])).run();
    if out.codes().iter().all(|c| *c != "dirty-tree") {
        out.ok();
        return (0, Vec::new());
    }
    out.status(1);
    let line = out.line("dirty-tree");
    let after = line.split("the working tree has ").nth(1).expect("count");
    let count: usize = after.split(' ').next().unwrap().parse().expect("number");
    let listed = after.split_once('(').unwrap().1.split_once(')').unwrap().0;
    (count, listed.split(", ").map(str::to_string).collect())
}

/// The dirty check reads the index and stats files itself (as `git status` does) and asks
/// libgit2 only about what may have changed; in every case below it must say what
/// `git status` says, also where the stat data alone would mislead.
#[test]
fn the_dirty_check_agrees_with_git_status() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let repo = sb.repo("agree");
    for i in 0..40 {
        repo.write(&format!("d{}/f{i}.txt", i % 4), format!("file {i}\n"));
    }
    repo.write("link-target.txt", "t\n");
    std::os::unix::fs::symlink("link-target.txt", repo.path.join("link")).unwrap();
    repo.commit("one");
    // Let the index be older than the files written next, so entries are not racily clean
    // and the stat comparison is what decides.
    std::thread::sleep(std::time::Duration::from_millis(20));
    repo.git(&["update-index", "--refresh"]);

    let check = |what: &str| {
        let want = repo.git_modified();
        let (count, listed) = stamp_modified(&repo);
        assert_eq!(
            count,
            want.len(),
            "{what}: git says {want:?}, oci-stamp {listed:?}"
        );
        let first: Vec<String> = want.iter().take(3).cloned().collect();
        assert_eq!(
            listed,
            if count == 0 { Vec::new() } else { first },
            "{what}"
        );
        want.len()
    };
    let path = |f: &str| repo.path.join(f);

    assert_eq!(check("clean"), 0);

    // Same size, modification time put back: only the inode change time tells.
    let mtime = std::fs::metadata(path("d0/f0.txt"))
        .unwrap()
        .modified()
        .unwrap();
    std::fs::write(path("d0/f0.txt"), "FILE 0\n").unwrap();
    std::fs::File::options()
        .write(true)
        .open(path("d0/f0.txt"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    assert_eq!(check("same size, same mtime"), 1);
    repo.git(&["checkout", "-q", "--", "."]);

    std::fs::set_permissions(path("d1/f1.txt"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(check("executable bit"), 1);
    std::fs::set_permissions(path("d1/f1.txt"), std::fs::Permissions::from_mode(0o644)).unwrap();

    std::fs::remove_file(path("d2/f2.txt")).unwrap();
    std::fs::remove_file(path("link")).unwrap();
    std::fs::write(path("link"), "link-target.txt").unwrap();
    assert_eq!(check("deleted file, symlink replaced by a file"), 2);
    repo.git(&["checkout", "-q", "--", "."]);
    repo.git(&["update-index", "--refresh"]);
    assert_eq!(check("restored"), 0);

    // Touched but unchanged: stat data differs everywhere, content nowhere (more suspects
    // than fit in a path list, so libgit2 looks at the whole tree).
    for i in 0..40 {
        let f = std::fs::File::options()
            .write(true)
            .open(path(&format!("d{}/f{i}.txt", i % 4)))
            .unwrap();
        f.set_modified(std::time::SystemTime::now()).unwrap();
    }
    assert_eq!(check("touched only"), 0);
    repo.git(&["update-index", "--refresh"]);

    // Staged only: the work tree matches the index, HEAD does not.
    repo.write("d2/f2.txt", "staged only\n");
    repo.git(&["add", "d2/f2.txt"]);
    assert_eq!(check("staged only"), 1);
    repo.git(&["reset", "-q", "--hard"]);
    repo.git(&["update-index", "--refresh"]);

    // Staged, then put back in the work tree: HEAD and the index differ.
    repo.write("d3/f3.txt", "staged\n");
    repo.git(&["add", "d3/f3.txt"]);
    std::fs::write(path("d3/f3.txt"), "file 3\n").unwrap();
    assert_eq!(check("staged then reverted"), 1);
    repo.git(&["reset", "-q"]);
    repo.git(&["update-index", "--refresh"]);

    repo.write("new.txt", "new\n");
    repo.git(&["add", "-N", "new.txt"]);
    assert_eq!(check("intent to add"), 1);
    repo.git(&["rm", "-q", "--cached", "new.txt"]);
    std::fs::remove_file(path("new.txt")).unwrap();

    repo.git(&["update-index", "--assume-unchanged", "d0/f4.txt"]);
    repo.write("d0/f4.txt", "hidden change\n");
    repo.git(&["update-index", "--skip-worktree", "d1/f5.txt"]);
    std::fs::remove_file(path("d1/f5.txt")).unwrap();
    assert_eq!(check("assume-unchanged and skip-worktree"), 0);
    repo.git(&["update-index", "--no-assume-unchanged", "d0/f4.txt"]);
    repo.git(&["update-index", "--no-skip-worktree", "d1/f5.txt"]);
    repo.git(&["checkout", "-q", "--", "."]);
    repo.git(&["update-index", "--refresh"]);
    assert_eq!(check("back to clean"), 0);

    // Index version 4 (prefix-compressed paths) and a split index (which the fast path
    // leaves to libgit2).
    repo.git(&["update-index", "--index-version", "4"]);
    repo.write("d2/f6.txt", "v4\n");
    repo.write("d3/f7.txt", "v4 too\n");
    assert_eq!(check("index v4"), 2);
    repo.git(&["checkout", "-q", "--", "."]);
    repo.git(&["update-index", "--index-version", "2", "--split-index"]);
    repo.write("d0/f8.txt", "split\n");
    assert_eq!(check("split index"), 1);
    repo.git(&["checkout", "-q", "--", "."]);
    repo.git(&["update-index", "--no-split-index"]);

    // A merge conflict.
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write("d0/f0.txt", "side\n").commit("side");
    repo.git(&["checkout", "-q", "main"]);
    repo.write("d0/f0.txt", "main\n").commit("main");
    let merge = sb
        .command("git")
        .current_dir(&repo.path)
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(["merge", "-q", "side"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&merge.stdout).contains("CONFLICT"),
        "the merge should conflict: {merge:?}"
    );
    assert_eq!(check("conflict"), 1);
}

/// A repository's config can make git run programs: fsmonitor, clean/smudge filters,
/// textconv, hooks. oci-stamp reads such a repository with owner validation off, so it must
/// run none of them, also when the dirty check compares file contents. git itself, on the
/// same repository, does run them (which shows the traps are armed).
#[test]
fn a_hostile_repository_config_runs_nothing() {
    let sb = Sandbox::new();
    let repo = sb.repo("hostile");
    repo.write("a.txt", "a\n").commit("one");
    let marker = |what: &str| sb.path().join(format!("ran-{what}"));
    let trap = |what: &str| format!("touch {}; cat", marker(what).display());
    let hooks = sb.path().join("hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    for hook in [
        "post-checkout",
        "pre-commit",
        "post-index-change",
        "reference-transaction",
    ] {
        let path = hooks.join(hook);
        std::fs::write(&path, format!("#!/bin/sh\n{}\n", trap(hook))).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fsmonitor = format!("sh -c '{}'", trap("fsmonitor"));
    for (key, value) in [
        ("core.fsmonitor", fsmonitor.as_str()),
        ("filter.trap.clean", &trap("clean")),
        ("filter.trap.smudge", &trap("smudge")),
        ("filter.trap.required", "true"),
        ("diff.trap.textconv", &trap("textconv")),
        ("core.hooksPath", &hooks.display().to_string()),
        ("core.sshCommand", &trap("ssh")),
        ("credential.helper", &format!("!{}", trap("credential"))),
    ] {
        repo.git(&["config", key, value]);
    }
    repo.write(".gitattributes", "* filter=trap diff=trap\n");
    // Touched, so the dirty check must compare contents, where filters would apply.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let f = std::fs::File::options()
        .write(true)
        .open(repo.path.join("a.txt"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now()).unwrap();
    drop(f);

    let out = repo.stamp(json_args(&["--namespace", "com.example"])).run();
    out.ok();
    assert_eq!(out.annotations()["com.example.dirty"], "false");
    repo.stamp(json_args(&["--require-clean", "--explain"]))
        .run()
        .ok();
    let ran: Vec<String> = std::fs::read_dir(sb.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ran-"))
        .collect();
    assert!(ran.is_empty(), "oci-stamp ran {ran:?}");

    // git on the same repository runs them.
    let status = sb
        .command("git")
        .current_dir(&repo.path)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert!(status.status.success() || !status.stderr.is_empty());
    assert!(
        marker("clean").exists() || marker("fsmonitor").exists(),
        "git ran neither trap: the test proves nothing"
    );
}

/// Switch variables take the usual spellings of yes and no; a typo is a usage error.
#[test]
fn switch_variables_take_yes_no_one_zero() {
    let sb = Sandbox::new();
    let repo = sb.repo("switch");
    repo.write("a.txt", "a\n").commit("one");
    repo.write("a.txt", "changed\n");
    for yes in ["1", "yes", "on", "true", "TRUE"] {
        let out = repo.stamp(JSON).env("OCI_STAMP_REQUIRE_CLEAN", yes).run();
        out.status(1);
        assert!(out.codes().contains(&"dirty-tree"), "{yes}: {out}");
    }
    for no in ["0", "no", "off", "false"] {
        repo.stamp(JSON)
            .env("OCI_STAMP_REQUIRE_CLEAN", no)
            .run()
            .ok();
    }
    let out = repo
        .stamp(JSON)
        .env("OCI_STAMP_REQUIRE_CLEAN", "ture")
        .run();
    out.status(2);
    assert!(
        out.stderr
            .contains("OCI_STAMP_REQUIRE_CLEAN=`ture` is not a valid value for --require-clean"),
        "{out}"
    );
}

#[test]
fn a_worktree_is_a_checkout_of_its_own() {
    let sb = Sandbox::new();
    let repo = sb.repo("main-checkout");
    repo.write("a.txt", "1\n").commit("one");
    repo.git(&["tag", "v1.0.0"]);
    let c = repo.write("a.txt", "2\n").commit("two");
    repo.git(&["worktree", "add", "-q", "-b", "feature", "../wt"]);
    let wt = sb.open("wt");
    let out = wt.stamp(json_args(&NS)).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("com.example.branch", "feature"),
            ("com.example.dirty", "false"),
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "wt"),
            ("version", &format!("1.0.1-dev.1.g{}", &c.hash[..7])),
        ])
    );
    wt.write("a.txt", "3\n");
    let out = wt.stamp(json_args(&["--require-clean"])).run();
    out.status(1);
    assert!(out.line("dirty-tree").contains("(a.txt)"), "{out}");
    // the main checkout is untouched
    repo.stamp(json_args(&["--require-clean"]))
        .run()
        .ok()
        .quiet();
}

#[test]
fn a_submodule_is_described_by_its_own_head() {
    let sb = Sandbox::new();
    let lib = sb.repo("lib");
    let lib_head = lib.write("lib.txt", "lib\n").commit("lib");
    lib.git(&["tag", "v0.3.0"]);
    let sup = sb.repo("super");
    sup.write("a.txt", "a\n").commit("super");
    let lib_path = lib.path.display().to_string();
    sup.git(&["submodule", "add", "-q", &lib_path, "deps/lib"]);
    let sup_head = sup.commit("add submodule");
    assert_ne!(sup_head.hash, lib_head.hash);

    let out = sb.stamp(json_args(&["-C", "super/deps/lib"])).run();
    out.ok();
    let got = out.annotations();
    assert_eq!(got[&key("revision")], lib_head.hash);
    assert_eq!(got[&key("version")], "0.3.0");
    assert_eq!(got[&key("title")], "lib");
    assert_eq!(got[&key("created")], lib_head.time);

    // and the superproject by its own, with the submodule clean
    let out = sup.stamp(json_args(&["--require-clean"])).run();
    out.ok().quiet();
    assert_eq!(out.annotations()[&key("revision")], sup_head.hash);
}

#[test]
fn a_bare_repository_works() {
    let sb = Sandbox::new();
    let repo = sb.repo("work");
    let c = repo.write("a.txt", "1\n").commit("one");
    repo.git(&["tag", "v1.2.3"]);
    sb.git(sb.path(), &["clone", "-q", "--bare", "work", "bare.git"]);
    let bare = sb.open("bare.git");
    bare.git(&["remote", "set-url", "origin", "https://github.com/o/r.git"]);
    let out = bare
        .stamp(json_args(&[
            "--namespace",
            "com.example",
            "--require-clean",
        ]))
        .run();
    out.ok();
    assert_eq!(out.codes(), ["bare-repository"], "{out}");
    assert!(out.line("bare-repository").contains("bare.git"), "{out}");
    assert_eq!(
        out.annotations(),
        map(&[
            ("com.example.branch", "main"),
            ("created", &c.time),
            ("revision", &c.hash),
            ("source", "https://github.com/o/r"),
            ("title", "r"),
            ("url", "https://github.com/o/r"),
            ("version", "1.2.3"),
        ])
    );
}

// ---- project files and licenses ------------------------------------------------------------

#[test]
fn cargo_toml_declares_the_project() {
    let sb = Sandbox::new();
    let repo = sb.repo("cargo");
    let lenient = CARGO_TOML.replace("MIT OR Apache-2.0", "MIT/Apache-2.0");
    let c = repo.write("Cargo.toml", &lenient).commit("one");
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok();
    // every canonicalisation is a warning, not only a note
    assert_eq!(
        out.line("license-canonicalised"),
        "warning[license-canonicalised]: Cargo.toml declares the license `MIT/Apache-2.0`, which is not a strict SPDX expression; read as `MIT OR Apache-2.0` — declare `MIT OR Apache-2.0` in Cargo.toml"
    );
    let explained = out.json();
    assert_eq!(
        crate::harness::to_map(&explained["annotations"]),
        map(&[
            ("authors", "Ann <ann@example.com>, Bob"),
            ("created", &c.time),
            ("description", "A widget"),
            ("licenses", "MIT OR Apache-2.0"),
            ("revision", &c.hash),
            ("source", "https://github.com/acme/widget"),
            ("title", "widget"),
            ("url", "https://github.com/acme/widget"),
            ("version", "0.4.2"),
        ])
    );
    assert_eq!(
        explained_source(&explained, "licenses"),
        "Cargo.toml license"
    );
    assert_eq!(
        explained["sources"][key("licenses")]["note"],
        "canonicalised from `MIT/Apache-2.0`"
    );
    assert_eq!(explained["diagnostics"][0]["code"], "license-canonicalised");

    let text = repo.stamp(["collect", "-f", "text", "--explain"]).run();
    text.ok();
    assert_eq!(
        text_row(&text.stdout, "licenses"),
        [
            "org.opencontainers.image.licenses",
            "MIT OR Apache-2.0",
            "Cargo.toml license (canonicalised from `MIT/Apache-2.0`)"
        ]
    );
}

#[test]
fn package_json_declares_the_project() {
    let sb = Sandbox::new();
    let repo = sb.repo("npm");
    let c = repo
        .write(
            "package.json",
            r#"{"name": "@acme/web", "version": "3.1.0", "license": "ISC",
                "description": "Web app", "homepage": "https://acme.example/web",
                "repository": {"type": "git", "url": "git+https://github.com/acme/web.git"},
                "author": {"name": "Ann", "email": "ann@example.com"}}"#,
        )
        .commit("one");
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("authors", "Ann <ann@example.com>"),
            ("created", &c.time),
            ("description", "Web app"),
            ("licenses", "ISC"),
            ("revision", &c.hash),
            ("source", "https://github.com/acme/web"),
            ("title", "@acme/web"),
            // the declared homepage beats the forge page
            ("url", "https://acme.example/web"),
            ("version", "3.1.0"),
        ])
    );
}

#[test]
fn pyproject_toml_declares_the_project() {
    let sb = Sandbox::new();
    let repo = sb.repo("py");
    let c = repo
        .write(
            "pyproject.toml",
            r#"[project]
name = "pytool"
version = "1.4.0"
description = "A tool"
license = {text = "Apache-2.0"}
authors = [{name = "Ann", email = "ann@example.com"}, {name = "Bob"}]

[project.urls]
Homepage = "https://pytool.example"
Source = "https://gitlab.com/acme/pytool"
Documentation = "https://docs.pytool.example"
"#,
        )
        .commit("one");
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("authors", "Ann <ann@example.com>, Bob"),
            ("created", &c.time),
            ("description", "A tool"),
            ("documentation", "https://docs.pytool.example"),
            ("licenses", "Apache-2.0"),
            ("revision", &c.hash),
            ("source", "https://gitlab.com/acme/pytool"),
            ("title", "pytool"),
            ("url", "https://pytool.example"),
            ("version", "1.4.0"),
        ])
    );
}

#[test]
fn requiring_an_extension_fact_without_a_namespace_says_to_add_one() {
    let sb = Sandbox::new();
    let repo = sb.repo("ext");
    repo.write("a.txt", "a\n").commit("one");
    let out = repo.stamp(json_args(&["--require", "branch"])).run();
    out.status(1);
    let line = out.line("missing-required");
    assert!(
        line.contains("only under --namespace NS (as `NS.branch`)"),
        "{out}"
    );
    assert!(!line.contains("-a branch="), "{out}");
    repo.stamp(json_args(&[
        "--require",
        "branch",
        "--namespace",
        "com.example",
    ]))
    .run()
    .ok();
}

#[test]
fn empty_oci_stamp_variables_count_as_unset() {
    // As a workflow defines them when an optional input is not given.
    let sb = Sandbox::new();
    let repo = sb.repo("empty-vars");
    let c = repo
        .write(
            "Cargo.toml",
            "[package]\nname = \"ev\"\nversion = \"1.0.0\"\nlicense = \"MIT\"\n",
        )
        .commit("one");
    let mut run = repo.stamp(["collect"]);
    for var in [
        "OCI_STAMP_FORMAT",
        "OCI_STAMP_NAMESPACE",
        "OCI_STAMP_LICENSES",
        "OCI_STAMP_CREATED",
        "OCI_STAMP_REQUIRE",
        "OCI_STAMP_REQUIRE_CLEAN",
        "OCI_STAMP_LABEL_SCHEMA",
        "OCI_STAMP_ANNOTATION",
        "OCI_STAMP_REPO",
    ] {
        run = run.env(var, "");
    }
    let out = run.run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("licenses", "MIT"),
            ("revision", &c.hash),
            ("title", "ev"),
            ("version", "1.0.0"),
        ])
    );
    let flags = repo
        .stamp(["flags", "--format", "json"])
        .env("OCI_STAMP_LEVEL", "")
        .env("OCI_STAMP_TOOL", "")
        .run();
    flags.ok().quiet();
    assert!(
        flags
            .stdout
            .contains("\"manifest:org.opencontainers.image.licenses=MIT\""),
        "{flags}"
    );
}

#[test]
fn pyproject_url_labels_are_matched_as_pypa_normalises_them() {
    // As attrs 23.2.0 declares them: the repository under `GitHub`, the version dynamic.
    let sb = Sandbox::new();
    let repo = sb.repo("attrs");
    let c = repo
        .write(
            "pyproject.toml",
            r#"[project]
name = "attrs"
license = "MIT"
description = "Classes Without Boilerplate"
dynamic = ["version", "readme"]

[project.urls]
Documentation = "https://www.attrs.org/"
Changelog = "https://www.attrs.org/en/stable/changelog.html"
GitHub = "https://github.com/python-attrs/attrs"
Funding = "https://github.com/sponsors/hynek"
"#,
        )
        .commit("one");
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("description", "Classes Without Boilerplate"),
            ("documentation", "https://www.attrs.org/"),
            ("licenses", "MIT"),
            ("revision", &c.hash),
            ("source", "https://github.com/python-attrs/attrs"),
            ("title", "attrs"),
            ("url", "https://github.com/python-attrs/attrs"),
        ])
    );

    // `Source Code`, `Home-Page`: punctuation and blanks do not count
    let repo = sb.repo("spelled");
    repo.write(
        "pyproject.toml",
        "[project]\nname = \"spelled\"\n[project.urls]\n\"Source Code\" = \"https://git.example/o/spelled\"\n\"Home-Page\" = \"https://spelled.example\"\n",
    )
    .commit("one");
    let got = repo.stamp(JSON).run();
    got.ok().quiet();
    let a = got.annotations();
    assert_eq!(a[&key("source")], "https://git.example/o/spelled", "{got}");
    assert_eq!(a[&key("url")], "https://spelled.example", "{got}");
}

#[test]
fn a_broken_project_file_is_a_warning() {
    let sb = Sandbox::new();
    let repo = sb.repo("broken");
    let c = repo.write("package.json", "{ not json").commit("one");
    let out = repo.stamp(JSON).run();
    out.ok();
    assert_eq!(out.codes(), ["project-file"]);
    assert!(out.line("project-file").contains("package.json"), "{out}");
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "broken")
        ])
    );
}

#[test]
fn an_mit_license_file_is_detected() {
    let sb = Sandbox::new();
    let repo = sb.repo("mit");
    repo.write("LICENSE", MIT_TEXT).commit("one");
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(explained["annotations"][key("licenses")], "MIT");
    assert_eq!(
        explained_source(&explained, "licenses"),
        "LICENSE (detected)"
    );

    let out = repo.stamp(json_args(&["--no-detect"])).run();
    out.ok().quiet();
    assert!(!out.annotations().contains_key(&key("licenses")));
    let out = repo
        .stamp(json_args(&[]))
        .env("OCI_STAMP_NO_DETECT", "true")
        .run();
    assert!(!out.ok().annotations().contains_key(&key("licenses")));
}

#[test]
fn an_apache_license_file_is_detected() {
    let sb = Sandbox::new();
    let repo = sb.repo("apache");
    repo.write("LICENSE", APACHE_TEXT).commit("one");
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(out.annotations()[&key("licenses")], "Apache-2.0");
}

#[test]
fn dual_license_files_give_a_choice() {
    let sb = Sandbox::new();
    let repo = sb.repo("dual");
    repo.write("LICENSE-MIT", MIT_TEXT)
        .write("LICENSE-APACHE", APACHE_TEXT)
        .commit("one");
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("licenses")],
        "Apache-2.0 OR MIT"
    );
    assert_eq!(
        explained_source(&explained, "licenses"),
        "LICENSE-APACHE + LICENSE-MIT (detected)"
    );
}

#[test]
fn apache_without_its_appendix_is_detected_as_apache() {
    // As itoa, serde and most Rust crates ship LICENSE-APACHE: the terms, no appendix. Its
    // closest text in the full store is Pixar's (Apache with one sentence changed).
    let sb = Sandbox::new();
    let repo = sb.repo("rusty");
    let end = APACHE_TEXT
        .find("END OF TERMS AND CONDITIONS")
        .expect("the fixture has the end of the terms")
        + "END OF TERMS AND CONDITIONS".len();
    repo.write("LICENSE-MIT", MIT_TEXT)
        .write("LICENSE-APACHE", format!("{}\n", &APACHE_TEXT[..end]))
        .commit("one");
    let out = repo.stamp(json_args(&["--explain"])).run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("licenses")],
        "Apache-2.0 OR MIT",
        "{out}"
    );
}

#[test]
fn no_license_file_means_no_licenses() {
    let sb = Sandbox::new();
    let repo = sb.repo("none");
    let c = repo.write("README.md", "# hello\n").commit("one");
    let out = repo.stamp(JSON).run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "none")
        ])
    );
}

#[test]
fn a_declared_license_beats_the_license_file() {
    let sb = Sandbox::new();
    let repo = sb.repo("declared");
    repo.write("LICENSE", APACHE_TEXT)
        .write("Cargo.toml", "[package]\nname = \"x\"\nlicense = \"MIT\"\n")
        .commit("one");
    let out = repo.stamp(JSON).run();
    assert_eq!(out.ok().annotations()[&key("licenses")], "MIT");
}

#[test]
fn licenses_flag_must_be_strict_spdx() {
    let sb = Sandbox::new();
    let repo = sb.repo("lic");
    repo.write("a.txt", "a\n").commit("one");
    let out = repo
        .stamp(json_args(&["--licenses", "MIT/Apache-2.0"]))
        .run();
    out.status(1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr_lines(),
        ["error[invalid-license]: `MIT/Apache-2.0` is not a valid SPDX license expression — write `MIT OR Apache-2.0`"]
    );

    let out = repo
        .stamp(json_args(&["--licenses", "MIT OR Apache-2.0", "--explain"]))
        .run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("licenses")],
        "MIT OR Apache-2.0"
    );
    assert_eq!(explained_source(&explained, "licenses"), "flag --licenses");
}

#[test]
fn licenses_from_the_environment_are_explained() {
    let sb = Sandbox::new();
    let repo = sb.repo("envlic");
    repo.write("LICENSE", APACHE_TEXT).commit("one");
    let out = repo
        .stamp(json_args(&["--explain"]))
        .env("OCI_STAMP_LICENSES", "MIT")
        .run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(explained["annotations"][key("licenses")], "MIT");
    assert_eq!(
        explained_source(&explained, "licenses"),
        "env OCI_STAMP_LICENSES"
    );
    let text = repo
        .stamp(["collect", "-f", "text", "--explain"])
        .env("OCI_STAMP_LICENSES", "MIT")
        .run();
    text.ok().quiet();
    assert_eq!(
        text_row(&text.stdout, "licenses"),
        [
            "org.opencontainers.image.licenses",
            "MIT",
            "env OCI_STAMP_LICENSES"
        ]
    );
}

// ---- created -------------------------------------------------------------------------------

#[test]
fn source_date_epoch_sets_created() {
    let sb = Sandbox::new();
    let repo = sb.repo("sde");
    let c = repo.write("a.txt", "a\n").commit("one");
    assert_eq!(c.time, rfc3339(FIRST_COMMIT_EPOCH));

    let out = repo
        .stamp(json_args(&["--explain"]))
        .env("SOURCE_DATE_EPOCH", "1704164645")
        .run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        explained["annotations"][key("created")],
        "2024-01-02T03:04:05Z"
    );
    assert_eq!(
        explained_source(&explained, "created"),
        "env SOURCE_DATE_EPOCH"
    );

    // empty means unset: the commit time
    let out = repo.stamp(JSON).env("SOURCE_DATE_EPOCH", "").run();
    out.ok().quiet();
    assert_eq!(out.annotations()[&key("created")], c.time);

    // --created beats SOURCE_DATE_EPOCH
    let out = repo
        .stamp(json_args(&["--created", "commit"]))
        .env("SOURCE_DATE_EPOCH", "1704164645")
        .run();
    assert_eq!(out.ok().annotations()[&key("created")], c.time);
}

#[test]
fn a_malformed_source_date_epoch_is_an_error() {
    let sb = Sandbox::new();
    let repo = sb.repo("sde");
    repo.write("a.txt", "a\n").commit("one");
    for bad in [
        "abc",
        "-1",
        "1e9",
        " 1704164645",
        "1704164645.5",
        "99999999999999999999",
    ] {
        let out = repo.stamp(JSON).env("SOURCE_DATE_EPOCH", bad).run();
        out.status(2);
        assert_eq!(out.stdout, "", "{out}");
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out}");
        assert!(lines[0].starts_with("error: SOURCE_DATE_EPOCH: `"), "{out}");
    }
    let out = repo.stamp(JSON).env("SOURCE_DATE_EPOCH", "abc").run();
    assert_eq!(
        out.stderr,
        "error: SOURCE_DATE_EPOCH: `abc` is not a number of seconds since 1970 (digits only)\n"
    );
}

#[test]
fn created_forms() {
    let sb = Sandbox::new();
    let repo = sb.repo("created");
    let c = repo.write("a.txt", "a\n").commit("one");
    let created = |spec: &str| -> String {
        let out = repo.stamp(json_args(&["--created", spec])).run();
        out.ok();
        // The date-times given here are not in the written form: written so, and said.
        if spec.contains('T') {
            assert!(out.stderr.contains("warning[created-normalised]"), "{out}");
        } else {
            out.quiet();
        }
        out.annotations()[&key("created")].clone()
    };
    assert_eq!(created("commit"), c.time);
    assert_eq!(created("auto"), c.time);
    assert_eq!(created("@0"), "1970-01-01T00:00:00Z");
    assert_eq!(created("@1704164645"), "2024-01-02T03:04:05Z");
    assert_eq!(created("2024-01-02T05:04:05+02:00"), "2024-01-02T03:04:05Z");
    assert_eq!(created("2024-01-02T03:04:05.999Z"), "2024-01-02T03:04:05Z");
    let before = now();
    let t = created("now");
    assert_clock(&t, before, now());

    let out = repo
        .stamp(json_args(&[]))
        .env("OCI_STAMP_CREATED", "@1704164645")
        .run();
    assert_eq!(
        out.ok().annotations()[&key("created")],
        "2024-01-02T03:04:05Z"
    );

    for bad in ["2024-01-02", "yesterday", "@-1", "2024-01-02T03:04:05"] {
        let out = repo.stamp(json_args(&["--created", bad])).run();
        out.status(2);
        assert_eq!(out.stdout, "");
        let first = out.stderr_lines()[0];
        assert!(
            first.starts_with(&format!(
                "error: invalid value '{bad}' for '--created <WHEN>'"
            )),
            "{out}"
        );
    }
}

#[test]
fn the_same_commit_gives_the_same_output() {
    let sb = Sandbox::new();
    let repo = sb.repo("first");
    repo.write("Cargo.toml", CARGO_TOML).commit("one");
    repo.git(&["tag", "v0.4.2"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/acme/widget.git",
    ]);
    let args = json_args(&["--namespace", "com.example", "--label-schema"]);
    let one = repo.stamp(&args).run();
    one.ok().quiet();
    let two = repo.stamp(&args).run();
    assert_eq!(one.stdout, two.stdout);

    // another clone, elsewhere, later
    sb.git(sb.path(), &["clone", "-q", "first", "second"]);
    let second = sb.open("second");
    second.git(&[
        "remote",
        "set-url",
        "origin",
        "https://github.com/acme/widget.git",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let three = second.stamp(&args).run();
    three.ok().quiet();
    assert_eq!(one.stdout, three.stdout);
}

// ---- label-schema, environment, annotation files -------------------------------------------

#[test]
fn label_schema_mirrors_the_oci_keys() {
    let sb = Sandbox::new();
    let repo = sb.repo("ls");
    let c = repo.write("Cargo.toml", CARGO_TOML).commit("one");
    let out = repo
        .stamp(json_args(&[
            "--label-schema",
            "-a",
            "vendor=Acme",
            "-a",
            "documentation=https://docs.example",
        ]))
        .run();
    out.ok().quiet();
    let got: BTreeMap<String, String> = out
        .annotations()
        .into_iter()
        .filter(|(k, _)| k.starts_with("org.label-schema."))
        .collect();
    assert_eq!(
        got,
        map(&[
            ("org.label-schema.build-date", &c.time),
            ("org.label-schema.description", "A widget"),
            ("org.label-schema.name", "widget"),
            ("org.label-schema.schema-version", "1.0"),
            ("org.label-schema.url", "https://github.com/acme/widget"),
            ("org.label-schema.usage", "https://docs.example"),
            ("org.label-schema.vcs-ref", &c.hash),
            ("org.label-schema.vcs-url", "https://github.com/acme/widget"),
            ("org.label-schema.vendor", "Acme"),
            ("org.label-schema.version", "0.4.2"),
        ])
    );
    let plain = repo.stamp(JSON).run();
    assert!(plain
        .ok()
        .annotations()
        .keys()
        .all(|k| !k.starts_with("org.label-schema.")));
}

#[test]
fn oci_stamp_annotation_holds_one_per_line() {
    let sb = Sandbox::new();
    let repo = sb.repo("envann");
    repo.write("a.txt", "a\n").commit("one");
    let lines = "com.example.a=1\r\n\nindex:com.example.b=two words\n";
    let out = repo
        .stamp(json_args(&["--explain"]))
        .env("OCI_STAMP_ANNOTATION", lines)
        .run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(explained["annotations"]["com.example.a"], "1");
    assert_eq!(explained["annotations"]["com.example.b"], "two words");
    assert_eq!(
        explained_source(&explained, "com.example.a"),
        "env OCI_STAMP_ANNOTATION"
    );
    assert_eq!(
        explained_source(&explained, "com.example.b"),
        "env OCI_STAMP_ANNOTATION"
    );

    // -a on the command line replaces the variable, as every other option does
    let out = repo
        .stamp(json_args(&["-a", "com.example.c=3"]))
        .env("OCI_STAMP_ANNOTATION", lines)
        .run();
    let got = out.ok().annotations();
    assert_eq!(got["com.example.c"], "3");
    assert!(!got.contains_key("com.example.a"), "{got:?}");

    let out = repo
        .stamp(JSON)
        .env("OCI_STAMP_ANNOTATION", "com.example.a=1\nnovalue\n")
        .run();
    out.status(2);
    assert_eq!(
        out.stderr,
        "error: OCI_STAMP_ANNOTATION: `novalue` is not KEY=VALUE\n"
    );
}

#[test]
fn annotation_file_json_and_lines() {
    let sb = Sandbox::new();
    let repo = sb.repo("annfile");
    let c = repo.write("a.txt", "a\n").commit("one");
    repo.git(&["tag", "v1.0.0"]);
    let json = sb.dir(
        "files",
        &[(
            "a.json",
            r#"{"version": "5.0", "com.example.x": "y", "title": ""}"#,
        )],
    );
    let json_path = json.join("a.json").display().to_string();
    let out = repo
        .stamp(json_args(&["--annotation-file", &json_path, "--explain"]))
        .run();
    out.ok().quiet();
    let explained = out.json();
    assert_eq!(
        crate::harness::to_map(&explained["annotations"]),
        map(&[
            ("com.example.x", "y"),
            ("created", &c.time),
            ("revision", &c.hash),
            ("version", "5.0"),
        ])
    );
    assert_eq!(
        explained_source(&explained, "version"),
        format!("annotation file {json_path}")
    );

    // a flag beats the file
    let out = repo
        .stamp(json_args(&[
            "--annotation-file",
            &json_path,
            "-a",
            "version=9",
        ]))
        .run();
    assert_eq!(out.ok().annotations()[&key("version")], "9");

    let lines = sb.dir(
        "lines",
        &[(
            "a.txt",
            "# build facts\n\nversion=6\r\nindex:com.example.z=q=r\nvendor=Acme Corp\n",
        )],
    );
    let out = repo
        .stamp(json_args(&[
            "--annotation-file",
            &lines.join("a.txt").display().to_string(),
        ]))
        .run();
    out.ok().quiet();
    let got = out.annotations();
    assert_eq!(got[&key("version")], "6");
    assert_eq!(got["com.example.z"], "q=r");
    assert_eq!(got[&key("vendor")], "Acme Corp");

    // from standard input, and named by the environment
    let out = repo
        .stamp(json_args(&[]))
        .env("OCI_STAMP_ANNOTATION_FILE", "-")
        .stdin("version=7\n")
        .run();
    assert_eq!(out.ok().annotations()[&key("version")], "7");
}

#[test]
fn a_bad_annotation_file_is_an_operational_error() {
    let sb = Sandbox::new();
    let repo = sb.repo("badfile");
    repo.write("a.txt", "a\n").commit("one");
    let files = sb.dir(
        "files",
        &[
            ("number.json", r#"{"version": 5}"#),
            ("nested.json", r#"{"com.example.x": {"a": "b"}}"#),
            ("broken.json", r#"{"version": "#),
            ("lines.txt", "version=1\nnovalue\n"),
        ],
    );
    let path = |f: &str| files.join(f).display().to_string();
    let cases = [
        (
            path("number.json"),
            format!(
                "error: {}: the value of `version` is a number — annotation values are strings",
                path("number.json")
            ),
        ),
        (
            path("nested.json"),
            format!(
                "error: {}: the value of `com.example.x` is an object — annotation values are strings",
                path("nested.json")
            ),
        ),
        (
            path("lines.txt"),
            format!("error: {}: line 2: `novalue` is not KEY=VALUE", path("lines.txt")),
        ),
    ];
    for (file, want) in cases {
        let out = repo.stamp(json_args(&["--annotation-file", &file])).run();
        out.status(2);
        assert_eq!(out.stdout, "");
        assert_eq!(out.stderr_lines(), [want.as_str()], "{out}");
    }
    for file in [path("broken.json"), path("missing.json")] {
        let out = repo.stamp(json_args(&["--annotation-file", &file])).run();
        out.status(2);
        let lines = out.stderr_lines();
        assert_eq!(lines.len(), 1, "{out}");
        // a missing file names the option; a broken one its path and the problem
        let want = if file.ends_with("missing.json") {
            format!("error: --annotation-file (OCI_STAMP_ANNOTATION_FILE) {file}: ")
        } else {
            format!("error: {file}: ")
        };
        assert!(lines[0].starts_with(&want), "{out}");
    }
}

#[test]
fn secrets_in_explicit_values_are_refused_without_echo() {
    let sb = Sandbox::new();
    let repo = sb.repo("secret");
    repo.write("a.txt", "a\n").commit("one");
    let out = repo
        .stamp(json_args(&[
            "-a",
            "source=https://x-access-token:ghs_SECRET@github.com/o/r",
        ]))
        .run();
    out.status(1);
    assert_eq!(out.stdout, "");
    assert_eq!(out.codes(), ["url-credentials"]);
    assert!(!out.stderr.contains("ghs_SECRET"), "{out}");
}

// ---- usage, completions, man, closed output ------------------------------------------------

#[test]
fn usage_errors_exit_2() {
    let sb = Sandbox::new();
    let repo = sb.repo("usage");
    repo.write("a.txt", "a\n").commit("one");
    let cases: &[(&[&str], &str)] = &[
        (
            &["collect", "-f", "json", "--level", "bogus"],
            "error: invalid value 'bogus' for '--level <LEVELS>': unknown level `bogus`",
        ),
        (
            &["collect", "-f", "json", "-a", "novalue"],
            "error: invalid value 'novalue' for '--annotation <[LEVELS:]KEY=VALUE>': `novalue` is not KEY=VALUE",
        ),
        (
            &["collect", "-f", "json", "-a", "bogus:com.example.x=1"],
            "error: invalid value 'bogus:com.example.x=1' for '--annotation <[LEVELS:]KEY=VALUE>'",
        ),
        (&["collect", "--format", "yaml"], "error: invalid value 'yaml' for '--format <FORMAT>'"),
        (&["collect", "--no-such-flag"], "error: unexpected argument '--no-such-flag' found"),
        (&["frobnicate"], "error: unrecognized subcommand 'frobnicate'"),
        (
            &["collect", "-f", "json", "--namespace", "org.opencontainers.image"],
            "error: --namespace `org.opencontainers.image` is under `org.opencontainers`",
        ),
    ];
    for (args, want) in cases {
        let out = repo.stamp(*args).run();
        out.status(2);
        assert_eq!(out.stdout, "", "{out}");
        assert!(out.stderr_lines()[0].starts_with(want), "{out}");
    }
    let out = repo.stamp(JSON).env("OCI_STAMP_LEVEL", "bogus").run();
    out.status(2);
}

/// `--namespace` is a reverse-domain prefix; one without a dot is refused.
#[test]
fn a_namespace_without_a_dot_is_a_usage_error() {
    let sb = Sandbox::new();
    let repo = sb.repo("ns");
    repo.write("a.txt", "a\n").commit("one");
    let out = repo.stamp(json_args(&["--namespace", "example"])).run();
    out.status(2);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr_lines()[0]
            .starts_with("error: --namespace `example` is not a reverse-domain prefix"),
        "{out}"
    );
}

#[test]
fn completions_and_man_page() {
    let sb = Sandbox::new();
    let out = sb.stamp(["completions", "bash"]).run();
    out.ok().quiet();
    assert!(out.stdout.contains("_oci__stamp()"), "{out}");
    assert!(out.stdout.contains("complete -F _oci__stamp"), "{out}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = sb.stamp(["completions", shell]).run();
        out.ok().quiet();
        assert!(out.stdout.contains("oci-stamp"), "{shell}\n{out}");
    }
    let out = sb.stamp(["completions", "tcsh"]).run();
    out.status(2);

    let out = sb.stamp(["man"]).run();
    out.ok().quiet();
    assert!(out.stdout.contains(".TH oci-stamp 1"), "{out}");
    assert!(out.stdout.contains("collect"), "{out}");
}

/// `oci-stamp collect | head -c1`: the reader goes away; that is not an error.
#[test]
fn a_closed_stdout_is_not_an_error() {
    let sb = Sandbox::new();
    let repo = sb.repo("pipe");
    repo.write("a.txt", "a\n").commit("one");
    // Larger than a pipe buffer, so the write is still going when `head` exits.
    let big = format!("com.example.big={}", "x".repeat(120_000));
    let out = sb
        .command("sh")
        .args([
            "-c",
            r#"{ "$0" collect --format json; echo "status=$?" >&2; } | head -c1"#,
            BIN,
        ])
        .current_dir(&repo.path)
        .env("OCI_STAMP_ANNOTATION", &big)
        .output()
        .expect("run sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "status=0\n");

    // a small result, as in the issue
    let out = sb
        .command("sh")
        .args([
            "-c",
            r#"{ "$0" collect --format json; echo "status=$?" >&2; } | head -c1"#,
            BIN,
        ])
        .current_dir(&repo.path)
        .output()
        .expect("run sh");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "status=0\n");
}

// ---- ownership -----------------------------------------------------------------------------

/// A checkout owned by another user (a CI container running as root on the runner's
/// workspace) must be readable: oci-stamp turns libgit2's owner check off.
#[cfg(unix)]
#[test]
fn a_checkout_owned_by_another_user_works() {
    use std::os::unix::fs::MetadataExt;

    let sb = Sandbox::new();
    let probe = sb.path().join("probe");
    std::fs::write(&probe, "").expect("write probe");
    let uid = std::fs::metadata(&probe).expect("stat probe").uid();
    if uid != 0 {
        assert!(
            std::env::var_os("CI").is_none(),
            "this test needs root (to chown a repository to another user), and CI is set"
        );
        println!("note: skipping a_checkout_owned_by_another_user_works: needs root to chown");
        return;
    }
    let repo = sb.repo("foreign");
    repo.write("a.txt", "a\n").commit("one");
    repo.git(&["tag", "v1.0.0"]);
    let c = repo.write("a.txt", "b\n").commit("two");
    let status = sb
        .command("chown")
        .args(["-R", "65534"])
        .arg(&repo.path)
        .status()
        .expect("run chown");
    assert!(status.success());
    assert_eq!(std::fs::metadata(&repo.path).expect("stat").uid(), 65534);
    // The setup is real: git itself refuses this checkout.
    let git = sb
        .command("git")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["rev-parse", "HEAD"])
        .current_dir(&repo.path)
        .output()
        .expect("run git");
    assert!(!git.status.success());
    assert!(String::from_utf8_lossy(&git.stderr).contains("dubious ownership"));

    let out = repo
        .stamp(json_args(&[
            "--namespace",
            "com.example",
            "--require-clean",
        ]))
        .run();
    out.ok().quiet();
    assert_eq!(
        out.annotations(),
        map(&[
            ("com.example.branch", "main"),
            ("com.example.dirty", "false"),
            ("created", &c.time),
            ("revision", &c.hash),
            ("title", "foreign"),
            ("version", &format!("1.0.1-dev.1.g{}", &c.hash[..7])),
        ])
    );
}

/// `--write FORMAT=FILE`: every file holds what `--format FORMAT` prints from the same
/// collection (the same `created` even with `--created now`); a refused output writes
/// nothing at all, a file that is not a regular one is refused, and a usage error names
/// the formats.
#[test]
fn write_gives_each_format_from_one_collection() {
    let sb = Sandbox::new();
    let repo = sb.repo("written");
    repo.write("a.txt", "a\n").commit("one");
    let out_dir = sb.dir("out", &[]);
    let file = |name: &str| out_dir.join(name);
    let bake = file("stamp.bake.json");
    let explain = file("explain.txt");
    std::fs::write(&bake, "old").unwrap();
    let out = repo
        .stamp([
            "collect",
            "--format",
            "github",
            "--explain",
            "--write",
            &format!("bake={}", bake.display()),
            "--write",
            &format!("text={}", explain.display()),
        ])
        .run();
    out.ok();
    // What `--format` prints, byte for byte (the explanation included).
    for (format, path, explain_flag) in [("bake", &bake, false), ("text", &explain, true)] {
        let mut args = vec!["collect", "--format", format];
        if explain_flag {
            args.push("--explain");
        }
        let alone = repo.stamp(args).run();
        alone.ok();
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            alone.stdout,
            "{format}"
        );
    }
    // With `--created now`, the standard output and the file hold the same instant.
    let json = file("stamp.json");
    let out = repo
        .stamp([
            "collect",
            "--format",
            "github",
            "--created",
            "now",
            "--write",
            &format!("json={}", json.display()),
        ])
        .run();
    out.ok();
    let created = crate::consumers::read_github_output(&out.stdout).0["created"].clone();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written[key("created")], created.as_str());
    std::fs::remove_file(&json).unwrap();
    let names: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "no temporary file left: {names:?}");

    // One output refused (dotenv cannot hold a line break): exit 1, nothing printed, no
    // file written or replaced.
    let dotenv = file("stamp.env");
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "-a",
            "description=one\ntwo",
            "--write",
            &format!("dotenv={}", dotenv.display()),
            "--write",
            &format!("bake={}", bake.display()),
        ])
        .run();
    out.status(1);
    assert!(out.stdout.is_empty(), "{out}");
    assert_eq!(out.codes(), ["multiline-value"], "{out}");
    assert!(!dotenv.exists());
    assert!(std::fs::read_to_string(&bake)
        .unwrap()
        .contains("\"target\""));

    // Not a regular file: exit 2, the link and what it names untouched.
    let link = file("link");
    std::os::unix::fs::symlink(&bake, &link).unwrap();
    let before = std::fs::read(&bake).unwrap();
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--write",
            &format!("json={}", link.display()),
        ])
        .run();
    out.status(2);
    assert!(out.stderr.contains("is not a regular file"), "{out}");
    assert_eq!(std::fs::read(&bake).unwrap(), before);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    for bad in ["bake", "yaml=x", "json="] {
        let out = repo.stamp(["collect", "--write", bad]).run();
        out.status(2);
        assert!(out.stderr.contains("--write"), "{bad}: {out}");
    }
    let out = repo.stamp(["collect", "--write", "yaml=x"]).run();
    assert!(out.stderr.contains("one of text, json"), "{out}");
}
