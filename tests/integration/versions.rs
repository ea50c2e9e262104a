//! A build says which commit it is: the release at its tag, a development version past it,
//! and only this package's tags count.

use crate::harness::{key, Sandbox};

const EXPLAIN: &[&str] = &["collect", "--format", "json", "--explain"];

fn version(out: &crate::harness::Output) -> Option<String> {
    out.json()["annotations"][key("version")]
        .as_str()
        .map(str::to_string)
}

fn cargo(name: &str, version: &str) -> String {
    format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nlicense = \"MIT\"\n")
}

#[test]
fn past_a_release_the_project_version_is_not_the_release() {
    // ripgrep: Cargo.toml says 15.2.0, HEAD is commits past the 15.2.0 tag
    let sb = Sandbox::new();
    let repo = sb.repo("rg");
    repo.write("Cargo.toml", cargo("ripgrep", "15.2.0"))
        .commit("release");
    repo.git(&["tag", "15.2.0"]);
    repo.git(&["tag", "ignore-0.4.33"]);
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    assert_eq!(version(&out).as_deref(), Some("15.2.0"));

    repo.write("a", "1").commit("two");
    repo.write("a", "2").commit("three");
    let described = repo.git(&["describe", "--tags", "--match", "15.*"]);
    let short = described.rsplit_once("-g").unwrap().1.to_string();
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    let j = out.json();
    assert_eq!(
        j["annotations"][key("version")],
        format!("15.2.1-dev.2.g{short}")
    );
    assert!(
        j["sources"][key("version")]["note"]
            .as_str()
            .unwrap()
            .contains("Cargo.toml says 15.2.0"),
        "{out}"
    );
    // a version already ahead of the tag is kept (wasmtime's `49.0.0-dev`)
    repo.write("Cargo.toml", cargo("ripgrep", "16.0.0-dev"))
        .commit("bump");
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(version(out.ok()).as_deref(), Some("16.0.0-dev"));
}

#[test]
fn a_monorepo_siblings_tags_are_not_this_packages() {
    // tokio: `tokio-1.53.1` and, nearer, `tokio-stream-0.1.19`
    let sb = Sandbox::new();
    let repo = sb.repo("tokio");
    repo.write("Cargo.toml", cargo("tokio", "1.53.1"))
        .commit("one");
    repo.git(&["tag", "tokio-1.53.1"]);
    repo.write("a", "1").commit("two");
    repo.git(&["tag", "tokio-stream-0.1.19"]);
    let c = repo.write("a", "2").commit("three");
    let out = repo.stamp(EXPLAIN).run();
    out.ok().quiet();
    let j = out.json();
    assert_eq!(
        j["annotations"][key("version")],
        format!("1.53.2-dev.2.g{}", &c.hash[..7])
    );
    assert_eq!(
        j["sources"][key("version")]["source"],
        "git describe (tag tokio-1.53.1)"
    );
    // on the sibling's tag, still not the sibling's version
    repo.git(&["checkout", "-q", "tokio-stream-0.1.19"]);
    let out = repo.stamp(EXPLAIN).run();
    assert!(
        version(out.ok()).unwrap().starts_with("1.53.2-dev.1."),
        "{out}"
    );
}

#[test]
fn prefixed_tags_need_the_package_name_or_tag_prefix() {
    let sb = Sandbox::new();
    let repo = sb.repo("gson");
    repo.write("README", "x").commit("one");
    repo.git(&["tag", "release-9.0.0"]);
    repo.git(&["tag", "gson-parent-2.14.0"]);
    let out = repo.stamp(EXPLAIN).run();
    out.ok();
    assert_eq!(version(&out), None);
    // The warning names the prefixes the tags have, and the option that selects them.
    assert_eq!(
        out.line("no-release-tag"),
        "warning[no-release-tag]: the repository has 2 tags, but none is a release tag of this package (`vVERSION`); no version from git — this repository's other tags are `gson-parent-VERSION` (1), `release-VERSION` (1): pass --tag-prefix `gson-parent-` to take versions from the first; or -a version=…"
    );
    let out = repo
        .stamp([
            "collect",
            "-f",
            "json",
            "--explain",
            "--tag-prefix",
            "release-",
        ])
        .run();
    assert_eq!(version(out.ok().quiet()).as_deref(), Some("9.0.0"));
    let out = repo
        .stamp(EXPLAIN)
        .env("OCI_STAMP_TAG_PREFIX", "gson-parent-")
        .run();
    assert_eq!(version(out.ok().quiet()).as_deref(), Some("2.14.0"));
    // npm: `@scope/pkg@3.1.0` is the release of `@scope/pkg`
    let repo = sb.repo("npm");
    repo.write(
        "package.json",
        r#"{"name": "@scope/pkg", "version": "3.1.0"}"#,
    )
    .commit("one");
    repo.git(&["tag", "@scope/pkg@3.1.0"]);
    repo.git(&["tag", "other@9.0.0"]);
    let out = repo.stamp(EXPLAIN).run();
    let j = out.ok().quiet().json();
    assert_eq!(j["annotations"][key("version")], "3.1.0");
    assert_eq!(
        j["sources"][key("version")]["source"],
        "git tag @scope/pkg@3.1.0"
    );
}

