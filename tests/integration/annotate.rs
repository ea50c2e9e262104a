//! `oci-stamp annotate TARGET…` and `oci-stamp validate TARGET…` on real layouts and
//! manifests, with real consumers checking what was written: `umoci stat`, `skopeo inspect
//! --raw`, `skopeo copy`, and the sha256 of every blob against its file name.
//!
//! A test that needs umoci or skopeo fails when `CI` is set and the tool is missing, and
//! elsewhere prints a note and returns. Every run happens in a git repository with fixed
//! dates and `--created @1704164645`, so the annotations are the same on every run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::harness::{fixtures, have, sha256, to_map, Output, Repo, Sandbox};

/// What every run passes as `--created`, and what it becomes.
const EPOCH: &str = "@1704164645";
const CREATED: &str = "2024-01-02T03:04:05Z";

const BUILDX: &str = "buildx-multiplatform-attestations";

// ---------------------------------------------------------------------------------------
// Tools, fixtures, files

fn skopeo(sb: &Sandbox, args: &[&str]) -> String {
    let mut all = vec!["--insecure-policy"];
    all.extend_from_slice(args);
    sb.tool("skopeo", &all)
}

/// `oci:PATH[:REF]` for skopeo.
fn oci(path: &Path, reference: Option<&str>) -> String {
    match reference {
        Some(r) => format!("oci:{}:{r}", path.display()),
        None => format!("oci:{}", path.display()),
    }
}

/// Copies a tree, making every copy writable (the corpus may be read-only).
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("read fixture directory") {
        let entry = entry.expect("directory entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("file type");
        if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src).expect("read link"), &dst)
                .expect("copy symlink");
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::write(&dst, fs::read(&src).expect("read fixture")).expect("copy fixture");
        }
    }
}

/// A fixture layout copied into the sandbox.
fn layout_fixture(sb: &Sandbox, name: &str) -> PathBuf {
    let to = sb.path().join(name);
    copy_tree(&fixtures().join("layouts").join(name), &to);
    to
}

/// A fixture manifest copied into the sandbox.
fn manifest_fixture(sb: &Sandbox, name: &str) -> PathBuf {
    let to = sb.path().join(name);
    fs::write(&to, read(&fixtures().join("manifests").join(name))).expect("copy fixture");
    to
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn read_text(path: &Path) -> String {
    String::from_utf8(read(path)).expect("UTF-8")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"))
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    layout.join("blobs/sha256").join(hex)
}

fn blob_text(layout: &Path, digest: &str) -> String {
    read_text(&blob(layout, digest))
}

/// The `annotations` of a document or descriptor; empty when absent.
fn annotations(v: &Value) -> BTreeMap<String, String> {
    match v.get("annotations") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(a) => to_map(a),
    }
}

fn index_json(layout: &Path) -> Value {
    json(&read_text(&layout.join("index.json")))
}

/// The digests of the blobs in a layout.
fn blob_set(layout: &Path) -> BTreeSet<String> {
    fs::read_dir(layout.join("blobs/sha256"))
        .expect("read blobs")
        .map(|e| format!("sha256:{}", e.expect("entry").file_name().to_string_lossy()))
        .collect()
}

/// Every blob's sha256 is its file name, and nothing but blobs lies in `blobs/sha256`.
fn assert_blobs_intact(layout: &Path) {
    for digest in blob_set(layout) {
        assert_eq!(
            sha256(&read(&blob(layout, &digest))),
            digest,
            "blob {digest} of {} does not hash to its name",
            layout.display()
        );
    }
}

/// Every file and directory under `dir`: content hash, size, inode and mtime. Equal
/// snapshots mean nothing was written, renamed, created or removed.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in fs::read_dir(dir).expect("read directory") {
            let path = entry.expect("entry").path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            let content = if meta.is_file() {
                sha256(&read(&path))
            } else if meta.is_dir() {
                walk(root, &path, out);
                "dir".to_string()
            } else {
                "other".to_string()
            };
            out.insert(
                path.strip_prefix(root).expect("under root").to_path_buf(),
                format!(
                    "{content} len={} ino={} mtime={}.{:09} mode={:o}",
                    meta.len(),
                    meta.ino(),
                    meta.mtime(),
                    meta.mtime_nsec(),
                    meta.mode()
                ),
            );
        }
    }
    let mut out = BTreeMap::new();
    let meta = fs::metadata(dir).expect("metadata");
    out.insert(
        PathBuf::from("."),
        format!("mtime={}.{:09}", meta.mtime(), meta.mtime_nsec()),
    );
    walk(dir, dir, &mut out);
    out
}

/// A file's identity and state: bytes, inode, mtime.
fn file_state(path: &Path) -> (Vec<u8>, u64, i64, i64) {
    let meta = fs::metadata(path).expect("metadata");
    (read(path), meta.ino(), meta.mtime(), meta.mtime_nsec())
}

// ---------------------------------------------------------------------------------------
// Running oci-stamp

/// A repository with one commit at the sandbox's fixed date.
fn repo(sb: &Sandbox) -> Repo<'_> {
    let repo = sb.repo("src");
    repo.write("README", "a project\n");
    repo.commit("initial");
    repo
}

/// `oci-stamp annotate --created @1704164645 ARGS…` in the repository.
fn annotate(repo: &Repo, args: &[&str]) -> Output {
    let mut all = vec!["annotate", "--created", EPOCH];
    all.extend_from_slice(args);
    repo.stamp(all).run()
}

/// What `annotate` stamps without `-a`: the repository's collected annotations.
fn base(repo: &Repo) -> BTreeMap<String, String> {
    let out = repo
        .stamp(["collect", "--format", "json", "--created", EPOCH])
        .run();
    out.ok();
    out.annotations()
}

/// `base` plus these pairs.
fn with(base: &BTreeMap<String, String>, pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m = base.clone();
    for (k, v) in pairs {
        m.insert((*k).to_string(), (*v).to_string());
    }
    m
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

// ---------------------------------------------------------------------------------------
// Layouts made by umoci

/// `umoci init`, then one image per tag (`umoci new`, a file inserted), then `umoci gc`,
/// so that every blob is reachable.
fn umoci_layout(sb: &Sandbox, name: &str, tags: &[&str]) -> PathBuf {
    let layout = sb.path().join(name);
    sb.tool("umoci", &["init", "--layout", s(&layout)]);
    for tag in tags {
        let image = format!("{}:{tag}", layout.display());
        sb.tool("umoci", &["new", "--image", &image]);
        let file = sb.path().join(format!("hello-{tag}.txt"));
        fs::write(&file, format!("hello from {tag}\n")).expect("write file");
        sb.tool(
            "umoci",
            &[
                "insert",
                "--rootless",
                "--image",
                &image,
                s(&file),
                &format!("/hello-{tag}.txt"),
            ],
        );
    }
    sb.tool("umoci", &["gc", "--layout", s(&layout)]);
    layout
}

/// The index.json entry whose ref.name is `tag`.
fn entry<'v>(index: &'v Value, tag: &str) -> &'v Value {
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|e| e["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no entry `{tag}` in {index}"))
}

fn digest_of(v: &Value) -> String {
    v["digest"].as_str().expect("a digest").to_string()
}

/// `umoci stat` reads the image: its manifest, config and layers.
fn umoci_stat(sb: &Sandbox, layout: &Path, tag: &str) {
    sb.tool(
        "umoci",
        &["stat", "--image", &format!("{}:{tag}", layout.display())],
    );
}

/// The document minus its `annotations`, serialised (so key order counts).
fn without_annotations(v: &Value) -> String {
    let map: serde_json::Map<String, Value> = v
        .as_object()
        .expect("an object")
        .iter()
        .filter(|(k, _)| *k != "annotations")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::to_string(&map).expect("serialise")
}

#[test]
fn umoci_image_stamped_at_the_manifest_level() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let before_blobs = blob_set(&layout);
    let old_index = index_json(&layout);
    let old = digest_of(entry(&old_index, "v1"));
    let old_text = blob_text(&layout, &old);
    let base = base(&repo);
    assert_eq!(base["org.opencontainers.image.created"], CREATED);
    assert_eq!(base["org.opencontainers.image.revision"], repo.head());

    let out = annotate(&repo, &["-a", "com.example.stamp=yes", s(&layout)]);
    out.ok().quiet();
    let index = index_json(&layout);
    let e = entry(&index, "v1");
    let new = digest_of(e);
    assert_ne!(new, old);
    assert_eq!(
        out.stdout,
        format!("{}: manifest {old} -> {new}\n", layout.display())
    );
    // index.json: only the entry's digest and size changed; ref.name kept.
    let new_text = blob_text(&layout, &new);
    assert_eq!(e["size"], new_text.len());
    let mut back = index.clone();
    back["manifests"][0]["digest"] = old_index["manifests"][0]["digest"].clone();
    back["manifests"][0]["size"] = old_index["manifests"][0]["size"].clone();
    assert_eq!(back, old_index);
    assert_eq!(
        annotations(e),
        BTreeMap::from([(
            "org.opencontainers.image.ref.name".to_string(),
            "v1".to_string()
        )])
    );
    // The manifest: the annotations, and nothing else changed.
    let (before, after) = (json(&old_text), json(&new_text));
    assert_eq!(
        annotations(&after),
        with(&base, &[("com.example.stamp", "yes")])
    );
    assert_eq!(without_annotations(&after), without_annotations(&before));
    assert_blobs_intact(&layout);
    // The old manifest is kept (another tag or tool may use it); nothing else was added.
    let mut expected = before_blobs.clone();
    expected.insert(new.clone());
    assert_eq!(blob_set(&layout), expected);

    // Real consumers.
    umoci_stat(&sb, &layout, "v1");
    let raw = skopeo(&sb, &["inspect", "--raw", &oci(&layout, Some("v1"))]);
    assert_eq!(raw, new_text, "skopeo reads the stamped manifest");
    let copy = sb.path().join("copy");
    skopeo(
        &sb,
        &[
            "copy",
            "-q",
            &oci(&layout, Some("v1")),
            &oci(&copy, Some("v1")),
        ],
    );
    let copied = skopeo(&sb, &["inspect", "--raw", &oci(&copy, Some("v1"))]);
    assert_eq!(
        annotations(&json(&copied)),
        with(&base, &[("com.example.stamp", "yes")])
    );

    // Again with --gc: nothing to stamp, but the old manifest is now unreachable.
    let out = annotate(&repo, &["-a", "com.example.stamp=yes", "--gc", s(&layout)]);
    out.ok().quiet();
    assert_eq!(
        out.stdout,
        format!(
            "{0}: unchanged\n{0}: removed unreachable blob {old}\n",
            layout.display()
        )
    );
    let mut expected = before_blobs;
    expected.remove(&old);
    expected.insert(new);
    assert_eq!(blob_set(&layout), expected);
    umoci_stat(&sb, &layout, "v1");
}

