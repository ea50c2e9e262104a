//! The files under `examples/` and the shell snippet in README.md, run as written with the real
//! `make`, `dash` and `bash`, the build command replaced by a stub that records its arguments.
//! The promise checked: a refused collection stops the build, every time.
//!
//! Needs make, dash and bash; under `CI` a missing one fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::{have, Sandbox, BIN};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A stub `docker` that appends its arguments to the sandbox's `docker.log`, and succeeds.
fn stub_docker(sb: &Sandbox) -> PathBuf {
    let stub = sb.path().join("docker");
    let log = sb.path().join("docker.log");
    let script = format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\n", log.display());
    std::fs::write(&stub, script).expect("write the stub");
    sb.tool("chmod", &["+x", stub.to_str().expect("UTF-8 path")]);
    stub
}

fn docker_log(sb: &Sandbox) -> String {
    std::fs::read_to_string(sb.path().join("docker.log")).unwrap_or_default()
}

fn shown(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A repository with a commit, and `make -f examples/Makefile` to run in it.
fn make(sb: &Sandbox, dir: &Path, target: &str) -> Command {
    let mut cmd = sb.command("make");
    cmd.current_dir(dir)
        .arg("-f")
        .arg(root().join("examples/Makefile"))
        .arg(format!("OCI_STAMP={BIN}"))
        .arg(format!("DOCKER={}", stub_docker(sb).display()))
        .arg(target);
    cmd
}

#[test]
fn makefile_fails_every_time_the_collection_fails() {
    if !have("make") {
        return;
    }
    let sb = Sandbox::new();
    let repo = sb.repo("hello");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"hello\"\nversion = \"1.0.0\"\n",
    );
    let first = repo.commit("first");

    let out = make(&sb, &repo.path, "print").output().expect("run make");
    assert!(out.status.success(), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("revision: {}", first.hash)),
        "{text}"
    );
    assert!(repo.path.join("oci-stamp.mk").is_file());

    // A second commit, then a refused collection: the oci-stamp.mk of the first run is still
    // there, and must not be used; not the first time, not the second.
    repo.commit("second");
    for attempt in 1..=2 {
        for target in ["print", "image-include"] {
            let out = make(&sb, &repo.path, target)
                .env("OCI_STAMP_REQUIRE", "vendor")
                .output()
                .expect("run make");
            assert!(
                !out.status.success(),
                "attempt {attempt}: make {target} succeeded after a refused collection:\n{}",
                shown(&out)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("missing-required"), "{}", shown(&out));
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(&first.hash),
                "stale values used:\n{}",
                shown(&out)
            );
        }
    }
    assert_eq!(docker_log(&sb), "", "no build ran");

    // And a good collection works again, with the new values.
    let out = make(&sb, &repo.path, "image-include")
        .output()
        .expect("run make");
    assert!(out.status.success(), "{}", shown(&out));
    assert!(
        docker_log(&sb).contains(&repo.head()),
        "{}",
        docker_log(&sb)
    );
}

/// examples/build.sh under dash: a refusal stops the script before the build.
#[test]
fn build_sh_stops_on_a_refusal() {
    if !have("dash") {
        return;
    }
    let sb = Sandbox::new();
    let repo = sb.repo("hello");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"hello\"\nversion = \"1.0.0\"\n",
    );
    let head = repo.commit("first").hash;
    let run = |require: Option<&str>| {
        let mut cmd = sb.command("dash");
        cmd.current_dir(&repo.path)
            .arg(root().join("examples/build.sh"))
            .env("OCI_STAMP", BIN)
            .env("DOCKER", stub_docker(&sb));
        if let Some(keys) = require {
            cmd.env("OCI_STAMP_REQUIRE", keys);
        }
        cmd.output().expect("run dash")
    };
    let out = run(Some("vendor"));
    assert!(!out.status.success(), "{}", shown(&out));
    assert_eq!(docker_log(&sb), "", "no build after a refusal");
    let out = run(None);
    assert!(out.status.success(), "{}", shown(&out));
    assert!(docker_log(&sb).contains(&head), "{}", docker_log(&sb));
}

/// The `xargs -0` snippet in README.md, copied out of it and run with bash: it stops on a
/// refusal, as its comment says.
#[test]
fn readme_xargs_snippet_stops_on_a_refusal() {
    if !have("bash") {
        return;
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let marker = "oci-stamp flags -0";
    let block = readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split_once("```").map(|(code, _)| code))
        .find(|code| code.contains(marker) && code.contains("xargs -0"))
        .expect("README.md has a ```sh block with `oci-stamp flags -0` and `xargs -0`");
    let sb = Sandbox::new();
    let repo = sb.repo("hello");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"hello\"\nversion = \"1.0.0\"\n",
    );
    let head = repo.commit("first").hash;
    // `oci-stamp` and `docker` as the snippet names them: the binary and the stub, on PATH.
    let bin_dir = sb.path().join("bin");
    std::fs::create_dir_all(&bin_dir).expect("bin dir");
    std::os::unix::fs::symlink(BIN, bin_dir.join("oci-stamp")).expect("link oci-stamp");
    std::os::unix::fs::symlink(stub_docker(&sb), bin_dir.join("docker")).expect("link docker");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |require: Option<&str>| {
        let mut cmd = sb.command("bash");
        cmd.current_dir(&repo.path)
            .arg("-c")
            .arg(format!("{block}echo reached the end"))
            .env("PATH", &path)
            .env("IMAGE", "example/hello:dev");
        if let Some(keys) = require {
            cmd.env("OCI_STAMP_REQUIRE", keys);
        }
        cmd.output().expect("run bash")
    };
    let out = run(Some("vendor"));
    assert!(!out.status.success(), "{block}\n{}", shown(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("reached the end"));
    assert_eq!(docker_log(&sb), "", "no build after a refusal");
    let out = run(None);
    assert!(out.status.success(), "{block}\n{}", shown(&out));
    assert!(docker_log(&sb).contains(&head), "{}", docker_log(&sb));
}
