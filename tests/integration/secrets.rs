//! No secrets out: a credential in a remote URL (`https://user:TOKEN@…`, `https://TOKEN@…`,
//! `ssh://user:pass@…`, `?private_token=`), in a CI variable (`CI_REPOSITORY_URL`, Jenkins'
//! `GIT_URL`, the GitHub server URL), in a project file, or in a value given with `-a`, the
//! environment or an annotation file never reaches standard output, standard error, a file
//! written, `--explain`, or an error message.
//!
//! Each case runs every command that prints or writes — every `collect` format with and
//! without `--explain`, `flags`, `exec`, `annotate` on YAML, a manifest, a layout and stdin,
//! `validate`, and failing runs — and greps everything the process produced, and every file
//! it created or changed, for the token.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::harness::{sha256, Output, Repo, Sandbox};

/// A fixed `created`, so runs do not depend on the clock.
const EPOCH: &str = "@1704164645";

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers: []\n";

/// A one-image OCI layout: an empty config, a manifest without layers, `index.json`.
pub(crate) fn tiny_layout(dir: &Path) {
    let blobs = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs).expect("create blobs");
    let put = |bytes: &[u8]| {
        let digest = sha256(bytes);
        fs::write(blobs.join(&digest[7..]), bytes).expect("write blob");
        (digest, bytes.len())
    };
    let (config, config_size) =
        put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[]}}"#
    );
    let (digest, size) = put(manifest.as_bytes());
    fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
    fs::write(
        dir.join("index.json"),
        format!(
            "{{\n  \"schemaVersion\": 2,\n  \"manifests\": [\n    {{\"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"digest\": \"{digest}\", \"size\": {size}, \"annotations\": {{\"org.opencontainers.image.ref.name\": \"v1\"}}}}\n  ]\n}}\n"
        ),
    )
    .expect("index.json");
}

/// Every file under `dir` and its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                walk(&path, out);
            } else if meta.is_file() {
                out.insert(path.clone(), fs::read(&path).unwrap_or_default());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, &mut out);
    out
}

/// A checkout with a deployment, a manifest and a layout to annotate, set up by `setup`
/// (which may add a remote, a project file, …) after the first commit.
struct Case<'s> {
    sb: &'s Sandbox,
    repo: Repo<'s>,
    token: String,
    env: Vec<(String, String)>,
}

impl<'s> Case<'s> {
    fn new(sb: &'s Sandbox, token: &str) -> Self {
        let repo = sb.repo("src");
        repo.write("README", "a project\n");
        repo.commit("initial");
        // A modified file, so that `--require-clean` fails and says which.
        repo.write("README", "a project, changed\n");
        Case {
            sb,
            repo,
            token: token.to_string(),
            env: Vec::new(),
        }
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Fresh targets under `work/`, recreated before every run.
    fn targets(&self) -> PathBuf {
        let work = self.sb.path().join("work");
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work).expect("create work");
        fs::write(work.join("deploy.yaml"), DEPLOY).expect("deploy.yaml");
        fs::write(
            work.join("manifest.json"),
            "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n  \"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\", \"digest\": \"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\", \"size\": 2},\n  \"layers\": []\n}\n",
        )
        .expect("manifest.json");
        tiny_layout(&work.join("layout"));
        work
    }