#[test]
fn gc_removes_only_unreachable_blobs() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    sb.tool(
        "umoci",
        &["tag", "--image", &format!("{}:v1", layout.display()), "v2"],
    );
    let before = blob_set(&layout);
    let old = digest_of(entry(&index_json(&layout), "v1"));
    assert_eq!(old, digest_of(entry(&index_json(&layout), "v2")));
    let junk = b"left behind by some tool\n";
    fs::write(blob(&layout, &sha256(junk)), junk).expect("write junk blob");

    // v2 still uses the old manifest: only the junk goes.
    let out = annotate(&repo, &["--gc", &format!("{}:v1", layout.display())]);
    out.ok().quiet();
    let new = digest_of(entry(&index_json(&layout), "v1"));
    assert_eq!(
        out.stdout,
        format!(
            "{0}: manifest {old} -> {new}\n{0}: removed unreachable blob {1}\n",
            layout.display(),
            sha256(junk)
        )
    );
    let mut expected = before.clone();
    expected.insert(new.clone());
    assert_eq!(blob_set(&layout), expected);

    // v2 gets the same annotations, so the same new manifest: now the old one goes.
    let out = annotate(&repo, &["--gc", &format!("{}:v2", layout.display())]);
    out.ok().quiet();
    assert_eq!(
        out.stdout,
        format!(
            "{0}: manifest {old} -> {new}\n{0}: removed unreachable blob {old}\n",
            layout.display()
        )
    );
    assert_eq!(digest_of(entry(&index_json(&layout), "v2")), new);
    let mut expected = before;
    expected.remove(&old);
    expected.insert(new);
    assert_eq!(blob_set(&layout), expected);
    assert_blobs_intact(&layout);
    umoci_stat(&sb, &layout, "v1");
    umoci_stat(&sb, &layout, "v2");
}

#[test]
fn index_level_on_a_single_platform_image_is_refused() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let before = snapshot(&layout);
    let out = annotate(&repo, &["--level", "index", s(&layout)]);
    out.status(1);
    assert_eq!(out.codes(), ["level-not-found"], "{out}");
    assert!(out.line("level-not-found").contains("`index`"), "{out}");
    assert_eq!(out.stdout, "", "{out}");
    assert_eq!(snapshot(&layout), before, "a refusal writes nothing");
}

#[test]
fn dir_ref_selects_one_entry_and_an_unknown_ref_names_the_others() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1", "v2"]);
    let old_index = index_json(&layout);
    let (old1, old2) = (
        digest_of(entry(&old_index, "v1")),
        digest_of(entry(&old_index, "v2")),
    );
    assert_ne!(old1, old2);
    let v2_text = blob_text(&layout, &old2);

    let out = annotate(&repo, &[&format!("{}:v1", layout.display())]);
    out.ok().quiet();
    let index = index_json(&layout);
    let new1 = digest_of(entry(&index, "v1"));
    assert_eq!(
        out.stdout,
        format!("{}: manifest {old1} -> {new1}\n", layout.display())
    );
    assert_eq!(entry(&index, "v2"), entry(&old_index, "v2"));
    assert_eq!(blob_text(&layout, &old2), v2_text);
    let raw1 = json(&skopeo(
        &sb,
        &["inspect", "--raw", &oci(&layout, Some("v1"))],
    ));
    let raw2 = json(&skopeo(
        &sb,
        &["inspect", "--raw", &oci(&layout, Some("v2"))],
    ));
    assert_eq!(annotations(&raw1), base(&repo));
    assert_eq!(annotations(&raw2), BTreeMap::new());
    umoci_stat(&sb, &layout, "v1");
    umoci_stat(&sb, &layout, "v2");

    let before = snapshot(&layout);
    let out = annotate(&repo, &[&format!("{}:v3", layout.display())]);
    out.status(2);
    assert!(out.stderr.starts_with("error: "), "{out}");
    assert!(out.stderr.contains("index.json"), "{out}");
    assert!(
        out.stderr
            .contains("no entry has ref.name `v3`; there are: v1, v2"),
        "{out}"
    );
    assert_eq!(snapshot(&layout), before);
}

