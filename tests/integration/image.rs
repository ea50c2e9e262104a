//! oci-stamp's own container image, as `.ci/image` builds it without a daemon (the image the
//! Dockerfile describes): an OCI layout made by umoci around the binary under test, stamped
//! by that binary with this repository's provenance. Read back with `skopeo inspect`, `umoci
//! stat` and the layout's JSON; then unpacked with `umoci unpack --rootless` and run.
//!
//! Needs umoci, skopeo and jq (`.ci/image` uses jq); under `CI` a missing one fails the test.
//! Running the unpacked image as user 65532 (`chroot --userspec`) needs root; otherwise the
//! unpacked binary is run through the unpacked loader and libraries.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{have, to_map, Sandbox, BIN};

const TAG: &str = "test";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn blob(layout: &Path, digest: &str) -> Value {
    let (alg, hex) = digest.split_once(':').expect("a digest");
    read_json(&layout.join("blobs").join(alg).join(hex))
}

/// `.ci/image LAYOUT TAG` with the binary under test, stamped from this repository.
fn build_image(sb: &Sandbox) -> PathBuf {
    let layout = sb.path().join("layout");
    let out = sb
        .command(root().join(".ci/image"))
        .arg(&layout)
        .arg(TAG)
        .env("OCI_STAMP_BIN", BIN)
        .env("OCI_STAMP_IMAGE_REPO", root())
        .output()
        .expect("run .ci/image");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        ".ci/image failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), format!("{}:{TAG}", layout.display()));
    layout
}

/// What `oci-stamp collect --format json` says about this repository's checkout.
fn collected(sb: &Sandbox) -> BTreeMap<String, String> {
    let args = [
        OsStr::new("collect"),
        OsStr::new("--format"),
        OsStr::new("json"),
    ];
    let out = sb
        .stamp(
            args.iter()
                .copied()
                .chain([OsStr::new("-C"), root().as_os_str()]),
        )
        .run();
    out.ok();
    out.annotations()
}

fn is_root(sb: &Sandbox) -> bool {
    sb.tool("id", &["-u"]).trim() == "0"
}

#[test]
fn the_image_carries_the_collected_annotations_and_runs() {
    if !(have("umoci") && have("skopeo") && have("jq")) {
        return;
    }
    let sb = Sandbox::new();
    let layout = build_image(&sb);
    let expected = collected(&sb);
    assert!(
        expected.contains_key("org.opencontainers.image.revision"),
        "this checkout has a revision: {expected:?}"
    );

    // The index.json entry (level index-descriptor) keeps its ref.name beside the stamp.
    let index = read_json(&layout.join("index.json"));
    let entries = index["manifests"].as_array().expect("manifests");
    assert_eq!(entries.len(), 1, "{index}");
    let mut entry = to_map(&entries[0]["annotations"]);
    assert_eq!(
        entry.remove("org.opencontainers.image.ref.name").as_deref(),
        Some(TAG)
    );
    assert_eq!(entry, expected, "index.json entry");

    // The image manifest (level manifest), as stored and as skopeo reads it.
    let manifest = blob(&layout, entries[0]["digest"].as_str().expect("digest"));
    assert_eq!(to_map(&manifest["annotations"]), expected, "manifest");
    let reference = format!("oci:{}:{TAG}", layout.display());
    let raw: Value = serde_json::from_str(&sb.tool("skopeo", &["inspect", "--raw", &reference]))
        .expect("skopeo inspect --raw prints JSON");
    assert_eq!(raw, manifest, "skopeo reads the manifest index.json names");
    let inspect: Value = serde_json::from_str(&sb.tool("skopeo", &["inspect", &reference]))
        .expect("skopeo inspect prints JSON");
    assert_eq!(to_map(&inspect["Labels"]), expected, "labels: {inspect}");
    assert_eq!(inspect["Os"], "linux");

    // The config the Dockerfile sets.
    let config = blob(
        &layout,
        manifest["config"]["digest"].as_str().expect("config"),
    );
    assert_eq!(config["config"]["User"], "65532:65532", "{config}");
    assert_eq!(config["config"]["WorkingDir"], "/src", "{config}");
    assert_eq!(
        config["config"]["Entrypoint"],
        serde_json::json!(["oci-stamp"])
    );
    assert_eq!(
        config["config"]["Env"],
        serde_json::json!(["PATH=/usr/local/bin"])
    );
    let stat = sb.tool(
        "umoci",
        &["stat", "--image", &format!("{}:{TAG}", layout.display())],
    );
    assert!(stat.contains("umoci insert"), "one inserted layer:\n{stat}");

    // The unpacked image runs: the binary and whatever it loads are in it.
    let bundle = sb.path().join("bundle");
    sb.tool(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{}:{TAG}", layout.display()),
            bundle.to_str().expect("UTF-8 path"),
        ],
    );
    let rootfs = bundle.join("rootfs");
    assert!(rootfs.join("src").is_dir(), "WORKDIR /src exists");
    let version = format!("oci-stamp {}\n", env!("CARGO_PKG_VERSION"));
    if is_root(&sb) && have("chroot") {
        let out = in_image(&sb, &rootfs, &["--version"]);
        assert_eq!(out, version);
        same_collection_as_another_user(&sb, &rootfs);
    } else {
        assert_eq!(run_with_unpacked_loader(&sb, &rootfs), version);
    }
}