#[test]
fn go_modules_in_subdirectories_have_their_own_tags() {
    let sb = Sandbox::new();
    let repo = sb.repo("gomono");
    repo.write("cmd/tool/main.go", "package main\n")
        .commit("one");
    repo.git(&["tag", "cmd/tool/v0.3.0"]);
    repo.git(&["tag", "v0.9.0"]);
    let out = repo
        .stamp(["collect", "-f", "json", "--explain", "-C", "cmd/tool"])
        .run();
    assert_eq!(version(out.ok().quiet()).as_deref(), Some("0.3.0"));
}

#[test]
fn far_past_a_tag_and_the_abbreviation_git_prints() {
    let sb = Sandbox::new();
    let repo = sb.repo("far");
    repo.write("a", "0").commit("c0");
    repo.git(&["tag", "v2.3.4"]);
    for i in 1..=40 {
        repo.write("a", i.to_string()).commit(&format!("c{i}"));
    }
    let described = repo.git(&["describe", "--tags"]);
    let (_, short) = described.rsplit_once("-g").unwrap();
    let out = repo.stamp(EXPLAIN).run();
    assert_eq!(
        version(out.ok().quiet()),
        Some(format!("2.3.5-dev.40.g{short}"))
    );
}

#[test]
fn a_ci_tag_counts_only_when_the_ci_commit_is_head() {
    let sb = Sandbox::new();
    let repo = sb.repo("ci");
    let one = repo.write("a", "1").commit("one");
    let two = repo.write("a", "2").commit("two");
    let run = |sha: &str| {
        repo.stamp(EXPLAIN)
            .env("GITLAB_CI", "true")
            .env("CI_COMMIT_TAG", "v7.0.0")
            .env("CI_COMMIT_SHA", sha)
            .run()
    };
    let out = run(&two.hash);
    assert_eq!(version(out.ok().quiet()).as_deref(), Some("7.0.0"));
    let out = run(&one.hash);
    out.ok();
    assert_eq!(version(&out), None);
    let line = out.line("ci-tag-not-head");
    assert!(
        line.contains("ignored CI_COMMIT_TAG `v7.0.0`: CI_COMMIT_SHA is")
            && line.contains(&one.hash)
            && line.contains("not HEAD"),
        "{out}"
    );
}

#[test]
fn corrupt_packed_refs_lines_are_a_warning() {
    let sb = Sandbox::new();
    let repo = sb.repo("packed");
    repo.write("a", "1").commit("one");
    repo.git(&["tag", "v1.0.0"]);
    repo.git(&["pack-refs", "--all"]);
    let path = repo.path.join(".git/packed-refs");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("this line is not a ref\n");
    std::fs::write(&path, text).unwrap();
    let out = repo.stamp(EXPLAIN).run();
    out.ok();
    assert!(
        out.line("packed-refs")
            .contains("1 line of .git/packed-refs cannot be read (line 4)"),
        "header, main, the tag, then the bad line: {out}"
    );
    // the readable tags are still read
    assert_eq!(version(&out).as_deref(), Some("1.0.0"));
    // With the version given, nothing reads the tags, and no value depends on the file.
    let given = repo
        .stamp(EXPLAIN.iter().copied().chain(["-a", "version=2.0.0"]))
        .run();
    given.ok();
    assert!(
        !given.stderr.contains("[packed-refs]"),
        "the tags are not read: {given}"
    );
    assert_eq!(version(&given).as_deref(), Some("2.0.0"));
}

#[test]
fn a_project_description_is_folded_to_one_line_and_a_flag_value_is_not() {
    let sb = Sandbox::new();
    let repo = sb.repo("rgdesc");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"rg\"\nversion = \"1.0.0\"\ndescription = \"\"\"\nripgrep is a line-oriented search tool that recursively searches the current\ndirectory for a regex pattern while respecting gitignore rules.   \n\"\"\"\n",
    )
    .commit("one");
    let out = repo.stamp(EXPLAIN).run();
    let j = out.ok().quiet().json();
    assert_eq!(
        j["annotations"][key("description")],
        "ripgrep is a line-oriented search tool that recursively searches the current directory for a regex pattern while respecting gitignore rules."
    );
    assert_eq!(
        j["sources"][key("description")]["note"],
        "folded to one line"
    );
    let out = repo.stamp(["collect", "-f", "labels"]).run();
    out.ok().quiet();
    assert!(out.stdout.contains("respecting gitignore rules."), "{out}");
    // -a values stay exactly as given
    let out = repo
        .stamp(["collect", "-f", "json", "-a", "description=two\n  lines"])
        .run();
    assert_eq!(out.ok().annotations()[&key("description")], "two\n  lines");
}

#[test]
fn messages_name_the_option_or_variable() {
    let sb = Sandbox::new();
    let repo = sb.repo("msgs");
    repo.write("a", "1").commit("one");
    let out = repo
        .stamp(["collect"])
        .env("OCI_STAMP_REQUIRE_CLEAN", "maybe")
        .run();
    out.status(2);
    assert!(
        out.stderr.contains(
            "OCI_STAMP_REQUIRE_CLEAN=`maybe` is not a valid value for --require-clean; accepted:"
        ),
        "{out}"
    );
    let out = repo.stamp(["collect", "--annotation-file", "/nope"]).run();
    out.status(2);
    assert!(
        out.stderr
            .contains("--annotation-file (OCI_STAMP_ANNOTATION_FILE) /nope:"),
        "{out}"
    );
    let out = repo.stamp(["collect", "-C", "/nope"]).run();
    out.status(2);
    assert!(
        out.stderr.contains("--repo (-C, OCI_STAMP_REPO) /nope:"),
        "{out}"
    );
}