#[test]
fn concurrent_runs_keep_every_key() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let runs: Vec<_> = (1..=8)
        .map(|n| {
            repo.stamp([
                "annotate".to_string(),
                "--created".to_string(),
                EPOCH.to_string(),
                "-a".to_string(),
                format!("com.example.k{n}={n}"),
                layout.display().to_string(),
            ])
        })
        .collect();
    let threads: Vec<_> = runs
        .into_iter()
        .map(|run| std::thread::spawn(move || run.run()))
        .collect();
    for t in threads {
        let out = t.join().expect("a run thread");
        out.ok().quiet();
    }
    let index = index_json(&layout);
    assert_eq!(index["manifests"].as_array().expect("manifests").len(), 1);
    let manifest = json(&blob_text(&layout, &digest_of(entry(&index, "v1"))));
    let mut expected = base(&repo);
    for n in 1..=8 {
        expected.insert(format!("com.example.k{n}"), n.to_string());
    }
    assert_eq!(annotations(&manifest), expected);
    assert_blobs_intact(&layout);
    umoci_stat(&sb, &layout, "v1");
    let leftovers: Vec<_> = snapshot(&layout)
        .into_keys()
        .filter(|p| p.to_string_lossy().contains(".oci-stamp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

// ---------------------------------------------------------------------------------------
// A buildx multi-platform layout with attestations

/// The buildx layout's index blob (the one index.json entry).
fn buildx_index(layout: &Path) -> (String, Value) {
    let digest = digest_of(&index_json(layout)["manifests"][0]);
    let v = json(&blob_text(layout, &digest));
    (digest, v)
}

/// The platform manifests' and attestations' descriptors of the buildx index.
fn descriptors(index: &Value) -> (Vec<&Value>, Vec<&Value>) {
    index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .partition(|d| d["annotations"]["vnd.docker.reference.type"] != "attestation-manifest")
}

fn arch(d: &Value) -> &str {
    d["platform"]["architecture"]
        .as_str()
        .expect("architecture")
}

/// skopeo picks the platform manifest out of the index and copies its bytes.
fn skopeo_platform_manifest(sb: &Sandbox, layout: &Path, arch: &str) -> String {
    let dir = sb.path().join(format!("dir-{arch}"));
    let _ = fs::remove_dir_all(&dir);
    skopeo(
        sb,
        &[
            "copy",
            "-q",
            "--override-os",
            "linux",
            "--override-arch",
            arch,
            &oci(layout, None),
            &format!("dir:{}", dir.display()),
        ],
    );
    let raw = skopeo(sb, &["inspect", "--raw", &format!("dir:{}", dir.display())]);
    assert_eq!(raw, read_text(&dir.join("manifest.json")));
    raw
}

#[test]
fn multiplatform_index_and_manifest_levels() {
    if !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let old_outer = index_json(&layout);
    let (old_index_digest, old_index) = buildx_index(&layout);
    let (old_platforms, old_attestations) = descriptors(&old_index);
    let base = base(&repo);
    let arm = "manifest[linux/arm64]:com.example.arm=1";

    let out = annotate(&repo, &["--level", "index,manifest", "-a", arm, s(&layout)]);
    out.ok().quiet();
    let (index_digest, index) = buildx_index(&layout);
    let (platforms, attestations) = descriptors(&index);
    assert_eq!(platforms.len(), 2);
    assert_eq!(
        out.stdout,
        format!(
            "{0}: manifest linux/amd64 {1} -> {2}\n{0}: manifest linux/arm64 {3} -> {4}\n{0}: index {old_index_digest} -> {index_digest}\n",
            layout.display(),
            digest_of(old_platforms[0]),
            digest_of(platforms[0]),
            digest_of(old_platforms[1]),
            digest_of(platforms[1]),
        )
    );
    // index.json: the one entry points at the new index; its annotations are as they were.
    let outer = index_json(&layout);
    assert_eq!(
        outer["manifests"][0]["size"],
        blob_text(&layout, &index_digest).len()
    );
    assert_eq!(
        annotations(&outer["manifests"][0]),
        annotations(&old_outer["manifests"][0])
    );
    // skopeo reads the new index: the index level got the set, not the arm64-only key.
    let raw = skopeo(&sb, &["inspect", "--raw", &oci(&layout, None)]);
    assert_eq!(raw, blob_text(&layout, &index_digest));
    assert_eq!(annotations(&index), base);
    assert_eq!(without_annotations(&index), {
        let mut v = old_index.clone();
        for (i, d) in platforms.iter().enumerate() {
            v["manifests"][i]["digest"] = d["digest"].clone();
            v["manifests"][i]["size"] = d["size"].clone();
        }
        for (i, d) in attestations.iter().enumerate() {
            v["manifests"][i + 2]["annotations"] = d["annotations"].clone();
        }
        without_annotations(&v)
    });
    // Each platform manifest: stamped, read back by skopeo; arm64 alone has its key.
    for (old, new) in old_platforms.iter().zip(&platforms) {
        let a = arch(new);
        let text = blob_text(&layout, &digest_of(new));
        assert_eq!(new["size"], text.len());
        assert_eq!(skopeo_platform_manifest(&sb, &layout, a), text);
        let expected = if a == "arm64" {
            with(&base, &[("com.example.arm", "1")])
        } else {
            base.clone()
        };
        assert_eq!(annotations(&json(&text)), expected, "{a}");
        assert_eq!(
            without_annotations(&json(&text)),
            without_annotations(&json(&blob_text(&layout, &digest_of(old))))
        );
    }
    // Attestations: not stamped, but they now refer to the new platform manifests.
    for (i, (old, new)) in old_attestations.iter().zip(&attestations).enumerate() {
        assert_eq!(
            digest_of(old),
            digest_of(new),
            "attestation {i} is not rewritten"
        );
        assert_eq!(old["size"], new["size"]);
        assert_eq!(
            new["annotations"]["vnd.docker.reference.digest"],
            platforms[i]["digest"]
        );
        assert_eq!(
            annotations(&json(&blob_text(&layout, &digest_of(new)))),
            annotations(&json(&blob_text(&layout, &digest_of(old))))
        );
    }
    assert_blobs_intact(&layout);
    let copy = sb.path().join("copy");
    skopeo(
        &sb,
        &[
            "copy",
            "-q",
            "--all",
            &oci(&layout, None),
            &oci(&copy, Some("all")),
        ],
    );
    // skopeo may recompress a layer (and so rewrite a manifest), but keeps the annotations.
    let copied = json(&skopeo(
        &sb,
        &["inspect", "--raw", &oci(&copy, Some("all"))],
    ));
    assert_eq!(annotations(&copied), base);
    for (ours, theirs) in platforms.iter().zip(descriptors(&copied).0) {
        assert_eq!(arch(ours), arch(theirs));
        assert_eq!(
            annotations(&json(&blob_text(&copy, &digest_of(theirs)))),
            annotations(&json(&blob_text(&layout, &digest_of(ours))))
        );
    }

    // A second identical run: nothing changes, not even index.json's mtime.
    let before = snapshot(&layout);
    let out = annotate(&repo, &["--level", "index,manifest", "-a", arm, s(&layout)]);
    out.ok().quiet();
    assert_eq!(out.stdout, format!("{}: unchanged\n", layout.display()));
    assert_eq!(snapshot(&layout), before);
}

#[test]
fn multiplatform_descriptor_levels() {
    if !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let (old_index_digest, old_index) = buildx_index(&layout);
    let old_outer = index_json(&layout);
    let old_outer_text = read_text(&layout.join("index.json"));
    let base = base(&repo);
    let manifests_before: Vec<String> = descriptors(&old_index)
        .0
        .iter()
        .map(|d| blob_text(&layout, &digest_of(d)))
        .collect();

    let out = annotate(
        &repo,
        &[
            "--level",
            "manifest-descriptor,index-descriptor",
            "-a",
            "com.example.d=1",
            s(&layout),
        ],
    );
    out.ok().quiet();
    let (index_digest, index) = buildx_index(&layout);
    // index.json is named too: its descriptor's own annotations changed.
    assert_eq!(
        out.stdout,
        format!(
            "{0}: index {old_index_digest} -> {index_digest}\n{0}: index.json {1} -> {2}\n",
            layout.display(),
            sha256(old_outer_text.as_bytes()),
            sha256(&read(&layout.join("index.json"))),
        )
    );
    let expected = with(&base, &[("com.example.d", "1")]);
    let (platforms, attestations) = descriptors(&index);
    // Manifest descriptors carry the set; the manifests themselves are untouched.
    for (d, before) in platforms.iter().zip(&manifests_before) {
        assert_eq!(annotations(d), expected, "{d}");
        assert_eq!(&blob_text(&layout, &digest_of(d)), before);
    }
    for (new, old) in attestations.iter().zip(descriptors(&old_index).1) {
        assert_eq!(*new, old, "attestation descriptors are left alone");
    }
    assert_eq!(annotations(&index), annotations(&old_index));
    // The index.json descriptor: its `created` replaced, the rest added.
    let outer = index_json(&layout);
    let e = &outer["manifests"][0];
    assert_eq!(digest_of(e), index_digest);
    assert_eq!(e["size"], blob_text(&layout, &index_digest).len());
    assert_eq!(annotations(e), expected);
    assert_eq!(
        e["mediaType"], old_outer["manifests"][0]["mediaType"],
        "the rest of the entry is kept"
    );
    assert_eq!(
        skopeo(&sb, &["inspect", "--raw", &oci(&layout, None)]),
        blob_text(&layout, &index_digest)
    );
    assert_blobs_intact(&layout);
    skopeo(
        &sb,
        &[
            "copy",
            "-q",
            "--all",
            &oci(&layout, None),
            &oci(&sb.path().join("copy"), Some("all")),
        ],
    );
}

#[test]
fn dry_run_writes_nothing_and_reports_what_a_real_run_writes() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let before = snapshot(&layout);
    let args = ["--level", "index,manifest", "-a", "com.example.x=1"];
    let run = |extra: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        all.push(s(&layout));
        annotate(&repo, &all)
    };

    let text = run(&["--dry-run"]);
    text.ok().quiet();
    assert_eq!(snapshot(&layout), before, "--dry-run writes nothing");
    let json_run = run(&["--dry-run", "--format", "json"]);
    json_run.ok().quiet();
    assert_eq!(snapshot(&layout), before, "--dry-run writes nothing");
    let report = json_run.json();
    let report = report.as_array().expect("an array of outcomes");
    assert_eq!(report.len(), 1);
    assert_eq!(report[0]["target"], s(&layout));
    assert_eq!(report[0]["written"], false);
    let changes = report[0]["changes"].as_array().expect("changes");
    let kinds: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().expect("kind"),
                c["platform"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("manifest", "linux/amd64"),
            ("manifest", "linux/arm64"),
            ("index", "")
        ]
    );
    // The text report has the same digests, one line each.
    let mut expected: String = changes
        .iter()
        .map(|c| {
            let platform = c["platform"]
                .as_str()
                .map(|p| format!(" {p}"))
                .unwrap_or_default();
            format!(
                "{}: {}{platform} {} -> {}\n",
                layout.display(),
                c["kind"].as_str().expect("kind"),
                c["old"].as_str().expect("old"),
                c["new"].as_str().expect("new")
            )
        })
        .collect();
    expected.push_str(&format!("{}: dry run, nothing written\n", layout.display()));
    assert_eq!(text.stdout, expected);

    // The real run writes exactly those digests.
    let real = run(&["--format", "json"]);
    real.ok().quiet();
    let written = real.json();
    assert_eq!(written[0]["written"], true);
    assert_eq!(written[0]["changes"], report[0]["changes"]);
    let (index_digest, index) = buildx_index(&layout);
    assert_eq!(changes[2]["new"], index_digest.as_str());
    let (platforms, _) = descriptors(&index);
    assert_eq!(changes[0]["new"], platforms[0]["digest"]);
    assert_eq!(changes[1]["new"], platforms[1]["digest"]);
    assert_blobs_intact(&layout);
    for c in changes {
        assert!(blob(&layout, c["new"].as_str().expect("new")).is_file());
        assert!(blob(&layout, c["old"].as_str().expect("old")).is_file());
    }
}

// ---------------------------------------------------------------------------------------
// Docker media types

#[test]
fn docker_media_types_are_refused_and_nothing_changes() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    for name in ["dockerhub-hello-world-containerd-export", "ggcr-test_index"] {
        let layout = layout_fixture(&sb, name);
        let before = snapshot(&layout);
        let out = annotate(&repo, &["-a", "com.example.a=1", s(&layout)]);
        out.status(1);
        let codes = out.codes();
        assert!(!codes.is_empty(), "{out}");
        assert!(codes.iter().all(|c| *c == "docker-media-type"), "{out}");
        assert_eq!(out.stdout, "", "{out}");
        assert_eq!(snapshot(&layout), before, "{name}: nothing written");
    }
    // A level narrowed to a platform the Docker list has is refused for the schema too,
    // not reported as a missing level; a platform the list lacks is a missing level.
    let layout = layout_fixture(&sb, "dockerhub-hello-world-containerd-export");
    let before = snapshot(&layout);
    for (level, code, says) in [
        (
            "manifest-descriptor[windows/amd64]",
            "docker-media-type",
            "cannot carry annotations at `manifest-descriptor`",
        ),
        (
            "manifest[linux/arm/v5]",
            "docker-media-type",
            "cannot carry annotations at `manifest`",
        ),
        (
            "manifest[linux/sparc64]",
            "level-not-found",
            "no manifest of that platform",
        ),
    ] {
        let out = annotate(
            &repo,
            &["--level", level, "-a", "com.example.a=1", s(&layout)],
        );
        out.status(1);
        assert_eq!(out.codes(), [code], "{level}\n{out}");
        assert!(out.line(code).contains(says), "{level}\n{out}");
        assert_eq!(snapshot(&layout), before, "{level}: nothing written");
    }
    let file = manifest_fixture(&sb, "docker-v2s2-manifest-4space.json");
    let before = file_state(&file);
    let out = annotate(&repo, &["-a", "com.example.a=1", s(&file)]);
    out.status(1);
    assert_eq!(out.codes(), ["docker-media-type"], "{out}");
    assert!(out.line("docker-media-type").contains(s(&file)), "{out}");
    assert_eq!(file_state(&file), before);
}