/// `oci-stamp ARGS` inside the unpacked image as the image's user, found through the image's
/// PATH (as the entrypoint `oci-stamp` is), with no HOME. Its standard output.
fn in_image(sb: &Sandbox, rootfs: &Path, args: &[&str]) -> String {
    // The child's PATH is the image's, so find chroot on ours first.
    let chroot = std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("chroot"))
                .find(|p| p.is_file())
        })
        .expect("chroot is on PATH");
    let out = sb
        .command(chroot)
        .env_clear()
        .env("PATH", "/usr/local/bin")
        .arg("--userspec=65532:65532")
        .arg(rootfs)
        .arg("oci-stamp")
        .args(args)
        .output()
        .expect("run chroot");
    assert!(
        out.status.success(),
        "oci-stamp {args:?} in the image failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// `docker run -v "$PWD:/src" IMAGE collect`: a checkout owned by another user (the host's)
/// read by the image's user 65532. git itself refuses such a repository ("dubious
/// ownership"); oci-stamp reads it and says what it says outside the image.
fn same_collection_as_another_user(sb: &Sandbox, rootfs: &Path) {
    let repo = sb.repo("mounted");
    repo.write(
        "Cargo.toml",
        "[package]\nname = \"mounted\"\nversion = \"2.0.0\"\nlicense = \"MIT\"\n",
    );
    repo.commit("first");
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://example.com/team/mounted.git",
    ]);
    let outside = repo.stamp(["collect", "--format", "json"]).run();
    outside.ok();
    let src = rootfs.join("src");
    sb.tool(
        "cp",
        &[
            "-a",
            &format!("{}/.", repo.path.display()),
            src.to_str().unwrap(),
        ],
    );
    sb.tool("chown", &["-R", "1000:1000", src.to_str().unwrap()]);
    let inside = in_image(sb, rootfs, &["collect", "-C", "/src", "--format", "json"]);
    let inside = to_map(&serde_json::from_str(&inside).expect("JSON"));
    assert_eq!(inside, outside.annotations());
    assert_eq!(
        inside["org.opencontainers.image.source"],
        "https://example.com/team/mounted"
    );
}

/// Without root: the unpacked loader runs the unpacked binary with the unpacked libraries (a
/// static binary, with no loader in the image, runs as it is).
fn run_with_unpacked_loader(sb: &Sandbox, rootfs: &Path) -> String {
    let bin = rootfs.join("usr/local/bin/oci-stamp");
    let loader = ["lib64", "lib"].iter().find_map(|dir| {
        std::fs::read_dir(rootfs.join(dir)).ok()?.find_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?.to_string();
            name.starts_with("ld-linux").then_some(path)
        })
    });
    let mut cmd = match &loader {
        Some(loader) => {
            let mut libs: Vec<PathBuf> = Vec::new();
            for dir in [
                "lib",
                "lib64",
                "usr/lib",
                "lib/x86_64-linux-gnu",
                "lib/aarch64-linux-gnu",
            ] {
                if rootfs.join(dir).is_dir() {
                    libs.push(rootfs.join(dir));
                }
            }
            let path = std::env::join_paths(libs).expect("library path");
            let mut cmd = sb.command(loader);
            cmd.arg("--library-path").arg(path).arg(&bin);
            cmd
        }
        None => sb.command(&bin),
    };
    let out = cmd
        .arg("--version")
        .output()
        .expect("run the unpacked binary");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).expect("UTF-8")
}