    /// Runs `oci-stamp ARGS` in the checkout with the case's environment; asserts that the
    /// token is nowhere in what it printed or in a file it created or changed.
    fn run(&self, args: &[String], stdin: &str) -> Output {
        let before = files(self.sb.path());
        let mut s = self.repo.stamp(args).stdin(stdin.as_bytes().to_vec());
        for (k, v) in &self.env {
            s = s.env(k, v);
        }
        let out = s.run();
        for (what, text) in [
            ("standard output", &out.stdout),
            ("standard error", &out.stderr),
        ] {
            assert!(!text.contains(&self.token), "the token is in {what}\n{out}");
        }
        for (path, bytes) in files(self.sb.path()) {
            if before.get(&path) == Some(&bytes) {
                continue;
            }
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&self.token),
                "the token is in {}, which the run wrote\n{out}",
                path.display()
            );
        }
        out
    }

    /// The commands that print or write, with `extra` (the case's own arguments) after the
    /// command's: every format and target when `full`, else one of each kind. Returns the
    /// outputs by command line.
    fn run_commands(&self, extra: &[&str], full: bool) -> Vec<(String, Output)> {
        let cmd = |words: &[&str], tail: &[&str]| -> Vec<String> {
            words
                .iter()
                .chain(["--created", EPOCH].iter())
                .chain(extra)
                .chain(tail)
                .map(|s| (*s).to_string())
                .collect()
        };
        let mut runs: Vec<Vec<String>> = vec![
            cmd(&["collect", "--format", "json"], &[]),
            cmd(&["collect", "--explain", "--format", "text"], &[]),
            cmd(
                &[
                    "collect",
                    "--explain",
                    "-f",
                    "json",
                    "--namespace",
                    "com.example",
                ],
                &[],
            ),
            cmd(&["collect", "--format", "github", "--label-schema"], &[]),
            cmd(&["flags", "-0", "--labels"], &[]),
            // A policy failure: its message must not show it either.
            cmd(
                &["collect", "--require", "source,vendor,com.example.x"],
                &[],
            ),
        ];
        if full {
            for format in [
                "text",
                "env",
                "make",
                "dotenv",
                "bake",
                "oras",
                "labels",
                "annotations",
            ] {
                runs.push(cmd(
                    &[
                        "collect",
                        "-f",
                        format,
                        "--namespace",
                        "com.example",
                        "--label-schema",
                    ],
                    &[],
                ));
            }
            runs.push(cmd(&["flags"], &[]));
            runs.push(cmd(&["flags", "--format", "json", "--tool", "podman"], &[]));
            runs.push(cmd(&["exec", "--labels"], &["--", "printf", "%s\\n"]));
            runs.push(cmd(
                &["collect", "--require-clean", "--namespace", "com.example"],
                &[],
            ));
        }
        let mut out = Vec::new();
        for args in runs {
            let o = self.run(&args, "");
            out.push((args.join(" "), o));
        }
        let mut annotate: Vec<(Vec<&str>, &str, &str)> = vec![
            (
                vec!["annotate", "--level", "manifest,index-descriptor"],
                "layout",
                "",
            ),
            (vec!["annotate", "-"], "", DEPLOY),
        ];
        if full {
            annotate.extend([
                (vec!["annotate"], "deploy.yaml", ""),
                (
                    vec!["annotate", "--pod-template", "-f", "json"],
                    "deploy.yaml",
                    "",
                ),
                (vec!["annotate"], "manifest.json", ""),
                (vec!["annotate", "--dry-run"], "layout:v1", ""),
            ]);
        }
        for (words, target, stdin) in annotate {
            let work = self.targets();
            let path = work.join(target).display().to_string();
            let tail: Vec<&str> = if target.is_empty() {
                vec![]
            } else {
                vec![&path]
            };
            let args = cmd(&words, &tail);
            let o = self.run(&args, stdin);
            out.push((args.join(" "), o));
            if !target.is_empty() {
                // What was stamped, read back: `validate` reports what it finds.
                let target = path.trim_end_matches(":v1");
                let args = ["validate", "--kubernetes", target]
                    .map(String::from)
                    .to_vec();
                let o = self.run(&args, "");
                out.push((args.join(" "), o));
            }
        }
        out
    }
}

/// The one `source` a run collected, from `collect --format json`.
fn source(runs: &[(String, Output)]) -> Option<String> {
    let (_, o) = runs
        .iter()
        .find(|(cmd, _)| cmd.starts_with("collect --format json --created"))
        .expect("a collect --format json run");
    o.annotations()
        .get("org.opencontainers.image.source")
        .cloned()
}