// ---------------------------------------------------------------------------------------
// Loose manifest and index files

/// Every manifest fixture: `validate` status, the level to annotate at, `annotate` status.
const LOOSE: &[(&str, i32, &str, i32)] = &[
    (
        "buildkit-docker-v2s2-manifest-with-annotations.json",
        0,
        "manifest",
        1,
    ),
    (
        "buildkit-oci-manifest-layer-and-manifest-annotations.json",
        0,
        "manifest",
        0,
    ),
    (
        "buildx-attestation-manifest-provenance.json",
        0,
        "manifest",
        0,
    ),
    (
        "buildx-index-with-attestation-manifests.json",
        0,
        "index",
        0,
    ),
    (
        "docker-manifest-list-of-schema1-features-variant.json",
        0,
        "index",
        1,
    ),
    ("docker-manifest-list-v2-3space-indent.json", 0, "index", 1),
    ("docker-v2s1-signed-jws-manifest.json", 0, "manifest", 1),
    ("docker-v2s2-manifest-4space.json", 0, "manifest", 1),
    (
        "dockerhub-alpine-3.23.2-index-RESERIALIZED.json",
        1,
        "index",
        0,
    ),
    (
        "dockerhub-hello-world-amd64-docker-v2s2-3space.json",
        0,
        "manifest",
        1,
    ),
    (
        "dockerhub-hello-world-manifest-list-escaped-slashes.json",
        0,
        "index",
        1,
    ),
    (
        "imagespec-index-with-nested-index-descriptor.json",
        0,
        "index",
        0,
    ),
    (
        "imagespec-layout-index-example-unknown-mediatype.json",
        0,
        "index",
        0,
    ),
    (
        "imagespec-manifest-example-with-subject.json",
        0,
        "manifest",
        0,
    ),
    (
        "imagespec-minimal-artifact-3space-leading-indent.json",
        1,
        "manifest",
        0,
    ),
    ("notation-referrers-tag-schema-index.json", 0, "index", 0),
    ("notation-signature-manifest-subject.json", 0, "manifest", 0),
    (
        "oci-index-all-fields-subject-artifactType-data.json",
        0,
        "index",
        0,
    ),
    (
        "oci-index-descriptor-artifactType-os-features.json",
        0,
        "index",
        0,
    ),
    ("oci-index-zstd-variants-annotations.json", 0, "index", 0),
    (
        "oci-manifest-all-fields-subject-artifactType-data.json",
        0,
        "manifest",
        0,
    ),
    (
        "oci-manifest-compact-empty-annotation-values.json",
        0,
        "manifest",
        0,
    ),
    (
        "oci-manifest-encrypted-nonascii-annotation-key.json",
        0,
        "manifest",
        0,
    ),
    (
        "oci-manifest-tab-indented-odd-layout.json",
        0,
        "manifest",
        0,
    ),
    ("oras-index-with-subject.json", 0, "index", 0),
    (
        "quay-kairos-buildkit-attestation-manifest-plus-LF.json",
        0,
        "manifest",
        0,
    ),
    (
        "quay-kairos-buildx-index-with-attestation.json",
        0,
        "index",
        0,
    ),
];

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The end of the JSON value starting at `i` (the text is known to be valid JSON).
fn skip_value(b: &[u8], mut i: usize) -> usize {
    match b[i] {
        b'"' => {
            i += 1;
            loop {
                match b[i] {
                    b'\\' => i += 2,
                    b'"' => return i + 1,
                    _ => i += 1,
                }
            }
        }
        b'{' | b'[' => {
            let mut depth = 0;
            loop {
                match b[i] {
                    b'"' => {
                        i = skip_value(b, i);
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return i + 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            while !matches!(
                b.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            i
        }
    }
}

/// The top-level members of a JSON object: key, where its key starts, where its value ends.
fn top_members(text: &str) -> Vec<(String, usize, usize)> {
    let b = text.as_bytes();
    let mut i = skip_ws(b, 0);
    assert_eq!(b[i], b'{', "not an object: {text}");
    i += 1;
    let mut out = Vec::new();
    loop {
        i = skip_ws(b, i);
        match b[i] {
            b'}' => return out,
            b',' => i = skip_ws(b, i + 1),
            _ => {}
        }
        let start = i;
        let key_end = skip_value(b, i);
        let key: String = serde_json::from_str(&text[start..key_end]).expect("a key");
        i = skip_ws(b, key_end);
        assert_eq!(b[i], b':');
        i = skip_ws(b, i + 1);
        let end = skip_value(b, i);
        out.push((key, start, end));
        i = end;
    }
}

/// `new` differs from `old` only in the top-level `annotations` (its value, or the member
/// and the comma before it): the JSON outside it is equal, and so are the bytes.
fn assert_only_annotations_changed(old: &str, new: &str) {
    assert_eq!(
        without_annotations(&json(new)),
        without_annotations(&json(old))
    );
    let (o, n) = (old.as_bytes(), new.as_bytes());
    let prefix = o.iter().zip(n).take_while(|(a, b)| a == b).count();
    let room = o.len().min(n.len()) - prefix;
    let suffix = o
        .iter()
        .rev()
        .zip(n.iter().rev())
        .take(room)
        .take_while(|(a, b)| a == b)
        .count();
    let members = top_members(new);
    let at = members
        .iter()
        .position(|(k, _, _)| k == "annotations")
        .expect("annotations in the new text");
    let region_start = match at {
        0 => new.find('{').expect("an object") + 1,
        _ => members[at - 1].2,
    };
    let region_end = members[at].2;
    assert!(
        prefix >= region_start && n.len() - suffix <= region_end,
        "bytes changed outside the annotations ({prefix}..{} not within {region_start}..{region_end}):\n--- old\n{old}\n--- new\n{new}",
        n.len() - suffix
    );
}

/// The text `annotate` gives a document without annotations whose last line is `}`: the
/// member appended after the last one, in the document's line ending and indent unit.
fn appended(old: &str, nl: &str, unit: &str, pairs: &BTreeMap<String, String>) -> String {
    let at = old
        .rfind(&format!("{nl}}}"))
        .expect("a closing brace on its own line");
    let q = |s: &str| serde_json::to_string(s).expect("quote");
    let members: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{nl}{unit}{unit}{}: {}", q(k), q(v)))
        .collect();
    format!(
        "{},{nl}{unit}\"annotations\": {{{}{nl}{unit}}}{}",
        &old[..at],
        members.join(","),
        &old[at..]
    )
}

#[test]
fn every_fixture_manifest_validates_and_dry_runs() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = fixtures().join("manifests");
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("read manifests")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let listed: Vec<&str> = LOOSE.iter().map(|(n, ..)| *n).collect();
    assert_eq!(names, listed, "every fixture manifest has a row in LOOSE");
    for (name, validate_status, level, annotate_status) in LOOSE {
        let file = manifest_fixture(&sb, name);
        let before = file_state(&file);
        let out = sb.stamp(["validate", s(&file)]).run();
        out.status(*validate_status);
        let out = annotate(
            &repo,
            &[
                "--dry-run",
                "--level",
                level,
                "-a",
                "com.example.a=1",
                s(&file),
            ],
        );
        out.status(*annotate_status);
        if *annotate_status == 0 {
            out.quiet();
            let lines: Vec<&str> = out.stdout.lines().collect();
            assert_eq!(lines.len(), 2, "{out}");
            let old = sha256(&before.0);
            assert!(
                lines[0].starts_with(&format!("{}: file {old} -> sha256:", file.display())),
                "{out}"
            );
            assert_eq!(
                lines[1],
                format!("{}: dry run, nothing written", file.display())
            );
        } else {
            assert_eq!(out.codes(), ["docker-media-type"], "{out}");
        }
        assert_eq!(
            file_state(&file),
            before,
            "{name}: --dry-run writes nothing"
        );
    }
}

#[test]
fn oci_files_change_only_their_annotations_and_are_stable() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let expected_extra = [("com.example.a", "1")];
    for (name, _, level, _) in LOOSE.iter().filter(|r| r.3 == 0) {
        let file = manifest_fixture(&sb, name);
        let old = read_text(&file);
        let out = annotate(
            &repo,
            &["--level", level, "-a", "com.example.a=1", s(&file)],
        );
        out.ok().quiet();
        let new = read_text(&file);
        assert_eq!(
            out.stdout,
            format!(
                "{}: file {} -> {}\n",
                file.display(),
                sha256(old.as_bytes()),
                sha256(new.as_bytes())
            )
        );
        assert_only_annotations_changed(&old, &new);
        let mut expected = annotations(&json(&old));
        expected.extend(with(&base(&repo), &expected_extra));
        assert_eq!(annotations(&json(&new)), expected, "{name}");
        assert_eq!(
            old.ends_with('\n'),
            new.ends_with('\n'),
            "{name}: the trailing newline is kept"
        );
        // Already matching: not rewritten at all.
        let state = file_state(&file);
        let out = annotate(
            &repo,
            &["--level", level, "-a", "com.example.a=1", s(&file)],
        );
        out.ok().quiet();
        assert_eq!(out.stdout, format!("{}: unchanged\n", file.display()));
        assert_eq!(
            file_state(&file),
            state,
            "{name}: same bytes, inode and mtime"
        );
    }
}

#[test]
fn tabs_crlf_and_a_missing_final_newline_are_kept() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let set = with(&base(&repo), &[("com.example.a", "1")]);

    // Tab-indented, LF, final newline.
    let tabs = manifest_fixture(&sb, "oci-manifest-tab-indented-odd-layout.json");
    let old = read_text(&tabs);
    assert!(old.ends_with("}\n"));
    annotate(&repo, &["-a", "com.example.a=1", s(&tabs)]).ok();
    let new = read_text(&tabs);
    assert_eq!(new, appended(&old, "\n", "\t", &set));
    assert!(new.lines().all(|l| !l.starts_with(' ')), "{new}");

    // Two spaces, LF, no final newline.
    let bare = manifest_fixture(&sb, "buildx-attestation-manifest-provenance.json");
    let old = read_text(&bare);
    assert!(old.ends_with("]\n}"));
    annotate(&repo, &["-a", "com.example.a=1", s(&bare)]).ok();
    let new = read_text(&bare);
    assert_eq!(new, appended(&old, "\n", "  ", &set));
    assert!(new.ends_with('}'));

    // The same with CRLF line endings and a final CRLF.
    let crlf = sb.path().join("crlf.json");
    let old = read_text(&fixtures().join("manifests/buildx-attestation-manifest-provenance.json"))
        .replace('\n', "\r\n")
        + "\r\n";
    fs::write(&crlf, &old).expect("write");
    annotate(&repo, &["-a", "com.example.a=1", s(&crlf)]).ok();
    let new = read_text(&crlf);
    assert_eq!(new, appended(&old, "\r\n", "  ", &set));
    assert_eq!(new.matches('\n').count(), new.matches("\r\n").count());
    assert!(new.ends_with("}\r\n"));
}

#[test]
fn stdin_goes_to_stdout_and_the_report_to_stderr() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let old = read_text(&fixtures().join("manifests/buildx-attestation-manifest-provenance.json"));
    let out = repo
        .stamp(["annotate", "--created", EPOCH, "-a", "com.example.a=1", "-"])
        .stdin(old.clone())
        .run();
    out.ok();
    let set = with(&base(&repo), &[("com.example.a", "1")]);
    assert_eq!(out.stdout, appended(&old, "\n", "  ", &set));
    assert_eq!(annotations(&json(&out.stdout)), set);
    assert_eq!(
        out.stderr,
        format!(
            "-: file {} -> {}\n",
            sha256(old.as_bytes()),
            sha256(out.stdout.as_bytes())
        )
    );
}

