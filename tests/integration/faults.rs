//! Faults: `annotate` killed at random points, a full disk, a read-only directory, symbolic
//! links and directories where files should be, and twenty concurrent runs on one target.
//!
//! After each, the target is the old version or the new one, byte for byte — never a mix —
//! every blob in a layout hashes to its name, `umoci stat` reads the image, nothing was
//! written outside the target, and a later run is not tripped up by what the failed one left.
//!
//! The disk-full and read-only cases mount a small tmpfs, which needs root (as `.ci/run`
//! has); elsewhere they are skipped with a note. umoci is needed as in `annotate.rs`: a test
//! fails under CI (`CI` set) when it is missing, and is skipped with a note elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{have, sha256, Output, Rng, Sandbox, BIN};

/// What every run passes as `--created`.
const EPOCH: &str = "@1704164645";

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create directory");
    for entry in fs::read_dir(from).expect("read directory") {
        let entry = entry.expect("entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).expect("copy file");
        }
    }
}

/// Every file under `dir` (symbolic links as their target path) and its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in fs::read_dir(dir)
            .expect("read directory")
            .filter_map(Result::ok)
        {
            let path = e.path();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            let rel = path.strip_prefix(root).expect("under root").to_path_buf();
            if meta.file_type().is_symlink() {
                let to = fs::read_link(&path).expect("read link");
                out.insert(rel, format!("-> {}", to.display()).into_bytes());
            } else if meta.is_dir() {
                out.insert(rel.join(""), b"dir".to_vec());
                walk(root, &path, out);
            } else {
                out.insert(rel, read(&path));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The temporary files of oci-stamp's atomic writes under `dir`.
fn temp_files(dir: &Path) -> Vec<PathBuf> {
    tree(dir)
        .into_keys()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".oci-stamp-") && n.ends_with(".tmp"))
        })
        .collect()
}

/// Every blob's sha256 is its file name (temporary files aside).
fn assert_blobs_intact(layout: &Path) {
    for e in fs::read_dir(layout.join("blobs/sha256")).expect("read blobs") {
        let path = e.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).expect("name");
        if name.starts_with('.') {
            continue;
        }
        assert_eq!(
            sha256(&read(&path)),
            format!("sha256:{name}"),
            "blob {} does not hash to its name",
            path.display()
        );
    }
}

/// `umoci init`, one image (`umoci new`, a file inserted), `umoci gc`; then `copies` more
/// tags, each a copy of that manifest told apart by an annotation, so that `annotate` has
/// many blobs to write.
fn umoci_layout(sb: &Sandbox, name: &str, copies: usize) -> PathBuf {
    let layout = sb.path().join(name);
    sb.tool("umoci", &["init", "--layout", s(&layout)]);
    let image = format!("{}:v0", layout.display());
    sb.tool("umoci", &["new", "--image", &image]);
    let file = sb.path().join(format!("{name}-hello.txt"));
    fs::write(&file, "hello\n").expect("write file");
    sb.tool(
        "umoci",
        &[
            "insert",
            "--rootless",
            "--image",
            &image,
            s(&file),
            "/hello.txt",
        ],
    );
    sb.tool("umoci", &["gc", "--layout", s(&layout)]);
    let index_path = layout.join("index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&read(&index_path)).expect("index.json");
    let entry = index["manifests"][0].clone();
    let digest = entry["digest"].as_str().expect("digest").to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&layout.join("blobs/sha256").join(&digest[7..])))
            .expect("manifest");
    for i in 1..=copies {
        let mut m = manifest.clone();
        m["annotations"] = serde_json::json!({ "com.example.copy": i.to_string() });
        let bytes = serde_json::to_vec_pretty(&m).expect("serialise");
        let d = sha256(&bytes);
        fs::write(layout.join("blobs/sha256").join(&d[7..]), &bytes).expect("write blob");
        let mut e = entry.clone();
        e["digest"] = d.into();
        e["size"] = bytes.len().into();
        e["annotations"]["org.opencontainers.image.ref.name"] = format!("v{i}").into();
        index["manifests"]
            .as_array_mut()
            .expect("manifests")
            .push(e);
    }
    fs::write(
        &index_path,
        serde_json::to_vec_pretty(&index).expect("serialise"),
    )
    .expect("write index.json");
    layout
}