#[test]
fn tokens_in_remote_urls_never_get_out() {
    for (remote, token, want) in [
        (
            "https://user:tok-USERPASS-1@github.com/o/r.git",
            "tok-USERPASS-1",
            "https://github.com/o/r",
        ),
        (
            "https://ghp_TOKENASUSER2@github.com/o/r",
            "ghp_TOKENASUSER2",
            "https://github.com/o/r",
        ),
        (
            "ssh://user:pa55-SSH-3@git.example.com:2222/o/r.git",
            "pa55-SSH-3",
            "https://git.example.com/o/r",
        ),
        (
            "https://gitlab.com/g/p.git?private_token=glpat-QUERY-4&x=1#frag",
            "glpat-QUERY-4",
            "https://gitlab.com/g/p",
        ),
        (
            "https://oauth2:glpat-P@SS-5@gitlab.example.com/g/p.git",
            "glpat-P@SS-5",
            "https://gitlab.example.com/g/p",
        ),
    ] {
        let sb = Sandbox::new();
        let case = Case::new(&sb, token);
        case.repo.git(&["remote", "add", "origin", remote]);
        let runs = case.run_commands(&[], token.ends_with("-1"));
        assert_eq!(source(&runs).as_deref(), Some(want), "{remote}");
        for (cmd, o) in &runs {
            if cmd.starts_with("collect --format") && !cmd.contains("--require") {
                o.ok();
            }
        }
    }
}

#[test]
fn a_remote_that_is_not_a_url_is_named_without_its_token() {
    let sb = Sandbox::new();
    let case = Case::new(&sb, "sekrit-PORT-6");
    case.repo.git(&[
        "remote",
        "add",
        "origin",
        "https://user:sekrit-PORT-6@git.example.com:notaport/o/r",
    ]);
    let runs = case.run_commands(&[], false);
    assert_eq!(source(&runs), None);
    let (_, o) = &runs[0];
    assert!(o.stderr.contains("remote-not-url"), "{o}");
}

#[test]
fn insteadof_rewrites_with_credentials_are_stripped() {
    let sb = Sandbox::new();
    let case = Case::new(&sb, "tok-INSTEADOF-7");
    case.repo
        .git(&["remote", "add", "origin", "https://github.com/o/r.git"]);
    case.repo.git(&[
        "config",
        "url.https://x:tok-INSTEADOF-7@github.com/.insteadOf",
        "https://github.com/",
    ]);
    let runs = case.run_commands(&[], false);
    assert_eq!(source(&runs).as_deref(), Some("https://github.com/o/r"));
}