// ---------------------------------------------------------------------------------------
// Bad input

/// Rewrites index.json's text.
fn edit_index(layout: &Path, f: impl FnOnce(String) -> String) {
    let path = layout.join("index.json");
    fs::write(&path, f(read_text(&path))).expect("write index.json");
}

/// `annotate` of a broken layout: exit 2, one `error:` line, nothing written. The line.
fn refused(repo: &Repo, layout: &Path) -> String {
    let before = snapshot(layout);
    let out = annotate(repo, &["-a", "com.example.a=1", s(layout)]);
    out.status(2);
    assert_eq!(out.stdout, "", "{out}");
    let errors: Vec<&str> = out
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{out}");
    assert_eq!(snapshot(layout), before, "a failed run writes nothing");
    errors[0].to_string()
}

#[test]
fn a_corrupt_index_json_is_an_error() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    fs::write(layout.join("index.json"), "{").expect("write");
    let line = refused(&repo, &layout);
    assert!(
        line.starts_with(&format!(
            "error: {}/index.json: invalid JSON",
            layout.display()
        )),
        "{line}"
    );
}

#[test]
fn a_missing_blob_is_an_error_naming_it() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let (_, index) = buildx_index(&layout);
    let arm = digest_of(descriptors(&index).0[1]);
    fs::remove_file(blob(&layout, &arm)).expect("remove blob");
    let line = refused(&repo, &layout);
    assert!(
        line.contains(s(&blob(&layout, &arm))),
        "names the blob: {line}"
    );
}

#[test]
fn a_digest_that_climbs_out_of_blobs_is_refused() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let (index_digest, _) = buildx_index(&layout);
    // A valid manifest where `blobs/sha256/../../x` would lead.
    fs::write(
        layout.join("x"),
        blob_text(&layout, &digest_of(&index_json(&layout)["manifests"][0])),
    )
    .expect("write");
    edit_index(&layout, |t| t.replace(&index_digest, "sha256:../../x"));
    let line = refused(&repo, &layout);
    assert!(line.contains("`sha256:../../x`"), "{line}");
    assert!(!line.contains("No such file"), "{line}");
    assert!(!line.contains("does not match"), "{line}");
    // validate reports it too, without following it.
    let out = sb.stamp(["validate", s(&layout)]).run();
    out.status(1);
    assert_eq!(out.codes(), ["invalid-digest"], "{out}");
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_not_rewritten() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let (_, index) = buildx_index(&layout);
    let amd = digest_of(descriptors(&index).0[0]);
    let path = blob(&layout, &amd);
    let mut text = read_text(&path);
    text.push(' ');
    fs::write(&path, text).expect("write");
    let line = refused(&repo, &layout);
    assert!(line.contains(s(&path)), "{line}");
    assert!(line.contains("does not match its digest"), "{line}");
}

#[test]
fn an_empty_layout_is_an_error() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = sb.dir(
        "empty",
        &[
            ("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#),
            ("index.json", r#"{"schemaVersion":2,"manifests":[]}"#),
            ("blobs/sha256/.keep", ""),
        ],
    );
    fs::remove_file(layout.join("blobs/sha256/.keep")).expect("remove");
    let line = refused(&repo, &layout);
    assert!(line.contains("index.json"), "{line}");
    assert!(line.contains("no manifests"), "{line}");
}

/// Gives a directory its mode back when dropped, so the sandbox can be removed.
struct Restore(Vec<PathBuf>);

impl Drop for Restore {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o755));
        }
    }
}

#[test]
fn a_read_only_layout_is_an_error_and_stays_as_it_was() {
    let sb = Sandbox::new();
    let uid = sb.tool("id", &["-u"]);
    if uid.trim() == "0" {
        eprintln!("note: running as root, which ignores permissions; skipping this test");
        return;
    }
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    let dirs = vec![
        layout.join("blobs/sha256"),
        layout.join("blobs"),
        layout.clone(),
    ];
    let _restore = Restore(dirs.clone());
    for d in &dirs {
        fs::set_permissions(d, fs::Permissions::from_mode(0o555)).expect("chmod");
    }
    let index = read(&layout.join("index.json"));
    let line = refused(&repo, &layout);
    assert!(line.contains("ermission denied"), "{line}");
    assert_eq!(read(&layout.join("index.json")), index);
}

// ---------------------------------------------------------------------------------------
// validate TARGET

#[test]
fn validate_passes_an_annotated_layout_and_finds_a_misspelled_key() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = layout_fixture(&sb, BUILDX);
    annotate(&repo, &["--level", "index,manifest", s(&layout)])
        .ok()
        .quiet();
    sb.stamp(["validate", s(&layout)]).run().ok().quiet();

    // A misspelled OCI key on the index.json descriptor.
    edit_index(&layout, |t| {
        t.replace(
            r#""annotations":{"#,
            r#""annotations":{"org.opencontainers.image.revison":"abc","#,
        )
    });
    let out = sb.stamp(["validate", s(&layout)]).run();
    out.status(1);
    assert_eq!(out.codes(), ["unknown-oci-key"], "{out}");
    let line = out.line("unknown-oci-key");
    assert!(line.contains("index.json"), "{out}");
    assert!(line.contains("org.opencontainers.image.revision"), "{out}");
    // annotate leaves a key already there alone and does not fail on it.
    let out = annotate(&repo, &["--level", "index,manifest", s(&layout)]);
    out.ok().quiet();
    assert_eq!(out.stdout, format!("{}: unchanged\n", layout.display()));

    // The same in a manifest file.
    let file = sb.path().join("typo.json");
    let text = read_text(&fixtures().join("manifests/buildx-attestation-manifest-provenance.json"))
        .replacen(
            "\"schemaVersion\": 2,",
            "\"schemaVersion\": 2,\n  \"annotations\": {\"org.opencontainers.image.revison\": \"abc\"},",
            1,
        );
    fs::write(&file, text).expect("write");
    let out = sb.stamp(["validate", s(&file)]).run();
    out.status(1);
    assert_eq!(out.codes(), ["unknown-oci-key"], "{out}");
    assert!(out.line("unknown-oci-key").contains(s(&file)), "{out}");
}

// ---------------------------------------------------------------------------------------
// Found by stamping images no other test made