fn umoci_stat(sb: &Sandbox, layout: &Path, tag: &str) {
    sb.tool(
        "umoci",
        &["stat", "--image", &format!("{}:{tag}", layout.display())],
    );
}

/// `oci-stamp annotate --created … ARGS` in the sandbox.
fn annotate(sb: &Sandbox, args: &[&str]) -> Output {
    let mut all = vec!["annotate", "--created", EPOCH];
    all.extend_from_slice(args);
    sb.stamp(all).run()
}

/// Kubernetes objects enough to make the rewrite take a while.
fn big_yaml(objects: usize) -> String {
    let mut text = String::from("# many objects\n");
    for i in 0..objects {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\n  labels:\n    app: demo # keep\ndata:\n  key: \"value {i}\"\n"
        ));
    }
    text
}

/// Starts `oci-stamp ARGS` and kills it with SIGKILL after `delay`; true when the kill came
/// before it ended by itself.
fn run_and_kill(sb: &Sandbox, args: &[&str], delay: Duration) -> bool {
    let mut child = sb
        .command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start oci-stamp");
    std::thread::sleep(delay);
    let killed = matches!(child.try_wait(), Ok(None));
    let _ = child.kill();
    let status = child.wait().expect("wait");
    killed && status.code().is_none()
}

/// How long a complete run takes, the median of three.
fn duration_of(sb: &Sandbox, prepare: &dyn Fn(), args: &[&str]) -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            prepare();
            let start = Instant::now();
            let out = sb.stamp(args).run();
            out.ok();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[1]
}

/// Kills `annotate` on `target` at random points, `runs` times; after each, `check` says
/// whether the target is the old version (`false`) or the new one (`true`) and panics if it
/// is neither. Returns how many ended old and new.
fn kill_repeatedly(
    sb: &Sandbox,
    args: &[&str],
    runs: usize,
    prepare: &dyn Fn(),
    check: &dyn Fn() -> bool,
) -> (usize, usize) {
    let full = duration_of(sb, prepare, args);
    let mut rng = Rng(0x5eed);
    let (mut old, mut new) = (0, 0);
    for _ in 0..runs {
        prepare();
        // Anywhere from the start to a little past the end of a complete run.
        let micros = full.as_micros() as u64 * 5 / 4;
        let delay = Duration::from_micros(rng.next() % micros.max(1));
        run_and_kill(sb, args, delay);
        if check() {
            new += 1;
        } else {
            old += 1;
        }
    }
    (old, new)
}