#[test]
fn tokens_in_ci_variables_never_get_out() {
    // The variables, the token among them, the `source` they give.
    type CiCase<'a> = (&'a [(&'a str, &'a str)], &'a str, Option<&'a str>);
    let cases: &[CiCase] = &[
        (
            &[
                ("GITLAB_CI", "true"),
                (
                    "CI_REPOSITORY_URL",
                    "https://gitlab-ci-token:glcbt-CIREPO-8@gitlab.com/g/p.git",
                ),
                ("CI_PROJECT_URL", "https://gitlab.com/g/p"),
                (
                    "CI_JOB_URL",
                    "https://gitlab.com/g/p/-/jobs/1?private_token=glcbt-CIREPO-8",
                ),
                ("CI_COMMIT_BRANCH", "main"),
            ],
            "glcbt-CIREPO-8",
            Some("https://gitlab.com/g/p"),
        ),
        (
            &[
                ("JENKINS_URL", "https://jenkins.example.com/"),
                (
                    "GIT_URL",
                    "https://jenkins:tok-JENKINS-9@git.example.com/o/r.git",
                ),
                (
                    "BUILD_URL",
                    "https://jenkins:tok-JENKINS-9@jenkins.example.com/job/1/",
                ),
            ],
            "tok-JENKINS-9",
            Some("https://git.example.com/o/r"),
        ),
        (
            &[
                ("GITHUB_ACTIONS", "true"),
                (
                    "GITHUB_SERVER_URL",
                    "https://x-access-token:ghs_SERVER10@github.com",
                ),
                ("GITHUB_REPOSITORY", "o/r"),
                ("GITHUB_RUN_ID", "42"),
            ],
            "ghs_SERVER10",
            Some("https://github.com/o/r"),
        ),
        (
            &[
                ("BUILDKITE", "true"),
                ("BUILDKITE_REPO", "ssh://git:bk-PASS-11@github.com/o/r.git"),
            ],
            "bk-PASS-11",
            Some("https://github.com/o/r"),
        ),
    ];
    for (vars, token, want) in cases {
        let sb = Sandbox::new();
        let mut case = Case::new(&sb, token);
        for (k, v) in *vars {
            case = case.env(k, v);
        }
        let runs = case.run_commands(&[], token.ends_with("-8"));
        assert_eq!(source(&runs).as_deref(), *want, "{vars:?}");
    }
}

#[test]
fn tokens_in_project_files_never_get_out() {
    let sb = Sandbox::new();
    let case = Case::new(&sb, "tok-CARGO-12");
    case.repo.write(
        "Cargo.toml",
        "[package]\nname = \"hello\"\nversion = \"1.0.0\"\nrepository = \"https://u:tok-CARGO-12@github.com/o/r\"\nhomepage = \"https://tok-CARGO-12@example.com/\"\ndocumentation = \"https://docs.example.com/?token=tok-CARGO-12\"\n",
    );
    case.repo.commit("project");
    let runs = case.run_commands(&[], false);
    assert_eq!(source(&runs).as_deref(), Some("https://github.com/o/r"));
}

#[test]
fn tokens_in_values_given_explicitly_are_refused_without_being_shown() {
    for (args, token) in [
        (
            vec!["-a", "source=https://user:tok-FLAG-13@github.com/o/r"],
            "tok-FLAG-13",
        ),
        (
            vec![
                "-a",
                "org.opencontainers.image.url=https://tok-FLAG-14@example.com/",
            ],
            "tok-FLAG-14",
        ),
        (
            vec![
                "-a",
                "documentation=https://docs.example.com/x?private_token=tok-FLAG-15",
            ],
            "tok-FLAG-15",
        ),
        (
            vec!["-a", "index:source=ssh://user:tok-FLAG-16@host/o/r"],
            "tok-FLAG-16",
        ),
    ] {
        let sb = Sandbox::new();
        let case = Case::new(&sb, token);
        for (cmd, o) in case.run_commands(&args, token.ends_with("-13")) {
            if !cmd.starts_with("validate") {
                o.status(1);
                assert!(o.stderr.contains("error[url-"), "{o}");
            }
        }
        // validate says the same.
        let mut v = vec!["validate".to_string()];
        v.extend(args.iter().map(|s| (*s).to_string()));
        case.run(&v, "").status(1);
        v.extend(["--format".to_string(), "json".to_string()]);
        case.run(&v, "").status(1);
    }
}