/// A ref.name may hold colons (`registry.example/app:1.0`, as buildx and containerd name
/// images, and as `skopeo … oci:DIR:REF` reads them): `DIR:REF` splits at the colon whose
/// left side is the layout, not at the last colon of all.
#[test]
fn a_ref_name_with_colons_selects_its_entry() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1", "v2"]);
    let name = "registry.example:5000/team/app:1.0";
    edit_index(&layout, |t| {
        t.replace(
            r#""org.opencontainers.image.ref.name":"v1""#,
            &format!(r#""org.opencontainers.image.ref.name":"{name}""#),
        )
    });
    let old_index = index_json(&layout);
    let old = digest_of(entry(&old_index, name));
    let target = format!("{}:{name}", layout.display());

    sb.stamp(["validate", &target]).run().ok().quiet();
    let out = annotate(&repo, &[&target]);
    out.ok().quiet();
    let index = index_json(&layout);
    let new = digest_of(entry(&index, name));
    assert_eq!(
        out.stdout,
        format!("{}: manifest {old} -> {new}\n", layout.display())
    );
    assert_eq!(entry(&index, "v2"), entry(&old_index, "v2"));
    let raw = json(&skopeo(
        &sb,
        &["inspect", "--raw", &oci(&layout, Some(name))],
    ));
    assert_eq!(annotations(&raw), base(&repo));
    assert_blobs_intact(&layout);

    // A ref that is in no entry still names the others.
    let out = annotate(
        &repo,
        &[&format!("{}:registry.example:5000/x:1", layout.display())],
    );
    out.status(2);
    assert!(
        out.stderr.contains(&format!("there are: {name}, v2")),
        "{out}"
    );
}

/// Every descriptor of `doc` (and `index.json`) that embeds `data` embeds the content its
/// digest and size name.
fn assert_data_matches(descriptors: &[&Value]) {
    use base64::Engine as _;
    for d in descriptors {
        let data = d["data"].as_str().expect("a data member");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("data is base64");
        assert_eq!(sha256(&bytes), digest_of(d), "data of {d}");
        assert_eq!(Some(bytes.len() as u64), d["size"].as_u64(), "size of {d}");
    }
}

/// A descriptor may embed its content in `data` (image-spec v1.1), which must then match
/// its digest: when the manifest changes, the copy changes with it, in an index and in
/// index.json alike.
#[test]
fn embedded_descriptor_data_follows_the_new_digest() {
    use base64::Engine as _;
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let index = index_json(&layout);
    let manifest = digest_of(entry(&index, "v1"));
    let manifest_bytes = read(&blob(&layout, &manifest));
    let data = base64::engine::general_purpose::STANDARD.encode(&manifest_bytes);
    // An index naming the manifest, with its bytes embedded, and index.json entries for
    // both, each with `data`.
    let child = serde_json::json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest,
        "size": manifest_bytes.len(),
        "data": data,
        "platform": {"architecture": "amd64", "os": "linux"},
    });
    let index_text = serde_json::to_string_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [child],
    }))
    .expect("serialise");
    let index_digest = sha256(index_text.as_bytes());
    fs::write(blob(&layout, &index_digest), &index_text).expect("write index blob");
    let index_data = base64::engine::general_purpose::STANDARD.encode(index_text.as_bytes());
    edit_index(&layout, |t| {
        let mut v = json(&t);
        let entries = v["manifests"].as_array_mut().expect("manifests");
        entries[0]["data"] = Value::String(data.clone());
        entries.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": index_digest,
            "size": index_text.len(),
            "data": index_data,
            "annotations": {"org.opencontainers.image.ref.name": "multi"},
        }));
        serde_json::to_string(&v).expect("serialise")
    });

    let out = annotate(&repo, &["--level", "manifest,index", s(&layout)]);
    out.ok().quiet();
    let index = index_json(&layout);
    let (v1, multi) = (entry(&index, "v1"), entry(&index, "multi"));
    assert_ne!(digest_of(v1), manifest, "{out}");
    assert_ne!(digest_of(multi), index_digest, "{out}");
    let new_index = json(&blob_text(&layout, &digest_of(multi)));
    assert_data_matches(&[v1, multi, &new_index["manifests"][0]]);
    assert_eq!(digest_of(&new_index["manifests"][0]), digest_of(v1));
    assert_blobs_intact(&layout);
    umoci_stat(&sb, &layout, "v1");
    let out_layout = sb.path().join("copy");
    skopeo(
        &sb,
        &[
            "copy",
            "--all",
            &oci(&layout, Some("multi")),
            &oci(&out_layout, Some("multi")),
        ],
    );
    sb.stamp(["validate", s(&layout)]).run().ok().quiet();
}

/// The last access time of a file.
fn accessed(path: &Path) -> std::time::SystemTime {
    fs::metadata(path)
        .and_then(|m| m.accessed())
        .expect("access time")
}

/// Sets a file's access time to 2001, before its modification time, so that reading it
/// moves the access time even under `relatime`.
fn age_access_time(path: &Path) {
    let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_times(fs::FileTimes::new().set_accessed(old)))
        .expect("set access time");
}

/// `--gc` finds what is reachable by reading manifests and indexes, not layers: a
/// reachable 1 GiB layer (sparse here) is kept without being read (its access time stays
/// where it was; the walk used to read every reachable blob whole into memory).
#[test]
fn gc_does_not_read_layers() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let old = digest_of(entry(&index_json(&layout), "v1"));
    let old_size = read(&blob(&layout, &old)).len();
    let mut manifest = json(&blob_text(&layout, &old));
    let big = sha256(b"a 1 GiB layer");
    fs::File::create(blob(&layout, &big))
        .and_then(|f| f.set_len(1 << 30))
        .expect("sparse layer");
    manifest["layers"]
        .as_array_mut()
        .expect("layers")
        .push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": big,
            "size": 1u64 << 30,
        }));
    let text = serde_json::to_string(&manifest).expect("serialise");
    let digest = sha256(text.as_bytes());
    fs::write(blob(&layout, &digest), &text).expect("write manifest");
    edit_index(&layout, |t| {
        t.replace(&old, &digest).replace(
            &format!("\"size\":{old_size}"),
            &format!("\"size\":{}", text.len()),
        )
    });
    let junk = b"left behind\n";
    fs::write(blob(&layout, &sha256(junk)), junk).expect("write junk blob");

    // Whether this filesystem records reads at all (not under `noatime`).
    let probe = sb.path().join("probe");
    fs::write(&probe, "x").expect("write probe");
    age_access_time(&probe);
    let before = accessed(&probe);
    read(&probe);
    let records_reads = accessed(&probe) != before;
    age_access_time(&blob(&layout, &big));
    let layer_seen = accessed(&blob(&layout, &big));

    let out = annotate(&repo, &["--gc", s(&layout)]);
    out.ok().quiet();
    let blobs = blob_set(&layout);
    assert!(blobs.contains(&big), "the layer is reachable: {out}");
    assert!(!blobs.contains(&sha256(junk)), "{out}");
    assert!(!blobs.contains(&digest), "the old manifest goes: {out}");
    if records_reads {
        assert_eq!(
            accessed(&blob(&layout, &big)),
            layer_seen,
            "--gc read the layer\n{out}"
        );
    } else {
        eprintln!("note: this filesystem does not record reads; the layer check is vacuous");
    }
}

/// Stamping only `index.json` descriptors changes no blob, but it changes index.json: the
/// report says so (it said `unchanged`, after writing), and `--dry-run` shows it too.
#[test]
fn index_descriptor_only_is_reported_as_a_change_of_index_json() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1", "v2"]);
    let index_path = layout.join("index.json");
    let old_text = read_text(&index_path);
    let target = format!("{}:v2", layout.display());
    let args = ["--level", "index-descriptor", "-a", "com.example.d=1"];

    let before = snapshot(&layout);
    let mut dry = args.to_vec();
    dry.extend(["--dry-run", &target]);
    let out = annotate(&repo, &dry);
    out.ok().quiet();
    assert_eq!(snapshot(&layout), before, "a dry run writes nothing");
    let planned = out.stdout.clone();

    let mut real = args.to_vec();
    real.push(&target);
    let out = annotate(&repo, &real);
    out.ok().quiet();
    let new_text = read_text(&index_path);
    assert_ne!(new_text, old_text);
    let line = format!(
        "{}: index.json {} -> {}\n",
        layout.display(),
        sha256(old_text.as_bytes()),
        sha256(new_text.as_bytes())
    );
    assert_eq!(out.stdout, line);
    assert_eq!(
        planned,
        format!("{line}{}: dry run, nothing written\n", layout.display())
    );
    let index = json(&new_text);
    assert_eq!(
        annotations(entry(&index, "v2")).get("com.example.d"),
        Some(&"1".to_string())
    );
    assert_eq!(
        annotations(entry(&index, "v1")),
        annotations(entry(&json(&old_text), "v1"))
    );
    umoci_stat(&sb, &layout, "v2");

    // Again: nothing to do, and it says so.
    let out = annotate(&repo, &real);
    out.ok().quiet();
    assert_eq!(out.stdout, format!("{}: unchanged\n", layout.display()));
    assert_eq!(read_text(&index_path), new_text);
}

/// Images named the way skopeo names them (`oci:DIR:REF`, `oci-archive:FILE`), and an
/// archive given as a file, are refused with what to give instead, not `No such file` or
/// `not UTF-8 text`; nothing is written.
#[test]
fn skopeo_style_names_and_archives_are_refused_with_what_to_give() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let archive = sb.path().join("image.tar");
    skopeo(
        &sb,
        &[
            "copy",
            "-q",
            &oci(&layout, Some("v1")),
            &format!("oci-archive:{}", archive.display()),
        ],
    );
    let before = snapshot(&layout);
    let archive_before = read(&archive);

    let out = annotate(&repo, &[&format!("oci:{}:v1", layout.display())]);
    out.status(2);
    assert!(
        out.stderr.contains(&format!(
            "is a skopeo image name, not a path: an OCI layout is given as DIR or DIR:REF, without `oci:`: `{}:v1`",
            layout.display()
        )),
        "{out}"
    );
    let out = annotate(&repo, &[&format!("oci-archive:{}", archive.display())]);
    out.status(2);
    assert!(out.stderr.contains("tar -xf FILE -C DIR"), "{out}");
    let out = annotate(&repo, &[s(&archive)]);
    out.status(2);
    assert!(
        out.stderr.contains(
            "image.tar: a tar archive, not a manifest: an oci-archive unpacks into a layout"
        ),
        "{out}"
    );
    let out = sb
        .stamp(["validate", &format!("oci:{}", layout.display())])
        .run();
    out.status(2);
    assert!(out.stderr.contains("without `oci:`"), "{out}");
    assert_eq!(snapshot(&layout), before);
    assert_eq!(read(&archive), archive_before);
}