#[test]
fn a_killed_annotate_leaves_a_layout_old_or_new() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let pristine = umoci_layout(&sb, "pristine", 24);
    let layout = sb.path().join("layout");
    let reset = || {
        let _ = fs::remove_dir_all(&layout);
        copy_tree(&pristine, &layout);
    };
    let args = [
        "annotate",
        "--created",
        EPOCH,
        "-a",
        "com.example.k=v",
        s(&layout),
    ];
    // The new version: what a complete run writes.
    reset();
    let old_index = read(&layout.join("index.json"));
    sb.stamp(args).run().ok();
    let new_index = read(&layout.join("index.json"));
    assert_ne!(old_index, new_index);

    let blobs = |dir: &Path| {
        fs::read_dir(dir.join("blobs/sha256"))
            .expect("blobs")
            .count()
    };
    let pristine_blobs = blobs(&pristine);
    // Runs killed between their first blob and index.json: the old version, and new blobs
    // (or temporary files) that nothing refers to yet.
    let midway = std::cell::Cell::new(0);
    let check = || {
        let index = read(&layout.join("index.json"));
        assert!(
            index == old_index || index == new_index,
            "index.json is neither the old nor the new version:\n{}",
            String::from_utf8_lossy(&index)
        );
        assert_blobs_intact(&layout);
        umoci_stat(&sb, &layout, "v0");
        umoci_stat(&sb, &layout, "v24");
        if index == old_index && blobs(&layout) > pristine_blobs {
            midway.set(midway.get() + 1);
        }
        index == new_index
    };
    let (old, new) = kill_repeatedly(&sb, &args, 40, &reset, &check);
    eprintln!(
        "note: killed layout runs: {old} left the old version ({} of them midway, with new blobs), {new} the new",
        midway.get()
    );

    // A later run over what a killed one left: the new version, and no temporary files.
    for _ in 0..5 {
        reset();
        run_and_kill(&sb, &args, Duration::from_millis(2));
        let out = sb.stamp(args).run();
        out.ok();
        assert_eq!(read(&layout.join("index.json")), new_index, "{out}");
        assert_eq!(temp_files(&layout), Vec::<PathBuf>::new());
        assert_blobs_intact(&layout);
        umoci_stat(&sb, &layout, "v24");
    }
}

#[test]
fn a_killed_annotate_leaves_a_yaml_file_old_or_new() {
    let sb = Sandbox::new();
    let dir = sb.dir("deploy", &[]);
    let file = dir.join("objects.yaml");
    let old_text = big_yaml(30);
    let reset = || fs::write(&file, &old_text).expect("write YAML");
    let args = [
        "annotate",
        "--created",
        EPOCH,
        "-a",
        "com.example/k=v",
        s(&file),
    ];
    reset();
    sb.stamp(args).run().ok();
    let new_text = fs::read_to_string(&file).expect("read");
    assert_ne!(old_text, new_text);
    let check = || {
        let text = fs::read_to_string(&file).expect("read");
        assert!(
            text == old_text || text == new_text,
            "the YAML file is neither the old nor the new version ({} bytes)",
            text.len()
        );
        text == new_text
    };
    let (old, new) = kill_repeatedly(&sb, &args, 20, &reset, &check);
    eprintln!("note: killed YAML runs: {old} left the old version, {new} the new");

    // A later run removes what killed ones left, and stamps.
    reset();
    let out = sb.stamp(args).run();
    out.ok();
    assert_eq!(fs::read_to_string(&file).expect("read"), new_text);
    assert_eq!(temp_files(&dir), Vec::<PathBuf>::new(), "{out}");
}

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// `None` (with a note) where mounting is not possible: not root, or no permission.
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).expect("create mount point");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let mounted = root
            && Command::new("mount")
                .args([
                    "-t",
                    "tmpfs",
                    "-o",
                    &format!("size={size},mode=0755"),
                    "tmpfs",
                ])
                .arg(at)
                .status()
                .is_ok_and(|s| s.success());
        if !mounted {
            assert!(
                !(root && std::env::var_os("CI").is_some()),
                "cannot mount a tmpfs as root under CI"
            );
            eprintln!("note: cannot mount a tmpfs (needs root); skipping this test");
            return None;
        }
        Some(Tmpfs(at.to_path_buf()))
    }

    fn remount(&self, option: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{option}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "mount -o remount,{option} {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` until `keep` bytes are left (about: tmpfs counts pages).
fn fill(dir: &Path, keep: usize) -> PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut f = fs::File::create(&filler).expect("create filler");
    let page = vec![0u8; 4096];
    while f.write_all(&page).is_ok() {}
    drop(f);
    let len = fs::metadata(&filler).expect("filler").len();
    let f = fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .expect("open filler");
    f.set_len(len.saturating_sub(keep as u64))
        .expect("truncate filler");
    filler
}

