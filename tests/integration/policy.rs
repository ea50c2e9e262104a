//! The policy file, `oci-stamp.toml`: fixed values and their precedence, defaults, the
//! license allow and deny lists over `OR`, `AND` and `WITH`, and malformed files (exit 2).

use crate::harness::{Repo, Sandbox};

const VENDOR: &str = "org.opencontainers.image.vendor";
const DOCS: &str = "org.opencontainers.image.documentation";

fn repo<'s>(sb: &'s Sandbox, policy: &str) -> Repo<'s> {
    let repo = sb.repo("app");
    repo.write("oci-stamp.toml", policy);
    repo.commit("one");
    repo
}

const POLICY: &str = r#"
require = ["revision"]
namespace = "com.example"
[annotations]
vendor = "Example Corp"
"index,manifest:documentation" = "https://docs.example.com"
"com.example.team" = "platform"
[licenses]
allow = ["MIT", "Apache-2.0", "LLVM-exception"]
deny = ["GPL-3.0-only"]
"#;

#[test]
fn fixed_values_sit_below_flags_and_the_annotation_file() {
    let sb = Sandbox::new();
    let repo = repo(&sb, POLICY);
    let out = repo
        .stamp(["collect", "--format", "json", "--licenses", "MIT"])
        .run();
    out.ok();
    let a = out.annotations();
    assert_eq!(a[VENDOR], "Example Corp");
    assert_eq!(a[DOCS], "https://docs.example.com");
    assert_eq!(a["com.example.team"], "platform");
    // The namespace default applies.
    assert!(a.contains_key("com.example.branch"), "{a:?}");
    // -a wins, and the annotation file wins too.
    repo.write("ann.txt", "vendor=From File\n");
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--licenses",
            "MIT",
            "-a",
            "com.example.team=web",
            "--annotation-file",
            "ann.txt",
        ])
        .run();
    out.ok();
    let a = out.annotations();
    assert_eq!(a["com.example.team"], "web");
    assert_eq!(a[VENDOR], "From File");
    // --explain names the policy file; its levels syntax reaches the build flags.
    let out = repo
        .stamp([
            "collect",
            "--explain",
            "--format",
            "text",
            "--licenses",
            "MIT",
        ])
        .run();
    out.ok();
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with(VENDOR))
        .expect("vendor line");
    assert!(
        line.contains("policy file") && line.contains("oci-stamp.toml"),
        "{line}"
    );
    let out = repo
        .stamp(["flags", "--format", "json", "--licenses", "MIT"])
        .run();
    out.ok();
    assert!(
        out.stdout.contains(
            "index,manifest:org.opencontainers.image.documentation=https://docs.example.com"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn licenses_are_checked_against_allow_and_deny() {
    let sb = Sandbox::new();
    let repo = repo(&sb, POLICY);
    let run = |expr: &str| {
        repo.stamp(["collect", "--format", "json", "--licenses", expr])
            .run()
    };
    for ok in [
        "MIT",
        "MIT OR GPL-3.0-only",
        "MIT AND Apache-2.0",
        "Apache-2.0 WITH LLVM-exception",
    ] {
        run(ok).ok();
    }
    let out = run("GPL-3.0-only");
    out.status(1);
    assert!(
        out.line("license-denied").contains("`GPL-3.0-only`"),
        "{out}"
    );
    let out = run("MIT AND BSD-3-Clause");
    out.status(1);
    assert!(
        out.line("license-not-allowed").contains("`BSD-3-Clause`"),
        "{out}"
    );
    let out = run("Apache-2.0 WITH Classpath-exception-2.0");
    out.status(1);
    assert!(
        out.line("license-not-allowed")
            .contains("Classpath-exception-2.0"),
        "{out}"
    );
    // annotate and verify apply it too.
    let file = sb.path().join("m.json");
    std::fs::write(&file, r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#).expect("write");
    let target = file.display().to_string();
    repo.stamp(["annotate", "--licenses", "GPL-3.0-only", &target])
        .run()
        .status(1);
    // (the policy's index-level entry has no place in a lone manifest: removed here)
    let docs = "documentation=";
    repo.stamp(["annotate", "--licenses", "MIT", "-a", docs, &target])
        .run()
        .ok();
    repo.stamp([
        "verify",
        "--licenses",
        "MIT",
        "-a",
        docs,
        "--keys",
        "all",
        &target,
    ])
    .run()
    .ok();
    repo.stamp(["verify", "--licenses", "GPL-3.0-only", "-a", docs, &target])
        .run()
        .status(1);
}

#[test]
fn require_and_levels_defaults_and_an_explicit_policy_file() {
    let sb = Sandbox::new();
    let repo = repo(&sb, "require = [\"version\"]\nlevels = \"index\"\n");
    let out = repo.stamp(["collect", "--format", "json"]).run();
    out.status(1);
    assert!(out.line("missing-required").contains("version"), "{out}");
    let out = repo
        .stamp(["flags", "--format", "json", "-a", "version=1"])
        .run();
    out.ok();
    assert!(
        out.stdout
            .contains("\"index:org.opencontainers.image.version=1\""),
        "{}",
        out.stdout
    );
    // --level wins over the policy.
    let out = repo
        .stamp([
            "flags",
            "--format",
            "json",
            "-a",
            "version=1",
            "--level",
            "manifest",
        ])
        .run();
    out.ok();
    assert!(
        out.stdout
            .contains("\"manifest:org.opencontainers.image.version=1\""),
        "{}",
        out.stdout
    );
    // --policy FILE, and OCI_STAMP_POLICY.
    let other = sb.dir(
        "etc",
        &[("p.toml", "[annotations]\nvendor = \"Elsewhere\"\n")],
    );
    let path = other.join("p.toml");
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--policy",
            path.to_str().unwrap(),
        ])
        .run();
    out.ok();
    assert_eq!(out.annotations()[VENDOR], "Elsewhere");
    let out = repo
        .stamp(["collect", "--format", "json"])
        .env("OCI_STAMP_POLICY", &path)
        .run();
    out.ok();
    assert_eq!(out.annotations()[VENDOR], "Elsewhere");
}

#[test]
fn malformed_policy_files_are_usage_errors_naming_the_line() {
    let cases = [
        (
            "requre = []\n",
            "line 1: unknown key `requre` (did you mean `require`?)",
        ),
        (
            "\nrequire-clean = 1\n",
            "line 2: `require-clean` must be true or false, not an integer",
        ),
        (
            "[licenses]\nalow = [\"MIT\"]\n",
            "line 2: unknown key `alow` in [licenses] (did you mean `allow`?)",
        ),
        (
            "[licenses]\nallow = [\"MTI\"]\n",
            "`MTI` is no SPDX license or exception identifier",
        ),
        (
            "[annotations]\nvendor = true\n",
            "line 2: `annotations.vendor` must be a string, not a boolean",
        ),
        ("namespace = \"example\"\n", "--namespace `example`"),
        ("levels = \"everywhere\"\n", "line 1: `levels`"),
        ("require = [\n", "oci-stamp.toml: line "),
    ];
    for (text, want) in cases {
        let sb = Sandbox::new();
        let repo = repo(&sb, text);
        let out = repo.stamp(["collect"]).run();
        out.status(2);
        assert!(out.stderr.contains(want), "{text:?}\n{out}");
    }
}

/// The policy file is the one at the root of the work tree holding `--repo`: found from a
/// subdirectory, from a linked worktree (whose `.git` is a file) its own root's, and never
/// a parent directory's from a bare repository, which has no work tree.
#[test]
fn the_policy_file_is_the_work_trees_own() {
    let sb = Sandbox::new();
    let repo = repo(&sb, "[annotations]\nvendor = \"Root Policy\"\n");
    repo.write("sub/dir/keep.txt", "x");
    repo.commit("two");
    let vendor = |args: &[&str], dir: &std::path::Path| {
        let mut all = vec!["collect", "--format", "json"];
        all.extend_from_slice(args);
        let out = sb.stamp(all).current_dir(dir).run();
        out.ok();
        out.annotations().get(VENDOR).cloned()
    };
    assert_eq!(
        vendor(&["-C", "sub/dir"], &repo.path).as_deref(),
        Some("Root Policy"),
        "from a subdirectory"
    );
    // A linked worktree with a policy of its own, inside the sandbox beside the main one.
    repo.git(&["worktree", "add", "-q", "-b", "side", "../side"]);
    let side = sb.open("side");
    side.write(
        "oci-stamp.toml",
        "[annotations]\nvendor = \"Side Policy\"\n",
    );
    side.write("deep/er/x.txt", "x");
    assert_eq!(
        vendor(&["-C", "deep/er"], &side.path).as_deref(),
        Some("Side Policy"),
        "a linked worktree's own root"
    );
    // A bare clone inside a directory that has a policy file and a `.git` of its own above
    // it: the bare repository is the repository, and it has no policy file.
    sb.git(
        &repo.path,
        &["clone", "-q", "--bare", ".", "nested/bare.git"],
    );
    let bare = repo.path.join("nested/bare.git");
    assert_eq!(
        vendor(&["-C", bare.to_str().unwrap()], &repo.path),
        None,
        "a bare repository"
    );
}