/// A blob named by a sha512 digest (the other algorithm the image-spec registers) is checked
/// against it like a sha256 one: a tampered copy is reported and nothing is written (it
/// used to be stamped unchecked); an intact one is stamped, its new blob named by sha256.
#[test]
fn sha512_blobs_are_checked_against_their_digest() {
    use sha2::{Digest as _, Sha512};
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let manifest = read(&blob(
        &layout,
        &digest_of(entry(&index_json(&layout), "v1")),
    ));
    let sha512 = |bytes: &[u8]| -> String {
        let hex: String = Sha512::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("sha512:{hex}")
    };
    fs::create_dir_all(layout.join("blobs/sha512")).expect("blobs/sha512");
    let put = |name: &str, digest: &str, bytes: &[u8]| {
        fs::write(
            layout.join("blobs/sha512").join(&digest["sha512:".len()..]),
            bytes,
        )
        .expect("write sha512 blob");
        edit_index(&layout, |t| {
            let mut v = json(&t);
            v["manifests"]
                .as_array_mut()
                .expect("manifests")
                .push(serde_json::json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": digest,
                    "size": bytes.len(),
                    "annotations": {"org.opencontainers.image.ref.name": name},
                }));
            serde_json::to_string(&v).expect("serialise")
        });
    };
    let good = sha512(&manifest);
    put("good", &good, &manifest);
    let tampered = String::from_utf8(manifest.clone())
        .expect("UTF-8")
        .replacen("\"schemaVersion\":2", "\"schemaVersion\":3", 1);
    let claimed = sha512(b"what the blob should have held");
    put("tampered", &claimed, tampered.as_bytes());

    let before = snapshot(&layout);
    let out = annotate(&repo, &[&format!("{}:tampered", layout.display())]);
    out.status(2);
    assert!(
        out.stderr.contains(&format!(
            "content does not match its digest (it hashes to {})",
            sha512(tampered.as_bytes())
        )),
        "{out}"
    );
    assert_eq!(snapshot(&layout), before, "nothing written");

    let out = annotate(&repo, &[&format!("{}:good", layout.display())]);
    out.ok().quiet();
    let new = digest_of(entry(&index_json(&layout), "good"));
    assert!(new.starts_with("sha256:"), "{new}");
    assert_eq!(
        out.stdout,
        format!("{}: manifest {good} -> {new}\n", layout.display())
    );
    assert_eq!(annotations(&json(&blob_text(&layout, &new))), base(&repo));
    assert_blobs_intact(&layout);
}

/// Platforms in levels compare as buildx compares them: `manifest[linux/arm64/v8]` selects
/// the manifest of an `arm64` descriptor that names no variant (as most do), and
/// `linux/aarch64` is `linux/arm64`. Both were refused as `level-not-found`.
#[test]
fn platform_levels_match_as_buildx_normalises_them() {
    if !have("umoci") || !have("skopeo") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["amd", "arm"]);
    let index = index_json(&layout);
    let descriptor = |tag: &str, arch: &str| {
        let e = entry(&index, tag);
        serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": e["digest"],
            "size": e["size"],
            "platform": {"architecture": arch, "os": "linux"},
        })
    };
    let multi = serde_json::to_string(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [descriptor("amd", "amd64"), descriptor("arm", "arm64")],
    }))
    .expect("serialise");
    let multi_digest = sha256(multi.as_bytes());
    fs::write(blob(&layout, &multi_digest), &multi).expect("write index");
    edit_index(&layout, |t| {
        let mut v = json(&t);
        v["manifests"]
            .as_array_mut()
            .expect("manifests")
            .push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": multi_digest,
                "size": multi.len(),
                "annotations": {"org.opencontainers.image.ref.name": "multi"},
            }));
        serde_json::to_string(&v).expect("serialise")
    });
    let (amd, arm) = (
        digest_of(entry(&index, "amd")),
        digest_of(entry(&index, "arm")),
    );
    let target = format!("{}:multi", layout.display());

    for level in ["manifest[linux/arm64/v8]", "manifest[linux/aarch64]"] {
        let out = annotate(&repo, &["--dry-run", "--level", level, &target]);
        out.ok().quiet();
        assert!(
            out.stdout
                .contains(&format!("manifest linux/arm64 {arm} -> ")),
            "{level}: {out}"
        );
        assert!(!out.stdout.contains(&amd), "{level}: {out}");
    }
    let out = annotate(&repo, &["--level", "manifest[linux/arm64/v8]", &target]);
    out.ok().quiet();
    let raw = json(&skopeo(
        &sb,
        &["inspect", "--raw", &oci(&layout, Some("multi"))],
    ));
    let (new_amd, new_arm) = (
        digest_of(&raw["manifests"][0]),
        digest_of(&raw["manifests"][1]),
    );
    assert_eq!(new_amd, amd, "the amd64 manifest is left alone");
    assert_ne!(new_arm, arm);
    assert_eq!(
        annotations(&json(&blob_text(&layout, &new_arm))),
        base(&repo)
    );
    // A variant the image does not have is still refused.
    let out = annotate(&repo, &["--level", "manifest[linux/arm64/v9]", &target]);
    out.status(1);
    assert_eq!(out.codes(), ["level-not-found"], "{out}");
    assert_blobs_intact(&layout);
}

/// A signature or SBOM listed inside an image index (beside the manifest it is about, not
/// only in index.json) is named when that manifest's digest changes: its `subject` now
/// refers to the old digest. It was only counted as an artifact left alone.
#[test]
fn a_referrer_inside_an_index_is_named_when_its_subject_changes() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let index = index_json(&layout);
    let subject = entry(&index, "v1").clone();
    let put = |bytes: &[u8]| -> (String, usize) {
        let d = sha256(bytes);
        fs::write(blob(&layout, &d), bytes).expect("write blob");
        (d, bytes.len())
    };
    let (empty, empty_size) = put(b"{}");
    let (sbom, sbom_size) = put(br#"{"spdxVersion":"SPDX-2.3"}"#);
    let artifact = serde_json::to_string(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/spdx+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": empty_size},
        "layers": [{"mediaType": "application/spdx+json", "digest": sbom, "size": sbom_size}],
        "subject": {"mediaType": subject["mediaType"], "digest": subject["digest"], "size": subject["size"]},
    }))
    .expect("serialise");
    let (artifact_digest, artifact_size) = put(artifact.as_bytes());
    let image_index = serde_json::to_string(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": subject["mediaType"], "digest": subject["digest"], "size": subject["size"],
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": artifact_digest,
             "size": artifact_size, "artifactType": "application/spdx+json"},
        ],
    }))
    .expect("serialise");
    let (index_digest, index_size) = put(image_index.as_bytes());
    edit_index(&layout, |_| {
        serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": index_digest, "size": index_size,
                "annotations": {"org.opencontainers.image.ref.name": "multi"}}],
        })
        .to_string()
    });

    let old = digest_of(&subject);
    let out = annotate(&repo, &[s(&layout)]);
    out.ok();
    assert_eq!(out.codes(), ["subject-stale", "artifacts-skipped"], "{out}");
    assert!(
        out.line("subject-stale").contains(&format!(
            "{}: {artifact_digest} (a signature or attestation) refers to {old}, whose digest changed",
            layout.display()
        )),
        "{out}"
    );
    let new_index = json(&blob_text(
        &layout,
        &digest_of(&index_json(&layout)["manifests"][0]),
    ));
    assert_ne!(digest_of(&new_index["manifests"][0]), old);
    assert_eq!(
        new_index["manifests"][1]["digest"], artifact_digest,
        "the artifact is left as it is"
    );
    assert_blobs_intact(&layout);
}

/// A layout's blob given as a manifest file is refused (exit 2, nothing written): its name
/// is its digest, and rewriting it in place left a layout whose manifest no longer matched
/// its digest (`umoci stat` then failed). From inside `blobs/sha256` too.
#[test]
fn a_blob_of_a_layout_is_not_rewritten_as_a_file() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let digest = digest_of(entry(&index_json(&layout), "v1"));
    let file = blob(&layout, &digest);
    let before = snapshot(&layout);
    let out = annotate(&repo, &[s(&file)]);
    out.status(2);
    assert!(
        out.stderr.contains(&format!(
            "a blob of the OCI image layout {}: its name is its digest, so it cannot change in place",
            layout.display()
        )),
        "{out}"
    );
    let hex = &digest["sha256:".len()..];
    let out = repo
        .stamp(["annotate", "--created", EPOCH, "-C", s(&repo.path), hex])
        .current_dir(&layout.join("blobs/sha256"))
        .run();
    out.status(2);
    assert!(out.stderr.contains("annotate the layout instead"), "{out}");
    assert_eq!(snapshot(&layout), before, "nothing written");
    umoci_stat(&sb, &layout, "v1");

    // The same bytes outside a layout are a manifest file like any other.
    let copy = sb.path().join(hex);
    fs::write(&copy, read(&file)).expect("copy");
    annotate(&repo, &[s(&copy)]).ok().quiet();
    assert_eq!(annotations(&json(&read_text(&copy))), base(&repo));
}