#[test]
fn a_full_disk_is_a_clear_error_and_writes_nothing_half() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let Some(fs_) = Tmpfs::mount(&sb.path().join("small"), "1m") else {
        return;
    };
    let pristine = umoci_layout(&sb, "pristine", 8);
    let layout = fs_.0.join("layout");
    copy_tree(&pristine, &layout);
    let yaml = fs_.0.join("objects.yaml");
    fs::write(&yaml, big_yaml(50)).expect("write YAML");
    // Room for a few blobs, not for all of them.
    let filler = fill(&fs_.0, 3 * 4096);
    let before = tree(&fs_.0);

    let out = annotate(&sb, &["-a", "com.example.k=v", s(&layout)]);
    out.status(2);
    assert!(out.stderr.contains("No space left on device"), "{out}");
    assert_eq!(
        read(&layout.join("index.json")),
        before[&PathBuf::from("layout/index.json")]
    );
    assert_eq!(temp_files(&fs_.0), Vec::<PathBuf>::new(), "{out}");
    assert_blobs_intact(&layout);
    umoci_stat(&sb, &layout, "v8");

    fill(&fs_.0, 0);
    let before = tree(&fs_.0);
    let out = annotate(&sb, &["-a", "com.example/k=v", s(&yaml)]);
    out.status(2);
    assert!(out.stderr.contains("No space left on device"), "{out}");
    assert_eq!(tree(&fs_.0), before, "the file system changed\n{out}");

    // With room again, the same runs go through.
    fs::remove_file(filler).expect("remove filler");
    annotate(&sb, &["-a", "com.example.k=v", s(&layout)]).ok();
    annotate(&sb, &["-a", "com.example/k=v", s(&yaml)]).ok();
    assert_blobs_intact(&layout);
    umoci_stat(&sb, &layout, "v8");
    assert_eq!(temp_files(&fs_.0), Vec::<PathBuf>::new());
}

#[test]
fn a_read_only_directory_is_a_clear_error() {
    if !have("umoci") {
        return;
    }
    let sb = Sandbox::new();
    let Some(fs_) = Tmpfs::mount(&sb.path().join("ro"), "1m") else {
        return;
    };
    let pristine = umoci_layout(&sb, "pristine", 1);
    copy_tree(&pristine, &fs_.0.join("layout"));
    fs::write(fs_.0.join("objects.yaml"), big_yaml(3)).expect("write YAML");
    fs::write(
        fs_.0.join("manifest.json"),
        read(
            &pristine.join("blobs/sha256").join(
                &serde_json::from_slice::<serde_json::Value>(&read(&pristine.join("index.json")))
                    .expect("index")["manifests"][0]["digest"]
                    .as_str()
                    .expect("digest")[7..],
            ),
        ),
    )
    .expect("write manifest");
    fs_.remount("ro");
    let before = tree(&fs_.0);
    for target in ["layout", "objects.yaml", "manifest.json"] {
        let path = fs_.0.join(target);
        let out = annotate(&sb, &["-a", "com.example/k=v", s(&path)]);
        out.status(2);
        assert!(out.stderr.contains("Read-only file system"), "{out}");
        assert_eq!(
            out.stderr
                .lines()
                .filter(|l| l.starts_with("error"))
                .count(),
            1,
            "{out}"
        );
        // A dry run only reads.
        annotate(&sb, &["--dry-run", "-a", "com.example/k=v", s(&path)]).ok();
    }
    assert_eq!(tree(&fs_.0), before);
}

