//! `oci-stamp verify [COLLECT] TARGET…`: targets stamped by `annotate`, then changed (another
//! commit, a hand-edited value, a missing key, a platform left unstamped), checked against
//! what `collect` gives; `--keys`, `--ancestor`, `--no-collect`, JSON output, exit codes.

use std::fs;
use std::path::PathBuf;

use serde_json::Value;

use crate::annotate::copy_tree;
use crate::harness::{fixtures, Output, Repo, Sandbox};

const EPOCH: &str = "@1704164645";
const BUILDX: &str = "buildx-multiplatform-attestations";
const REVISION: &str = "org.opencontainers.image.revision";

/// A repository with a remote (so `source` is collected) and one commit.
fn repo(sb: &Sandbox) -> Repo<'_> {
    let repo = sb.repo("app");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/example/app.git",
    ]);
    repo.commit("one");
    repo
}

fn layout(sb: &Sandbox, name: &str) -> PathBuf {
    let to = sb.path().join(name);
    copy_tree(&fixtures().join("layouts").join(name), &to);
    to
}

fn annotate(repo: &Repo, args: &[&str]) {
    let mut all = vec!["annotate", "--created", EPOCH, "-a", "version=1.0"];
    all.extend_from_slice(args);
    repo.stamp(&all).run().ok();
}

fn verify(repo: &Repo, args: &[&str]) -> Output {
    let mut all = vec!["verify", "--created", EPOCH, "-a", "version=1.0"];
    all.extend_from_slice(args);
    repo.stamp(&all).run()
}

