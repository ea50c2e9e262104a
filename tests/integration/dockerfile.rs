//! The build's Dockerfile: `base.name` and `base.digest` from the target stage's `FROM`
//! (multi-stage files, `ARG` substitution, `--target`, `--build-arg`, continuations, a changed
//! escape character, heredocs, `scratch`, digest pins, stage chains, unresolved `ARG`s), its
//! `LABEL`s checked against the collected values and, with `--from-dockerfile-labels`, taken
//! as a source. `--resolve-base` against a registry is in registry.rs.

use crate::harness::{key, Repo, Sandbox};

const JSON: [&str; 3] = ["collect", "--format", "json"];
const BASE: &str = "base.name";
const DIGEST: &str = "base.digest";

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// A repository with one commit holding `Dockerfile`.
fn repo_with<'s>(sb: &'s Sandbox, dockerfile: &str) -> Repo<'s> {
    let repo = sb.repo("app");
    repo.write("Dockerfile", dockerfile);
    repo.commit("initial");
    repo
}

fn collect(repo: &Repo, args: &[&str]) -> crate::harness::Output {
    let all: Vec<&str> = JSON.iter().chain(args).copied().collect();
    repo.stamp(all).run()
}

/// base.name and base.digest of a run that must succeed.
fn base_of(repo: &Repo, args: &[&str]) -> (Option<String>, Option<String>) {
    let out = collect(repo, args);
    out.ok();
    let a = out.annotations();
    (a.get(&key(BASE)).cloned(), a.get(&key(DIGEST)).cloned())
}

fn name(s: &str) -> (Option<String>, Option<String>) {
    (Some(s.to_string()), None)
}

#[test]
fn the_last_stage_or_the_target_and_build_args() {
    let sb = Sandbox::new();
    let text = "\
# syntax=docker/dockerfile:1
ARG GO_VERSION=1.22
ARG REGISTRY
ARG BASE=${REGISTRY:-docker.io}/library/alpine

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
RUN go build -o /app .

FROM ${BASE}:3.20 AS runtime
COPY --from=build /app /app
";
    let repo = repo_with(&sb, text);
    assert_eq!(base_of(&repo, &[]), name("docker.io/library/alpine:3.20"));
    assert_eq!(
        base_of(&repo, &["--target", "build"]),
        name("docker.io/library/golang:1.22")
    );
    assert_eq!(
        base_of(
            &repo,
            &["--target", "Build", "--build-arg", "GO_VERSION=1.23"]
        ),
        name("docker.io/library/golang:1.23")
    );
    assert_eq!(
        base_of(&repo, &["--build-arg", "REGISTRY=ghcr.io"]),
        name("ghcr.io/library/alpine:3.20")
    );
    // NAME alone takes the variable, as buildx does
    let out = repo
        .stamp(["collect", "--format", "json", "--build-arg", "BASE"])
        .env("BASE", "quay.io/o/base")
        .run();
    out.ok();
    assert_eq!(
        out.annotations()[&key(BASE)],
        "quay.io/o/base:3.20",
        "{out}"
    );
    // the variable too
    let out = repo.stamp(JSON).env("OCI_STAMP_TARGET", "build").run();
    assert_eq!(
        out.annotations()[&key(BASE)],
        "docker.io/library/golang:1.22"
    );

    // --explain names the line and the FROM as written
    let out = collect(
        &repo,
        &[
            "--explain",
            "--build-arg",
            "GO_VERSION=1.23",
            "--target",
            "build",
        ],
    );
    out.ok();
    let src = &out.json()["sources"][key(BASE)];
    assert_eq!(
        src["source"], "Dockerfile:6 FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build",
        "{out}"
    );
    let note = src["note"].as_str().unwrap_or_default();
    assert!(note.contains("qualified from `golang:1.23`"), "{out}");
    assert!(note.contains("GO_VERSION=1.23 (--build-arg)"), "{out}");
    let out = repo
        .stamp(["collect", "--format", "text", "--explain"])
        .run();
    out.ok();
    assert!(
        out.stdout
            .contains("Dockerfile:9 FROM ${BASE}:3.20 AS runtime"),
        "{out}"
    );

    // a target no stage has is a usage error, naming the stages
    let out = collect(&repo, &["--target", "nope"]);
    out.status(2);
    assert!(out.stderr.contains("build, runtime"), "{out}");
}