#[test]
fn symbolic_links_are_not_written_through() {
    let sb = Sandbox::new();
    let outside = sb.dir(
        "outside",
        &[("real.yaml", &big_yaml(2)), ("index.json", "{}")],
    );
    let work = sb.dir("work", &[]);

    // A YAML file that is a link to a file elsewhere.
    std::os::unix::fs::symlink(outside.join("real.yaml"), work.join("linked.yaml"))
        .expect("symlink");
    let before = (tree(&outside), tree(&work));
    let out = annotate(
        &sb,
        &["-a", "com.example/k=v", s(&work.join("linked.yaml"))],
    );
    out.status(2);
    assert!(out.stderr.contains("is a symbolic link"), "{out}");
    assert_eq!((tree(&outside), tree(&work)), before, "{out}");

    // A layout whose index.json is a link to elsewhere.
    let layout = work.join("layout");
    crate::secrets::tiny_layout(&layout);
    fs::copy(layout.join("index.json"), outside.join("index.json")).expect("copy");
    fs::remove_file(layout.join("index.json")).expect("remove");
    std::os::unix::fs::symlink(outside.join("index.json"), layout.join("index.json"))
        .expect("symlink");
    let before = tree(&outside);
    let out = annotate(&sb, &["-a", "com.example.k=v", s(&layout)]);
    out.status(2);
    assert!(
        out.stderr.contains("index.json: is a symbolic link"),
        "{out}"
    );
    assert_eq!(tree(&outside), before, "{out}");
    assert!(fs::symlink_metadata(layout.join("index.json"))
        .expect("index.json")
        .file_type()
        .is_symlink());
    assert_blobs_intact(&layout);

    // A blob that is a link to elsewhere is read, never written.
    let layout = work.join("layout2");
    crate::secrets::tiny_layout(&layout);
    let index: serde_json::Value =
        serde_json::from_slice(&read(&layout.join("index.json"))).expect("index");
    let digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let blob = layout.join("blobs/sha256").join(&digest[7..]);
    fs::rename(&blob, outside.join("manifest-blob")).expect("move blob");
    std::os::unix::fs::symlink(outside.join("manifest-blob"), &blob).expect("symlink");
    let before = tree(&outside);
    annotate(&sb, &["-a", "com.example.k=v", s(&layout)]).ok();
    assert_eq!(tree(&outside), before);
    assert_blobs_intact(&layout);
}