#[test]
fn tokens_in_the_environment_and_annotation_files_are_refused_without_being_shown() {
    let token = "tok-ENV-17";
    let sb = Sandbox::new();
    let case = Case::new(&sb, token).env(
        "OCI_STAMP_ANNOTATION",
        "source=https://user:tok-ENV-17@github.com/o/r",
    );
    for (cmd, o) in case.run_commands(&[], false) {
        if !cmd.starts_with("validate") {
            o.status(1);
        }
    }

    let token = "tok-FILE-18";
    let sb = Sandbox::new();
    let case = Case::new(&sb, token);
    let dir = sb.dir(
        "files",
        &[
            (
                "a.json",
                r#"{"source": "https://user:tok-FILE-18@github.com/o/r"}"#,
            ),
            (
                "a.txt",
                "url=https://example.com/?access_token=tok-FILE-18\n",
            ),
        ],
    );
    for file in ["a.json", "a.txt"] {
        let path = dir.join(file).display().to_string();
        for (cmd, o) in case.run_commands(&["--annotation-file", &path], false) {
            if !cmd.starts_with("validate") {
                o.status(1);
            }
        }
        case.run(&["validate".into(), "--annotation-file".into(), path], "")
            .status(1);
    }
}

#[test]
fn tokens_in_arguments_that_fail_to_parse_are_not_echoed() {
    // A value that clap or the argument parser refuses is echoed in the error message; a
    // credential in it must not be.
    let token = "tok-BADARG-19";
    let sb = Sandbox::new();
    let case = Case::new(&sb, token);
    for args in [
        vec![
            "collect",
            "-a",
            "bogus:source=https://user:tok-BADARG-19@github.com/o/r",
        ],
        vec![
            "flags",
            "-a",
            "manifest[linux/*]:source=https://tok-BADARG-19@github.com/o/r",
        ],
        vec![
            "validate",
            "-a",
            "https://user:tok-BADARG-19@github.com/o/r",
        ],
        vec![
            "collect",
            "--created",
            "https://user:tok-BADARG-19@github.com/",
        ],
        vec![
            "collect",
            "--level",
            "https://user:tok-BADARG-19@github.com/",
        ],
    ] {
        let args: Vec<String> = args.iter().map(|s| (*s).to_string()).collect();
        let o = case.run(&args, "");
        o.status(2);
    }
    let case = case.env(
        "OCI_STAMP_ANNOTATION",
        "bogus:source=https://user:tok-BADARG-19@github.com/o/r",
    );
    case.run(&["collect".into()], "").status(2);
}

/// Every credential shape of issue 16, each given as a value: refused, or its credential
/// taken out, and in no output, message or file of any command (`Case::run` greps them all).
#[test]
fn every_credential_shape_stays_out_of_every_output() {
    let mut cases: Vec<(Vec<String>, String)> = Vec::new();
    let mut add = |args: &[&str], token: &str| {
        cases.push((
            args.iter().map(|s| (*s).to_string()).collect(),
            token.to_string(),
        ));
    };
    add(
        &["-a", "source=https://user:ab/tok-SLASH-20@github.com/x"],
        "tok-SLASH-20",
    );
    add(
        &["-a", "url=https://user:ab?q#tok-HASH-21@example.com/x"],
        "tok-HASH-21",
    );
    add(
        &["-a", "base.name=u:tok-BASE-22@docker.io/x:1"],
        "tok-BASE-22",
    );
    add(&["-a", "licenses=MIT OR u:tok-LIC-23@x"], "tok-LIC-23");
    add(
        &["-a", "created=https://u:tok-CREATED-24@example.com/"],
        "tok-CREATED-24",
    );
    add(
        &["-a", "base.digest=sha256:u:tok-DIGEST-25@x"],
        "tok-DIGEST-25",
    );
    add(
        &["-a", "revision=u:tok-REV-26@git.example.com"],
        "tok-REV-26",
    );
    add(
        &["--require", "https://u:tok-REQ-27@example.com/"],
        "tok-REQ-27",
    );
    add(
        &["-a", "vendor=Example <https://u:tok-VENDOR-28@example.com>"],
        "tok-VENDOR-28",
    );
    add(
        &["-a", "com.example.url=https://u:tok-CURL-29@example.com/"],
        "tok-CURL-29",
    );
    add(
        &["-a", "url=https://example.com/p;token=tok-PATH-30/x"],
        "tok-PATH-30",
    );
    add(
        &["-a", "url=https://example.com/p#access_token=tok-FRAG-31"],
        "tok-FRAG-31",
    );
    for (i, name) in [
        "passwd",
        "pwd",
        "pass",
        "client_secret",
        "api-key",
        "api_key",
        "apikey",
        "credential",
        "jwt",
        "code",
        "session",
        "sig",
        "signature",
        "X-Amz-Credential",
        "X-Amz-Signature",
        "X-Goog-Signature",
        "x-goog-credential",
        "PASSWD",
    ]
    .iter()
    .enumerate()
    {
        let token = format!("tok-QUERY-{}", 40 + i);
        let arg = format!("documentation=https://example.com/d?a=1&{name}={token}");
        add(&["-a", &arg], &token);
    }
    for (args, token) in &cases {
        let sb = Sandbox::new();
        let case = Case::new(&sb, token);
        let extra: Vec<&str> = args.iter().map(String::as_str).collect();
        let runs = case.run_commands(&extra, token.ends_with("-20"));
        // A refusal, or (revision-not-hash is a warning) the value refused all the same.
        let (_, json) = &runs[0];
        assert_ne!(json.status, 0, "{token}: {json}");
        let mut v = vec!["validate".to_string()];
        v.extend(args.iter().cloned());
        case.run(&v, "");
    }
}