/// The checks of the one target of a `--format json` run.
fn checks(out: &Output) -> Vec<Value> {
    let json = out.json();
    assert_eq!(json["targets"].as_array().map(Vec::len), Some(1), "{out}");
    json["targets"][0]["checks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn results(out: &Output) -> Vec<(String, String, String)> {
    checks(out)
        .iter()
        .map(|c| {
            (
                c["place"].as_str().unwrap_or_default().to_string(),
                c["key"].as_str().unwrap_or_default().to_string(),
                c["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_stamped_layout_verifies_and_a_new_commit_does_not() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = layout(&sb, BUILDX);
    let target = dir.display().to_string();
    annotate(&repo, &[&target]);
    let out = verify(&repo, &["--format", "json", &target]);
    out.ok();
    let r = results(&out);
    // Two platform manifests, three keys each; attestation manifests are not checked.
    assert_eq!(r.len(), 6, "{out}");
    assert!(r.iter().all(|(_, _, res)| res == "match"), "{out}");
    assert!(
        r.iter().any(|(p, _, _)| p == "manifest linux/arm64"),
        "{out}"
    );
    assert_eq!(out.json()["ok"], true);

    let old = repo.head();
    repo.commit("two");
    let out = verify(&repo, &["--format", "json", &target]);
    out.status(1);
    let c = checks(&out);
    let bad: Vec<&Value> = c.iter().filter(|c| c["result"] != "match").collect();
    assert_eq!(bad.len(), 2, "{out}");
    for b in bad {
        assert_eq!(b["key"], REVISION);
        assert_eq!(b["result"], "mismatch");
        assert_eq!(b["found"], old.as_str());
        assert_eq!(b["expected"], repo.head().as_str());
    }
    assert_eq!(out.json()["ok"], false);
    assert_eq!(
        out.codes(),
        ["annotation-mismatch", "annotation-mismatch"],
        "{out}"
    );

    // The text table names the platform, the key, both values and the result.
    let text = verify(&repo, &[&target]);
    text.status(1);
    let row = text
        .stdout
        .lines()
        .find(|l| l.contains("linux/amd64") && l.contains("revision"))
        .unwrap_or_else(|| panic!("no row\n{text}"));
    assert!(
        row.contains(&old) && row.contains(&repo.head()) && row.ends_with("differs"),
        "{row}"
    );
}

#[test]
fn ancestor_accepts_history_and_refuses_other_branches_and_unknown_commits() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = layout(&sb, BUILDX);
    let target = dir.display().to_string();
    annotate(&repo, &[&target]);
    repo.commit("two");
    // A commit on the branch: accepted with --ancestor only.
    verify(&repo, &[&target]).status(1);
    let out = verify(&repo, &["--ancestor", "--format", "json", &target]);
    out.ok();
    assert!(results(&out)
        .iter()
        .any(|(_, k, r)| k == REVISION && r == "ancestor"));

    // A commit off the branch.
    repo.git(&["checkout", "-q", "-b", "side", "HEAD~1"]);
    repo.commit("side");
    annotate(&repo, &[&target]);
    repo.git(&["checkout", "-q", "main"]);
    let out = verify(&repo, &["--ancestor", &target]);
    out.status(1);
    assert_eq!(
        out.codes(),
        ["annotation-mismatch", "annotation-mismatch"],
        "{out}"
    );
    assert!(out.stderr.contains("nor one of its ancestors"), "{out}");

    // A revision this repository does not have.
    let unknown = "0123456789abcdef0123456789abcdef01234567";
    annotate(&repo, &["-a", &format!("revision={unknown}"), &target]);
    let out = verify(&repo, &["--ancestor", "--format", "json", &target]);
    out.status(1);
    assert_eq!(
        out.codes(),
        ["revision-unknown", "revision-unknown"],
        "{out}"
    );
    assert!(out.stderr.contains(unknown), "{out}");
    assert!(results(&out)
        .iter()
        .any(|(_, k, r)| k == REVISION && r == "revision-unknown"));
}

#[test]
fn a_platform_left_unstamped_is_missing_and_keys_choose_what_is_compared() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = layout(&sb, BUILDX);
    let target = dir.display().to_string();
    annotate(&repo, &["--level", "manifest[linux/amd64]", &target]);
    let out = verify(&repo, &["--format", "json", &target]);
    out.status(1);
    let r = results(&out);
    assert!(r
        .iter()
        .filter(|(p, _, _)| p == "manifest linux/arm64")
        .all(|(_, _, res)| res == "missing"));
    assert!(r
        .iter()
        .filter(|(p, _, _)| p == "manifest linux/amd64")
        .all(|(_, _, res)| res == "match"));
    // Asked for what was stamped, it matches.
    verify(&repo, &["--level", "manifest[linux/amd64]", &target]).ok();
    // --keys: only those keys, short names allowed.
    let out = verify(
        &repo,
        &[
            "--level",
            "manifest[linux/amd64]",
            "--keys",
            "revision",
            "--format",
            "json",
            &target,
        ],
    );
    out.ok();
    assert_eq!(results(&out).len(), 1);
    // `all`: every key collected, `created` too.
    let out = verify(
        &repo,
        &[
            "--level",
            "manifest[linux/amd64]",
            "--keys",
            "all",
            "--format",
            "json",
            &target,
        ],
    );
    out.ok();
    assert!(results(&out)
        .iter()
        .any(|(_, k, _)| k == "org.opencontainers.image.created"));
    // A key asked for that nothing gives is an error; a default key is a warning.
    let out = verify(&repo, &["--keys", "vendor", &target]);
    out.status(1);
    assert!(out.line("not-expected").starts_with("error"));
    let out = repo
        .stamp([
            "verify",
            "--created",
            EPOCH,
            "--level",
            "manifest[linux/amd64]",
            &target,
        ])
        .run();
    out.ok();
    assert!(out.line("not-expected").starts_with("warning"), "{out}");
    // A level the image does not have.
    let out = verify(
        &repo,
        &["--level", "index-descriptor", "--keys", "revision", &target],
    );
    out.status(1);
}

#[test]
fn a_hand_edited_file_and_a_missing_key() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let file = sb.path().join("manifest.json");
    fs::copy(
        fixtures()
            .join("manifests")
            .join("buildkit-oci-manifest-layer-and-manifest-annotations.json"),
        &file,
    )
    .expect("copy");
    let target = file.display().to_string();
    annotate(&repo, &["-a", "com.example.team=web", &target]);
    verify(
        &repo,
        &["-a", "com.example.team=web", "--keys", "all", &target],
    )
    .ok();
    let text = fs::read_to_string(&file).expect("read");
    fs::write(&file, text.replace("\"1.0\"", "\"1.1\"")).expect("write");
    let out = verify(&repo, &["--format", "json", &target]);
    out.status(1);
    let c = checks(&out);
    let version = c
        .iter()
        .find(|c| c["key"] == "org.opencontainers.image.version")
        .expect("a version check");
    assert_eq!(version["found"], "1.1");
    assert_eq!(version["expected"], "1.0");
    assert_eq!(version["result"], "mismatch");
    let out = verify(
        &repo,
        &[
            "-a",
            "com.example.other=x",
            "--keys",
            "com.example.other",
            &target,
        ],
    );
    out.status(1);
    assert!(
        out.line("annotation-missing").contains("com.example.other"),
        "{out}"
    );
    // --require applies to what the target carries.
    verify(
        &repo,
        &[
            "--keys",
            "revision",
            "--require",
            "com.example.team",
            &target,
        ],
    )
    .ok();
    let out = verify(
        &repo,
        &["--keys", "revision", "--require", "vendor", &target],
    );
    out.status(1);
    assert!(out.line("missing-required").contains("vendor"), "{out}");
}

#[test]
fn no_collect_compares_with_the_given_values_only() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = layout(&sb, BUILDX);
    let target = dir.display().to_string();
    annotate(&repo, &[&target]);
    let sha = repo.head();
    let elsewhere = sb.dir("elsewhere", &[]);
    let run = |args: &[&str]| {
        let mut all = vec!["verify", "--no-collect"];
        all.extend_from_slice(args);
        sb.stamp(&all).current_dir(&elsewhere).run()
    };
    let out = run(&[
        "-a",
        &format!("revision={sha}"),
        "--format",
        "json",
        &target,
    ]);
    out.ok();
    assert_eq!(results(&out).len(), 2, "{out}");
    let out = run(&[
        "-a",
        "revision=0123456789abcdef0123456789abcdef01234567",
        &target,
    ]);
    out.status(1);
    assert_eq!(
        out.codes(),
        ["annotation-mismatch", "annotation-mismatch"],
        "{out}"
    );
    // --ancestor needs a repository to look the revision up in.
    run(&["--ancestor", "-a", &format!("revision={sha}"), &target]).status(2);
}

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: nginx}]
---
apiVersion: v1
kind: Service
metadata:
  name: web