/// A directory inside a layout that is a link to a directory elsewhere (`blobs/sha256`,
/// `blobs`, `blobs/sha512`) is not written or removed through: a run that would put a new
/// blob there, or `--gc` that would remove unreachable files there, is refused (exit 2),
/// dry or not, with nothing written and nothing removed on either side of the link. Only
/// the last path component was checked: new blobs landed in the outside directory, and
/// `--gc` deleted the files there that the layout does not reach. A layout that only reads
/// through such a link, and a layout directory that is itself a link, work as before.
#[test]
fn symbolic_links_to_directories_inside_a_layout_are_not_written_through() {
    let sb = Sandbox::new();
    let junk = b"not a blob of this layout\n";
    // A layout stamped with `k=v` whose `link` (`blobs/sha256` or `blobs`) is then moved to
    // `outside/moved`, with a file there the layout does not reach, and `link` made a
    // symbolic link to it.
    let linked = |name: &str, link: &str| -> (PathBuf, PathBuf) {
        let layout = sb.path().join(name);
        crate::secrets::tiny_layout(&layout);
        annotate(&sb, &["-a", "com.example.k=v", s(&layout)]).ok();
        let outside = sb.path().join(format!("{name}-outside"));
        fs::create_dir_all(&outside).expect("outside");
        let moved = outside.join("moved");
        fs::rename(layout.join(link), &moved).expect("move the directory out");
        std::os::unix::fs::symlink(&moved, layout.join(link)).expect("symlink");
        let sha256_dir = layout.join("blobs/sha256");
        fs::write(sha256_dir.join(&sha256(junk)[7..]), junk).expect("junk blob");
        (layout, outside)
    };
    for link in ["blobs/sha256", "blobs"] {
        let (layout, outside) = linked(&link.replace('/', "-"), link);
        let before = (tree(&layout), tree(&outside));
        for args in [
            vec!["-a", "com.example.k=w"],
            vec!["-a", "com.example.k=w", "--gc"],
            vec!["-a", "com.example.k=w", "--gc", "--dry-run"],
        ] {
            let mut args = args;
            args.push(s(&layout));
            let out = annotate(&sb, &args);
            out.status(2);
            assert!(
                out.stderr.contains(&format!(
                    "{}: is a symbolic link",
                    layout.join(link).display()
                )),
                "{args:?}: {out}"
            );
            assert_eq!((tree(&layout), tree(&outside)), before, "{args:?}: {out}");
        }
        // Nothing to write: reading through the link is fine.
        let out = annotate(&sb, &["-a", "com.example.k=v", s(&layout)]);
        out.ok();
        assert_eq!(
            out.stdout,
            format!("{}: unchanged\n", layout.display()),
            "{out}"
        );
        assert_eq!((tree(&layout), tree(&outside)), before, "{out}");
    }

    // `--gc` also removes in every other `blobs/ALG`: a link there refuses it too.
    let layout = sb.path().join("sha512");
    crate::secrets::tiny_layout(&layout);
    let outside = sb.dir("sha512-outside", &[]);
    fs::write(outside.join("f".repeat(128)), junk).expect("a file outside");
    std::os::unix::fs::symlink(&outside, layout.join("blobs/sha512")).expect("symlink");
    let before = (tree(&layout), tree(&outside));
    for dry_run in [false, true] {
        let mut args = vec!["--gc", s(&layout)];
        if dry_run {
            args.insert(0, "--dry-run");
        }
        let out = annotate(&sb, &args);
        out.status(2);
        assert!(
            out.stderr.contains(&format!(
                "{}: is a symbolic link",
                layout.join("blobs/sha512").display()
            )),
            "{out}"
        );
        assert_eq!((tree(&layout), tree(&outside)), before, "{out}");
    }

    // The layout directory itself may be a link: it is what the user named.
    let real = sb.path().join("real");
    crate::secrets::tiny_layout(&real);
    fs::write(real.join("blobs/sha256").join(&sha256(junk)[7..]), junk).expect("junk blob");
    let named = sb.path().join("named");
    std::os::unix::fs::symlink(&real, &named).expect("symlink");
    let out = annotate(&sb, &["-a", "com.example.k=v", "--gc", s(&named)]);
    out.ok();
    assert!(out.stdout.contains("removed unreachable blob"), "{out}");
    assert!(!real.join("blobs/sha256").join(&sha256(junk)[7..]).exists());
    assert_blobs_intact(&real);
    let index: serde_json::Value =
        serde_json::from_slice(&read(&real.join("index.json"))).expect("index");
    let digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let manifest: serde_json::Value =
        serde_json::from_slice(&read(&real.join("blobs/sha256").join(&digest[7..])))
            .expect("manifest");
    assert_eq!(manifest["annotations"]["com.example.k"], "v");
}

#[test]
fn a_directory_where_a_blob_belongs_is_a_clear_error() {
    let sb = Sandbox::new();
    let layout = sb.path().join("layout");
    crate::secrets::tiny_layout(&layout);
    let args = ["-a", "com.example.k=v", s(&layout)];

    // Where the stamped manifest will go (a dry run on a copy tells its digest).
    let copy = sb.path().join("copy");
    crate::secrets::tiny_layout(&copy);
    annotate(&sb, &["-a", "com.example.k=v", s(&copy)]).ok();
    let new_blobs: BTreeSet<PathBuf> = tree(&copy.join("blobs"))
        .into_keys()
        .filter(|p| !layout.join("blobs").join(p).exists())
        .collect();
    assert_eq!(new_blobs.len(), 1, "{new_blobs:?}");
    let target = layout
        .join("blobs")
        .join(new_blobs.iter().next().expect("one"));
    fs::create_dir(&target).expect("a directory in its place");

    let before = tree(&layout);
    let out = annotate(&sb, &args);
    out.status(2);
    assert!(out.stderr.contains("is not a file"), "{out}");
    assert_eq!(tree(&layout), before, "{out}");

    // An existing file of the right name but the wrong content is replaced.
    fs::remove_dir(&target).expect("remove directory");
    fs::write(&target, b"truncated").expect("write");
    annotate(&sb, &args).ok();
    assert_blobs_intact(&layout);
    assert_eq!(tree(&layout), tree(&copy));

    // A blob that is a directory where a manifest is read from.
    let layout = sb.path().join("layout3");
    crate::secrets::tiny_layout(&layout);
    let index: serde_json::Value =
        serde_json::from_slice(&read(&layout.join("index.json"))).expect("index");
    let digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let blob = layout.join("blobs/sha256").join(&digest[7..]);
    fs::remove_file(&blob).expect("remove");
    fs::create_dir(&blob).expect("directory");
    let before = tree(&layout);
    let out = annotate(&sb, &["-a", "com.example.k=v", s(&layout)]);
    out.status(2);
    assert!(out.stderr.contains(&digest[7..]), "{out}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .count(),
        1,
        "{out}"
    );
    assert_eq!(tree(&layout), before);
}