/// A value in a target `validate` reads: reported without the credential.
#[test]
fn validate_of_a_target_holding_a_credential_does_not_show_it() {
    let sb = Sandbox::new();
    let case = Case::new(&sb, "tok-TARGET-32");
    let file = sb.path().join("held.json");
    fs::write(
        &file,
        r#"{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2},
  "layers": [],
  "annotations": {"org.opencontainers.image.source": "https://user:ab/tok-TARGET-32@github.com/x",
                  "org.opencontainers.image.base.name": "u:tok-TARGET-32@docker.io/x:1",
                  "org.opencontainers.image.vendor": "https://u:tok-TARGET-32@example.com"}}"#,
    )
    .expect("write the target");
    for format in ["text", "json"] {
        let o = case.run(
            &[
                "validate".into(),
                "--format".into(),
                format.into(),
                file.display().to_string(),
            ],
            "",
        );
        o.status(1);
    }
}

/// A remote with a slash missing, a CI run URL with credentials, a project file's authors
/// with a credential: no source from the first, the second published without its
/// credential, the third left out.
#[test]
fn malformed_remotes_run_urls_and_authors_lose_their_credentials() {
    let sb = Sandbox::new();
    let case = Case::new(&sb, "tok-MALFORMED-33");
    case.repo.git(&[
        "remote",
        "add",
        "origin",
        "https:/user:tok-MALFORMED-33@github.com/x/y",
    ]);
    let runs = case.run_commands(&[], false);
    assert_eq!(source(&runs), None);
    assert!(runs[0].1.stderr.contains("remote-not-url"), "{}", runs[0].1);

    let sb = Sandbox::new();
    let case = Case::new(&sb, "tok-RUNURL-34")
        .env("BUILDKITE", "true")
        .env(
            "BUILDKITE_BUILD_URL",
            "https://u:tok-RUNURL-34@buildkite.com/o/p/builds/7?access_token=tok-RUNURL-34&x=1",
        );
    let runs = case.run_commands(&["--namespace", "com.example"], false);
    let (_, o) = &runs[0];
    o.ok();
    assert_eq!(
        o.annotations()
            .get("com.example.run-url")
            .map(String::as_str),
        Some("https://buildkite.com/o/p/builds/7?x=1"),
        "{o}"
    );
    assert!(!o.stdout.contains("***"), "stripped, not masked: {o}");

    let sb = Sandbox::new();
    let case = Case::new(&sb, "tok-AUTHORS-35");
    case.repo.write(
        "Cargo.toml",
        "[package]\nname = \"hello\"\nversion = \"1.0.0\"\nauthors = [\"Jane <https://u:tok-AUTHORS-35@example.com>\"]\n",
    );
    case.repo.commit("project");
    let runs = case.run_commands(&[], false);
    let (_, o) = &runs[0];
    o.ok();
    assert!(
        !o.annotations()
            .contains_key("org.opencontainers.image.authors"),
        "{o}"
    );
}