/// Targets are stamped one after the other; when one fails (exit 2) the run stops there,
/// and what the targets before it wrote is still reported. It was written but never said.
#[test]
fn an_error_on_a_later_target_still_reports_what_was_written() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1", "v2"]);
    let broken = umoci_layout(&sb, "broken", &["v1"]);
    edit_index(&broken, |t| t[..t.len() / 2].to_string());
    let old = digest_of(entry(&index_json(&layout), "v1"));
    let v2 = entry(&index_json(&layout), "v2").clone();

    let first = format!("{}:v1", layout.display());
    let last = format!("{}:v2", layout.display());
    let out = annotate(&repo, &[&first, s(&broken), &last]);
    out.status(2);
    let new = digest_of(entry(&index_json(&layout), "v1"));
    assert_ne!(new, old);
    assert_eq!(
        out.stdout,
        format!("{}: manifest {old} -> {new}\n", layout.display())
    );
    assert!(out.stderr.contains("index.json: invalid JSON"), "{out}");
    assert_eq!(
        entry(&index_json(&layout), "v2"),
        &v2,
        "the run stopped at the error"
    );

    let out = annotate(&repo, &["--format", "json", &last, s(&broken)]);
    out.status(2);
    let report = out.json();
    assert_eq!(report[0]["written"], true, "{out}");
    assert_eq!(report[0]["changes"][0]["old"], digest_of(&v2), "{out}");
}

/// `--dry-run --gc` says which blobs a real run would remove (the old manifest it would
/// replace, and what was unreachable already), and removes none; it said nothing.
#[test]
fn dry_run_gc_names_what_a_real_run_removes() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = umoci_layout(&sb, "layout", &["v1"]);
    let old = digest_of(entry(&index_json(&layout), "v1"));
    let junk = b"left behind by some tool\n";
    fs::write(blob(&layout, &sha256(junk)), junk).expect("write junk blob");
    let before = snapshot(&layout);

    let out = annotate(&repo, &["--dry-run", "--gc", s(&layout)]);
    out.ok().quiet();
    assert_eq!(snapshot(&layout), before, "a dry run removes nothing");
    let would: BTreeSet<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": would remove unreachable blob "))
        .map(|(_, d)| d.to_string())
        .collect();
    assert_eq!(would, BTreeSet::from([old.clone(), sha256(junk)]), "{out}");

    let out = annotate(&repo, &["--gc", s(&layout)]);
    out.ok().quiet();
    let removed: BTreeSet<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split_once(": removed unreachable blob "))
        .map(|(_, d)| d.to_string())
        .collect();
    assert_eq!(removed, would, "{out}");
    assert!(!blob_set(&layout).contains(&old));
    umoci_stat(&sb, &layout, "v1");
}

/// `--gc` refuses (exit 2, nothing written, nothing removed, dry run or not) when a manifest
/// or index that index.json still reaches cannot be read as JSON (a byte-order mark, bytes
/// that are not UTF-8, JSON cut short), naming that blob: it cannot tell what the document
/// refers to. It took the document for one that refers to nothing, and removed the config
/// and layers only it refers to. Without `--gc` the run is not concerned.
#[test]
fn gc_refuses_when_a_reachable_document_cannot_be_read() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let made = umoci_layout(&sb, "made", &["v1", "v2"]);
    let v2 = digest_of(entry(&index_json(&made), "v2"));
    type Damage = fn(Vec<u8>) -> Vec<u8>;
    let damages: [(&str, Damage); 3] = [
        ("a byte-order mark", |b| {
            [b"\xef\xbb\xbf".as_slice(), &b].concat()
        }),
        ("not UTF-8", |mut b| {
            let at = b.len() / 2;
            b[at] = 0xff;
            b
        }),
        ("cut short", |b| b[..b.len() / 2].to_vec()),
    ];
    for (what, damage) in damages {
        let layout = sb.path().join(what.replace(' ', "-"));
        copy_tree(&made, &layout);
        let path = blob(&layout, &v2);
        fs::write(&path, damage(read(&path))).expect("damage the v2 manifest");
        let before = snapshot(&layout);
        let v1 = format!("{}:v1", layout.display());
        for dry_run in [false, true] {
            let mut args = vec!["--gc", v1.as_str()];
            if dry_run {
                args.insert(0, "--dry-run");
            }
            let out = annotate(&repo, &args);
            out.status(2);
            assert_eq!(out.stdout, "", "{what}: {out}");
            let errors: Vec<&str> = out
                .stderr_lines()
                .into_iter()
                .filter(|l| l.starts_with("error"))
                .collect();
            assert_eq!(errors.len(), 1, "{what}: {out}");
            assert!(
                errors[0].contains(&v2) && errors[0].contains("--gc"),
                "{what}: {out}"
            );
            assert_eq!(
                snapshot(&layout),
                before,
                "{what}, dry run {dry_run}: {out}"
            );
        }
        annotate(&repo, &[&v1]).ok();
        assert_ne!(snapshot(&layout), before, "{what}");
    }
}

/// The text report of `annotate` shows control characters escaped, as diagnostics do, in
/// every field: an object name or a path holding a line break (`a\n::error::x`) stays on
/// its line of standard output, where a GitHub runner would have read the next line as a
/// workflow command.
/// Errors and diagnostics on standard error are one line each too: a path or name with a
/// line break in it cannot start a line of its own (a CI runner reads `::error::` lines on
/// both streams as commands).
#[test]
fn error_lines_escape_control_characters() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let bad = sb.path().join("bad\n::error::y.yaml");
    fs::write(&bad, "a: [unclosed\n").expect("write YAML");
    let missing = sb.path().join("missing\r\n::warning::z.yaml");
    for target in [&bad, &missing] {
        let out = annotate(&repo, &["-a", "com.example.k=v", s(target)]);
        assert!(!out.stderr.is_empty(), "{out}");
        for line in out.stderr.lines() {
            assert!(
                ["error", "warning", "note"]
                    .iter()
                    .any(|p| line.starts_with(p)),
                "a line of its own on stderr: {line:?}\n{out}"
            );
        }
    }
}

#[test]
fn the_text_report_escapes_control_characters() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let dir = sb.path().join("in\n::error::dir");
    fs::create_dir(&dir).expect("directory");
    let yaml = dir.join("app\r\n::warning::file.yaml");
    fs::write(
        &yaml,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"a\\n::error::x\\r\\e[31m\\N\\u009b\\t\"\n",
    )
    .expect("write YAML");
    let layout = sb.path().join("layout\n::notice::n");
    crate::secrets::tiny_layout(&layout);
    let junk = b"left behind\n";
    fs::write(blob(&layout, &sha256(junk)), junk).expect("junk blob");
    for dry_run in [true, false] {
        let mut args = vec!["--gc", s(&yaml), s(&layout)];
        if dry_run {
            args.insert(0, "--dry-run");
        }
        let out = annotate(&repo, &args);
        out.ok();
        let dir = sb.path().join("in\\n::error::dir").display().to_string();
        let layout = sb.path().join("layout\\n::notice::n").display().to_string();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(
            lines[0],
            format!(
                "{dir}/app\\r\\n::warning::file.yaml: stamped ConfigMap/a\\n::error::x\\r\\u{{1b}}[31m\\u{{85}}\\u{{9b}}\\t"
            ),
            "{out}"
        );
        // The YAML file's line (and `dry run, nothing written`), then the layout's:
        // its manifest, the two blobs `--gc` removes (and `dry run, nothing written`).
        let yaml_lines = if dry_run { 2 } else { 1 };
        assert!(
            lines[yaml_lines..]
                .iter()
                .all(|l| l.starts_with(&format!("{layout}: "))),
            "{out}"
        );
        assert_eq!(lines.len(), if dry_run { 6 } else { 4 }, "{out}");
        assert!(
            !out.stdout
                .contains(['\r', '\u{1b}', '\u{85}', '\u{9b}', '\t']),
            "{out}"
        );
    }
}

/// `--gc` with nothing to collect from (a manifest file, Kubernetes YAML, a registry) is a
/// usage error, as `--tag` without a registry target is, rather than silently ignored.
#[test]
fn gc_without_a_layout_is_a_usage_error() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let yaml = sb.path().join("cm.yaml");
    fs::write(
        &yaml,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
    )
    .expect("write");
    for target in [s(&yaml), "docker://127.0.0.1:1/none/image:1"] {
        let out = annotate(&repo, &["--gc", target]);
        out.status(2);
        assert!(
            out.stderr
                .contains("--gc applies to OCI image layouts only"),
            "{out}"
        );
    }
    assert!(!read_text(&yaml).contains("annotations"), "nothing written");
}

/// A descriptor in `index.json` that names a layer-sized blob as a manifest is refused
/// before the blob is read into memory (registries take manifests up to 4 MiB).
#[test]
fn a_descriptor_naming_a_huge_blob_is_refused_unread() {
    let sb = Sandbox::new();
    let repo = repo(&sb);
    let layout = sb.path().join("huge");
    fs::create_dir_all(layout.join("blobs/sha256")).expect("layout dirs");
    fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .expect("oci-layout");
    let big = vec![b' '; 5 * 1024 * 1024];
    let digest = sha256(&big);
    fs::write(blob(&layout, &digest), &big).expect("big blob");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":{}}}]}}"#,
        big.len()
    );
    fs::write(layout.join("index.json"), &index).expect("index.json");
    let out = annotate(&repo, &[s(&layout)]);
    out.status(2);
    assert!(
        out.stderr.contains("5242880 bytes is no manifest or index"),
        "{out}"
    );
    assert_eq!(
        read_text(&layout.join("index.json")),
        index,
        "nothing written"
    );
}