/// Runs `n` `annotate`s at once, each with its own key; returns their outputs.
fn concurrently(
    sb: &Sandbox,
    n: usize,
    target: &Path,
    key: &dyn Fn(usize) -> String,
) -> Vec<Output> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let args: Vec<String> = [
                "annotate",
                "--created",
                EPOCH,
                "-a",
                &format!("{}=run {i}", key(i)),
                s(target),
            ]
            .map(String::from)
            .to_vec();
            let stamp = sb.stamp(args);
            std::thread::spawn(move || stamp.run())
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a run"))
        .collect()
}

#[test]
fn twenty_concurrent_runs_on_one_target_keep_every_key() {
    let sb = Sandbox::new();
    let layout = sb.path().join("layout");
    crate::secrets::tiny_layout(&layout);
    let yaml = sb.path().join("objects.yaml");
    fs::write(&yaml, big_yaml(20)).expect("write YAML");
    let manifest = sb.dir("m", &[]).join("manifest.json");
    fs::write(
        &manifest,
        "{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\",\n  \"config\": {\"mediaType\": \"application/vnd.oci.image.config.v1+json\", \"digest\": \"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\", \"size\": 2},\n  \"layers\": []\n}\n",
    )
    .expect("write manifest");

    let key = |i: usize| format!("com.example/run-{i:02}");
    for target in [&layout, &yaml, &manifest] {
        for out in concurrently(&sb, 20, target, &key) {
            out.ok();
        }
    }

    // The layout: the manifest index.json names holds every key.
    let index: serde_json::Value =
        serde_json::from_slice(&read(&layout.join("index.json"))).expect("index");
    assert_eq!(index["manifests"].as_array().map(Vec::len), Some(1));
    let digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let m: serde_json::Value =
        serde_json::from_slice(&read(&layout.join("blobs/sha256").join(&digest[7..])))
            .expect("manifest");
    for i in 0..20 {
        assert_eq!(m["annotations"][key(i)], format!("run {i}"), "{m}");
    }
    assert_blobs_intact(&layout);
    assert_eq!(temp_files(&layout), Vec::<PathBuf>::new());

    // The YAML file: every object holds every key, and the rest is as it was.
    let text = fs::read_to_string(&yaml).expect("read");
    for i in 0..20 {
        assert_eq!(
            text.matches(&format!("{}: \"run {i}\"", key(i))).count(),
            20,
            "{text}"
        );
    }
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            !l.contains("com.example/run-") && !l.contains("created") && l.trim() != "annotations:"
        })
        .collect();
    assert_eq!(kept, big_yaml(20).lines().collect::<Vec<_>>());

    // The manifest file.
    let m: serde_json::Value = serde_json::from_slice(&read(&manifest)).expect("manifest");
    for i in 0..20 {
        assert_eq!(m["annotations"][key(i)], format!("run {i}"), "{m}");
    }
    assert_eq!(temp_files(sb.path()), Vec::<PathBuf>::new());
}