/// A fake registry that asks for basic credentials at `/v2/`, then answers every request
/// with a 500 whose body and headers echo the request as sent (`Authorization` included).
#[cfg(feature = "registry")]
fn echoing_registry() -> u16 {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request).into_owned();
            let authorization = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("authorization: ")
                        .or(l.strip_prefix("Authorization: "))
                })
                .unwrap_or("")
                .to_string();
            let response = if text.starts_with("GET /v2/ ") && authorization.is_empty() {
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"fake\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else if text.starts_with("GET /v2/ ") {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}".to_string()
            } else {
                let body = format!(
                    "{{\"errors\":[{{\"code\":\"UNKNOWN\",\"message\":\"you sent {}\"}}]}} {text}",
                    authorization.replace('"', "")
                );
                format!(
                    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nX-Echo: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            };
            let _ = stream.write_all(response.as_bytes());
        }
    });
    port
}

#[cfg(feature = "registry")]
#[test]
fn registry_errors_never_echo_what_was_sent() {
    use base64::Engine as _;
    let password = "tok-REGISTRY-36";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("fakeuser:{password}"));
    let port = echoing_registry();
    let sb = Sandbox::new();
    let auth = sb.path().join("auth.json");
    fs::write(
        &auth,
        format!(r#"{{"auths": {{"127.0.0.1:{port}": {{"auth": "{basic}"}}}}}}"#),
    )
    .expect("auth.json");
    let case = Case::new(&sb, password).env("REGISTRY_AUTH_FILE", &auth.display().to_string());
    let target = format!("docker://127.0.0.1:{port}/app:1");
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args: Vec<String> = vec!["annotate".into(), "--created".into(), EPOCH.into()];
        args.extend(extra.iter().map(|s| (*s).to_string()));
        args.push(target.clone());
        let o = case.run(&args, "");
        assert_ne!(o.status, 0, "{o}");
        assert!(
            o.stderr.contains("HTTP 500"),
            "the echoing answer was reached: {o}"
        );
        for shown in [&o.stdout, &o.stderr] {
            assert!(!shown.contains(&basic) && !shown.contains("Basic"), "{o}");
        }
    }
}

/// A credential helper that never answers: stopped after the time limit, named in the error.
#[cfg(all(unix, feature = "registry"))]
#[test]
fn a_credential_helper_that_never_answers_times_out() {
    use std::os::unix::fs::PermissionsExt as _;
    let sb = Sandbox::new();
    let bin = sb.path().join("bin");
    fs::create_dir_all(&bin).expect("bin");
    let helper = bin.join("docker-credential-stuck");
    fs::write(&helper, "#!/bin/sh\nexec sleep 60\n").expect("helper");
    fs::set_permissions(&helper, fs::Permissions::from_mode(0o755)).expect("chmod");
    let auth = sb.path().join("auth.json");
    fs::write(&auth, r#"{"credHelpers": {"127.0.0.1:9": "stuck"}}"#).expect("auth.json");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let case = Case::new(&sb, "never-printed")
        .env("REGISTRY_AUTH_FILE", &auth.display().to_string())
        .env("OCI_STAMP_HELPER_TIMEOUT", "1")
        .env("PATH", &path);
    let started = std::time::Instant::now();
    let o = case.run(
        &["annotate".into(), "docker://127.0.0.1:9/app:1".into()],
        "",
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{o}"
    );
    assert_ne!(o.status, 0, "{o}");
    assert!(
        o.stderr
            .contains("`docker-credential-stuck` did not answer"),
        "{o}"
    );
}