";

#[test]
fn kubernetes_objects_and_pod_templates() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let file = sb.path().join("deploy.yaml");
    fs::write(&file, DEPLOY).expect("write");
    let target = file.display().to_string();
    annotate(&repo, &["--kind", "Deployment", &target]);
    let out = verify(&repo, &["--format", "json", &target]);
    out.status(1);
    let r = results(&out);
    assert!(r
        .iter()
        .filter(|(p, _, _)| p == "Service")
        .all(|(_, _, x)| x == "missing"));
    assert!(r
        .iter()
        .filter(|(p, _, _)| p == "Deployment")
        .all(|(_, _, x)| x == "match"));
    verify(&repo, &["--kind", "Deployment", &target]).ok();
    let out = verify(&repo, &["--kind", "Deployment", "--pod-template", &target]);
    out.status(1);
    assert!(out.stdout.contains("Deployment/web pod template"), "{out}");
    verify(&repo, &["--kind", "ConfigMap", &target]).status(1);
}

#[test]
fn an_unreadable_target_is_exit_2_after_the_others_are_reported() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = layout(&sb, BUILDX);
    let target = dir.display().to_string();
    annotate(&repo, &[&target]);
    let broken = sb.dir(
        "broken",
        &[
            ("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}"),
            ("index.json", "{"),
        ],
    );
    let out = verify(
        &repo,
        &["--format", "json", &target, &broken.display().to_string()],
    );
    out.status(2);
    let json = out.json();
    assert_eq!(
        json["targets"][0]["checks"].as_array().map(Vec::len),
        Some(6)
    );
    assert!(json["targets"][1]["error"].is_string(), "{out}");
    // DIR:REF that names no entry cannot be read either.
    verify(&repo, &[&format!("{target}:no-such-ref")]).status(2);
}

#[test]
fn github_actions_get_error_annotations() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = layout(&sb, BUILDX);
    let target = dir.display().to_string();
    annotate(&repo, &[&target]);
    repo.commit("two");
    let out = repo
        .stamp(["verify", "--created", EPOCH, "-a", "version=1.0", &target])
        .env("GITHUB_ACTIONS", "true")
        .run();
    out.status(1);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("::error title=oci-stamp verify%3A annotation-mismatch::"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
}

#[test]
fn every_fixture_layout_can_be_verified() {
    // Real-world layouts, unstamped: every one is read, and what it lacks is a finding.
    let sb = Sandbox::new();
    let repo = repo(&sb);
    for entry in fs::read_dir(fixtures().join("layouts")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if !path.join("oci-layout").is_file() {
            continue;
        }
        let out = verify(
            &repo,
            &[
                "--keys",
                "revision",
                "--format",
                "json",
                &path.display().to_string(),
            ],
        );
        assert!(out.status == 1 || out.status == 2, "{out}");
        let json = out.json();
        let t = &json["targets"][0];
        if out.status == 2 {
            assert!(t["error"].is_string(), "{out}");
        } else {
            assert!(
                t["checks"]
                    .as_array()
                    .is_some_and(|c| c.iter().all(|c| c["result"] == "missing")),
                "{out}"
            );
        }
    }
}