#[test]
fn continuations_escape_directive_comments_and_heredocs() {
    let sb = Sandbox::new();
    let text = "\
# escape=`
# a comment that is not a directive
FROM mcr.microsoft.com/windows/servercore:ltsc2022 `
    # a comment inside the instruction
    AS win
RUN dir c:\\ `
    && echo done
RUN <<EOF
FROM evil:1
EOF
COPY <<-\"END\" C:/x.txt
\tFROM evil:2
\tEND
RUN [\"cmd\", \"/c\", \"echo <<EOF\"]
LABEL x=y
";
    let repo = repo_with(&sb, text);
    assert_eq!(
        base_of(&repo, &[]),
        name("mcr.microsoft.com/windows/servercore:ltsc2022")
    );

    let sb = Sandbox::new();
    let text = "\
FROM alpine:3.19 AS one
RUN <<EOT bash
  set -e
FROM evil:3
EOT
RUN cat <<'A' > /a && cat <<\"B\" > /b
FROM evil:4
A
FROM evil:5
B
FROM one \\
  AS two
";
    let repo = repo_with(&sb, text);
    assert_eq!(base_of(&repo, &[]), name("docker.io/library/alpine:3.19"));
    let out = collect(&repo, &["--explain"]);
    let src = &out.json()["sources"][key(BASE)];
    assert_eq!(
        src["source"], "Dockerfile:1 FROM alpine:3.19 AS one",
        "{out}"
    );
    assert!(
        src["note"]
            .as_str()
            .unwrap_or_default()
            .contains("stage two ← one"),
        "{out}"
    );
}

#[test]
fn scratch_digest_pins_and_stage_chains() {
    let sb = Sandbox::new();
    let repo = repo_with(&sb, "FROM scratch\nCOPY app /\n");
    let out = collect(&repo, &[]);
    out.ok().quiet();
    assert!(!out.annotations().contains_key(&key(BASE)), "{out}");

    let sb = Sandbox::new();
    let d = digest('a');
    let text = format!(
        "FROM gcr.io/distroless/static-debian12@{d} AS base\nFROM base AS app\nFROM app\nFROM scratch AS other\n"
    );
    let repo = repo_with(&sb, &text);
    assert_eq!(base_of(&repo, &[]), (None, None));
    assert_eq!(
        base_of(&repo, &["--target", "app"]),
        (
            Some(format!("gcr.io/distroless/static-debian12@{d}")),
            Some(d.clone())
        )
    );
    // a tag and a digest: both kept in base.name
    let sb = Sandbox::new();
    let repo = repo_with(&sb, &format!("ARG D={d}\nFROM alpine:3.20@${{D}}\n"));
    assert_eq!(
        base_of(&repo, &[]),
        (
            Some(format!("docker.io/library/alpine:3.20@{d}")),
            Some(d.clone())
        )
    );
    // a flag overrides base.name, and then the Dockerfile's digest is not taken either
    assert_eq!(
        base_of(&repo, &["-a", "base.name=ghcr.io/o/other:1"]),
        name("ghcr.io/o/other:1")
    );
    // an empty flag removes the name; the digest is still the base's
    assert_eq!(base_of(&repo, &["-a", "base.name="]), (None, Some(d)));
}

#[test]
fn an_unresolved_arg_is_a_warning_naming_it() {
    let sb = Sandbox::new();
    let text = "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\n";
    let repo = repo_with(&sb, text);
    let out = collect(&repo, &[]);
    out.ok();
    let line = out.line("base-unresolved");
    assert!(line.starts_with("warning"), "{out}");
    assert!(line.contains("`BASE_IMAGE`"), "{out}");
    assert!(line.contains("Dockerfile:2 FROM ${BASE_IMAGE}"), "{out}");
    assert!(line.contains("--build-arg BASE_IMAGE="), "{out}");
    assert!(!out.annotations().contains_key(&key(BASE)), "{out}");
    assert_eq!(
        base_of(&repo, &["--build-arg", "BASE_IMAGE=debian:12"]),
        name("docker.io/library/debian:12")
    );

    // the platform the builder sets is not known offline
    let sb = Sandbox::new();
    let repo = repo_with(&sb, "FROM example.com/img-${TARGETARCH}:1\n");
    let out = collect(&repo, &[]);
    out.ok();
    assert!(
        out.line("base-unresolved").contains("`TARGETARCH`"),
        "{out}"
    );
    assert_eq!(
        base_of(&repo, &["--build-arg", "TARGETARCH=arm64"]),
        name("example.com/img-arm64:1")
    );

    // --require makes it an error
    collect(&repo, &["--require", "base.name"]).status(1);
}

#[test]
fn dockerfile_option_and_bad_files() {
    let sb = Sandbox::new();
    let repo = sb.repo("app");
    repo.write("docker/Dockerfile.prod", "FROM nginx:1.27\n");
    repo.write("Dockerfile", "FROM wrong\nRUN <<EOF\nno end\n");
    repo.commit("initial");
    assert_eq!(
        base_of(&repo, &["--dockerfile", "docker/Dockerfile.prod"]),
        name("docker.io/library/nginx:1.27")
    );
    let out = repo
        .stamp(["collect", "--format", "json", "--explain"])
        .env("OCI_STAMP_DOCKERFILE", "docker/Dockerfile.prod")
        .run();
    out.ok();
    assert_eq!(
        out.json()["sources"][key(BASE)]["source"],
        "docker/Dockerfile.prod:1 FROM nginx:1.27"
    );
    // the default one does not parse: a warning, nothing from it
    let out = collect(&repo, &[]);
    out.ok();
    assert!(
        out.line("dockerfile-invalid")
            .contains("unterminated heredoc"),
        "{out}"
    );
    assert!(!out.annotations().contains_key(&key(BASE)), "{out}");
    // a named one that does not exist is an error
    collect(&repo, &["--dockerfile", "nope/Dockerfile"]).status(2);
    // no Dockerfile: nothing said; --target then is a usage error
    let sb = Sandbox::new();
    let repo = sb.repo("plain");
    repo.write("README", "x\n");
    repo.commit("initial");
    collect(&repo, &[]).ok().quiet();
    collect(&repo, &["--target", "x"]).status(2);
    // an image reference docker would refuse
    let sb = Sandbox::new();
    let repo = repo_with(&sb, "FROM Alpine:3\n");
    let out = collect(&repo, &[]);
    out.ok();
    assert!(out.line("base-unresolved").contains("Alpine:3"), "{out}");
}

#[test]
fn labels_that_disagree_are_warnings() {
    let sb = Sandbox::new();
    let text = "\
FROM alpine:3.20 AS base
LABEL org.opencontainers.image.vendor=\"Base Corp\"
FROM base
ARG VERSION=0.0.0-dev
LABEL org.opencontainers.image.version=$VERSION \\
      org.opencontainers.image.title=\"app\" \\
      org.label-schema.vcs-ref=0123456789abcdef0123456789abcdef01234567 \\
      com.example.other=ignored
";
    let repo = repo_with(&sb, text);
    let out = collect(&repo, &["-a", "version=1.2.3", "-a", "vendor=Base Corp"]);
    out.ok();
    let conflicts: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("[label-conflict]"))
        .collect();
    assert_eq!(conflicts.len(), 2, "{out}");
    let version = conflicts
        .iter()
        .find(|l| l.contains("image.version"))
        .expect("version conflict");
    assert!(version.contains("Dockerfile:5 LABEL"), "{out}");
    assert!(
        version.contains("`0.0.0-dev`") && version.contains("`1.2.3`"),
        "{out}"
    );
    assert!(
        version.contains("the label `0.0.0-dev` and the annotation `1.2.3`"),
        "{out}"
    );
    let revision = conflicts
        .iter()
        .find(|l| l.contains("org.label-schema.vcs-ref"))
        .expect("legacy revision conflict");
    assert!(
        revision.contains("the legacy name of `org.opencontainers.image.revision`"),
        "{out}"
    );
    // title: the label says `app`, the checkout directory is `app` too: no conflict

    // the same values passed as build args agree
    let out = collect(
        &repo,
        &["-a", "version=1.2.3", "--build-arg", "VERSION=1.2.3"],
    );
    assert!(!out.stderr.contains("image.version"), "{out}");

    // with --labels, the build's --label wins, and the message says so
    let out = repo
        .stamp(["flags", "--labels", "-a", "version=1.2.3"])
        .run();
    out.ok();
    let version = out
        .stderr
        .lines()
        .find(|l| l.contains("[label-conflict]") && l.contains("image.version"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(version.contains("--label overrides it"), "{out}");
}

#[test]
fn labels_as_a_source() {
    let sb = Sandbox::new();
    let text = "\
FROM alpine:3.20
ARG VERSION
LABEL org.opencontainers.image.description=\"A small app\" \\
      org.label-schema.vendor=\"Legacy Corp\" \\
      org.opencontainers.image.version=\"${VERSION}\" \\
      org.opencontainers.image.url=not-a-url
";
    let repo = repo_with(&sb, text);
    let out = collect(&repo, &["--from-dockerfile-labels", "--explain"]);
    out.ok();
    let j = out.json();
    let v = |k: &str| j["annotations"][key(k)].as_str().map(str::to_string);
    assert_eq!(v("description").as_deref(), Some("A small app"), "{out}");
    assert_eq!(v("vendor").as_deref(), Some("Legacy Corp"), "{out}");
    assert_eq!(
        j["sources"][key("vendor")]["source"],
        "Dockerfile:3 LABEL org.label-schema.vendor"
    );
    // an ARG without a value: the label cannot be told, said so
    assert!(out.line("label-unresolved").contains("`VERSION`"), "{out}");
    assert_eq!(v("version"), None);
    // an invalid label value is dropped like any found value
    assert!(out.line("ignored-value").contains("not-a-url"), "{out}");
    // flags stay above the labels; the label then disagrees
    let out = collect(
        &repo,
        &["--from-dockerfile-labels", "-a", "description=Other"],
    );
    out.ok();
    assert_eq!(out.annotations()[&key("description")], "Other");
    assert!(out.line("label-conflict").contains("A small app"), "{out}");
    // without the option the labels are no source
    let out = collect(&repo, &[]);
    assert!(
        !out.annotations().contains_key(&key("description")),
        "{out}"
    );
}
