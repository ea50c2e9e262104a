//! The dirty check on every kind of index git writes: versions 2, 3 and 4, a split index, a
//! sparse index, an untracked cache, an fsmonitor extension, conflicts and `git add -N`
//! entries. Each case is built with the real `git` CLI, the index file is checked to be of
//! the kind the case is about (so a git that wrote something else cannot make a case pass
//! vacuously), and after every change oci-stamp must report what `git status` reports.

use std::path::Path;

use crate::harness::{Repo, Sandbox};

/// What oci-stamp says: the count and the first paths of `dirty-tree`, and `NS.dirty`.
fn stamp_modified(repo: &Repo<'_>) -> (usize, Vec<String>) {
    let out = repo
        .stamp([
            "collect",
            "--format",
            "json",
            "--require-clean",
            "--namespace",
            "com.example",
        ])
        .run();
    if out.codes().iter().all(|c| *c != "dirty-tree") {
        out.ok();
        assert_eq!(out.annotations()["com.example.dirty"], "false", "{out}");
        return (0, Vec::new());
    }
    out.status(1);
    assert_eq!(
        out.codes(),
        ["dirty-tree"],
        "nothing but the dirty tree: {out}"
    );
    let line = out.line("dirty-tree");
    let after = line.split("the working tree has ").nth(1).expect("count");
    let count: usize = after.split(' ').next().unwrap().parse().expect("number");
    let listed = after.split_once('(').unwrap().1.split_once(')').unwrap().0;
    let without = repo
        .stamp(["collect", "--format", "json", "--namespace", "com.example"])
        .run();
    without.ok();
    assert_eq!(without.annotations()["com.example.dirty"], "true");
    (count, listed.split(", ").map(str::to_string).collect())
}

/// Asserts oci-stamp agrees with `git status`; returns how many paths are modified.
fn check(repo: &Repo<'_>, what: &str) -> usize {
    let want = repo.git_modified();
    let (count, listed) = stamp_modified(repo);
    assert_eq!(
        count,
        want.len(),
        "{what}: git says {want:?}, oci-stamp {listed:?}"
    );
    let first: Vec<String> = want.iter().take(3).cloned().collect();
    assert_eq!(listed, first, "{what}");
    want.len()
}

/// The index file's version and the signatures of its extensions (walked the way git
/// lays them out; a reader independent of the one under test).
fn index_kind(repo: &Repo<'_>) -> (u32, Vec<String>) {
    let bytes = std::fs::read(repo.path.join(".git/index")).expect("an index");
    assert_eq!(&bytes[..4], b"DIRC");
    let version = u32::from_be_bytes(bytes[4..8].try_into().unwrap());
    // The extensions follow the entries: find them by asking git where the entries end is
    // not possible, so look for each known signature followed by a plausible size.
    let mut found = Vec::new();
    for sig in [
        "TREE", "link", "sdir", "UNTR", "FSMN", "REUC", "EOIE", "IEOT",
    ] {
        let hit = bytes.windows(8).any(|w| {
            w[..4] == *sig.as_bytes()
                && (u32::from_be_bytes(w[4..8].try_into().unwrap()) as usize) < bytes.len()
        });
        if hit {
            found.push(sig.to_string());
        }
    }
    (version, found)
}

/// A repository of 120 files in 4 directories (so a split index has entries to replace and
/// delete), committed, with an index older than anything written next.
fn base_repo<'s>(sb: &'s Sandbox, name: &str) -> Repo<'s> {
    let repo = sb.repo(name);
    for i in 0..120 {
        repo.write(&format!("d{}/f{i}.txt", i % 4), format!("file {i}\n"));
    }
    repo.write("top.txt", "top\n");
    repo.commit("one");
    settle(&repo);
    repo
}

/// Lets the index be older than the files written next (so entries are not racily clean
/// and the stat comparison is what decides), and refreshes it.
fn settle(repo: &Repo<'_>) {
    std::thread::sleep(std::time::Duration::from_millis(20));
    repo.git(&["update-index", "-q", "--refresh"]);
}

fn set_mtime(path: &Path, t: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// The same changes on every kind of index, each compared with `git status`; `dir` is a
/// directory whose files are checked out (inside a sparse cone).
fn exercise(repo: &Repo<'_>, dir: &str, kind: impl Fn(&Repo<'_>)) {
    let path = |f: &str| repo.path.join(f);
    // `dK` holds `fK.txt`, `f(K+4).txt`, …
    let k: usize = dir[1..].parse().unwrap();
    let file = |n: usize| format!("{dir}/f{}.txt", k + 4 * n);
    let (a, b, c) = (file(0), file(1), file(2));
    kind(repo);
    assert_eq!(check(repo, "clean"), 0);

    repo.write(&a, "changed, longer\n");
    assert_eq!(check(repo, "content changed"), 1);
    repo.git(&["checkout", "-q", "--", "."]);
    settle(repo);
    kind(repo);

    // Same size, modification time put back: only the inode change time tells.
    let mtime = std::fs::metadata(path(&b)).unwrap().modified().unwrap();
    let same_size = std::fs::read_to_string(path(&b)).unwrap().to_uppercase();
    std::fs::write(path(&b), same_size).unwrap();
    set_mtime(&path(&b), mtime);
    assert_eq!(check(repo, "same size, same mtime"), 1);

    std::fs::remove_file(path(&c)).unwrap();
    assert_eq!(check(repo, "and a deleted file"), 2);
    repo.git(&["checkout", "-q", "--", "."]);
    settle(repo);
    kind(repo);
    assert_eq!(check(repo, "restored"), 0);

    // Touched, content unchanged: every entry a suspect, none modified.
    for n in 0..30 {
        let f = path(&file(n));
        if f.exists() {
            set_mtime(&f, std::time::SystemTime::now());
        }
    }
    assert_eq!(check(repo, "touched only"), 0);
    settle(repo);
    kind(repo);

    // Staged: a changed file, a new file, a removed file.
    repo.write(&a, "staged\n");
    repo.write(&format!("{dir}/new.txt"), "new\n");
    repo.git(&["add", &a, &format!("{dir}/new.txt")]);
    repo.git(&["rm", "-q", "--cached", &b]);
    kind(repo);
    assert_eq!(check(repo, "staged change, addition, removal"), 3);
    // …and the staged change put back in the work tree.
    repo.write(&a, format!("file {k}\n"));
    assert_eq!(check(repo, "staged, then reverted in the work tree"), 3);
    repo.git(&["reset", "-q", "--hard"]);
    std::fs::remove_file(path(&format!("{dir}/new.txt"))).ok();
    settle(repo);
    kind(repo);
    assert_eq!(check(repo, "reset"), 0);

    // `git add -N`: git status lists it.
    repo.write(&format!("{dir}/intent.txt"), "intent\n");
    repo.git(&["add", "-N", &format!("{dir}/intent.txt")]);
    kind(repo);
    assert_eq!(check(repo, "intent to add"), 1);
    repo.git(&["rm", "-q", "--cached", &format!("{dir}/intent.txt")]);
    std::fs::remove_file(path(&format!("{dir}/intent.txt"))).unwrap();
    settle(repo);
    kind(repo);
    assert_eq!(check(repo, "back to clean"), 0);

    // The directory moved away and a symbolic link to it put in its place: every path still
    // resolves to the same file, but git counts what is behind a link as deleted.
    let moved = format!("{dir}-moved");
    std::fs::rename(path(dir), path(&moved)).unwrap();
    std::os::unix::fs::symlink(&moved, path(dir)).unwrap();
    assert!(check(repo, "a directory behind a symbolic link") > 0);
    std::fs::remove_file(path(dir)).unwrap();
    // A file where the directory was.
    std::fs::write(path(dir), "not a directory\n").unwrap();
    assert!(check(repo, "a file in the directory's place") > 0);
    std::fs::remove_file(path(dir)).unwrap();
    std::fs::rename(path(&moved), path(dir)).unwrap();
    settle(repo);
    kind(repo);
    assert_eq!(check(repo, "the directory back"), 0);
}

/// A merge conflict on `FILE`, with the index then rewritten as `kind` wants it.
fn conflict(sb: &Sandbox, repo: &Repo<'_>, file: &str, kind: impl Fn(&Repo<'_>)) {
    repo.git(&["checkout", "-q", "-b", "side"]);
    repo.write(file, "side\n").commit("side");
    repo.git(&["checkout", "-q", "main"]);
    repo.write(file, "main\n").commit("main");
    let merge = sb
        .command("git")
        .current_dir(&repo.path)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(["merge", "-q", "side"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&merge.stdout).contains("CONFLICT"),
        "the merge should conflict: {merge:?}"
    );
    kind(repo);
    assert_eq!(check(repo, "conflict"), 1);
    repo.write("top.txt", "and a change\n");
    assert_eq!(check(repo, "conflict and a change"), 2);
}

fn version(want: u32) -> impl Fn(&Repo<'_>) {
    move |repo: &Repo<'_>| {
        repo.git(&["update-index", "--index-version", &want.to_string()]);
        // git writes version 3 instead of 2 while an entry has extended flags (`add -N`).
        let got = index_kind(repo).0;
        assert!(
            got == want || (want, got) == (2, 3),
            "version {got}, not {want}"
        );
    }
}

#[test]
fn index_version_2() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "v2");
    exercise(&repo, "d1", version(2));
    conflict(&sb, &repo, "d1/f1.txt", version(2));
}

/// Version 3: entries with extended flags (a skip-worktree file, which neither git status
/// nor oci-stamp looks at).
#[test]
fn index_version_3_with_skip_worktree_entries() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "v3");
    let kind = |repo: &Repo<'_>| {
        repo.git(&["update-index", "--index-version", "3"]);
        repo.git(&["update-index", "--skip-worktree", "d3/f3.txt"]);
        assert_eq!(index_kind(repo).0, 3);
    };
    kind(&repo);
    std::fs::remove_file(repo.path.join("d3/f3.txt")).unwrap();
    repo.write("d3/f7.txt", "a hidden change is not hidden\n");
    assert_eq!(check(&repo, "skip-worktree file gone, another changed"), 1);
    repo.git(&["checkout", "-q", "--", "d3/f7.txt"]);
    exercise(&repo, "d1", kind);
    conflict(&sb, &repo, "d1/f1.txt", kind);
}

#[test]
fn index_version_4() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "v4");
    exercise(&repo, "d2", version(4));
    conflict(&sb, &repo, "d2/f2.txt", version(4));
}

/// A split index: the index file holds the changes (`link`), a `sharedindex.*` file the rest.
/// libgit2 cannot read it at all; before, `collect --require-clean` failed on it.
#[test]
fn split_index() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "split");
    // Never fold the changes back into a new shared index: the replace and delete bitmaps
    // keep growing over the shared index written first.
    repo.git(&["config", "splitIndex.maxPercentChange", "100"]);
    let kind = |repo: &Repo<'_>| {
        repo.git(&["update-index", "--split-index"]);
        let (_, ext) = index_kind(repo);
        assert!(ext.contains(&"link".to_string()), "{ext:?}");
    };
    exercise(&repo, "d0", kind);
    for v in [3, 4] {
        repo.git(&["update-index", "--index-version", &v.to_string()]);
        kind(&repo);
        repo.write("d3/f3.txt", format!("in a split v{v} index\n"));
        assert_eq!(check(&repo, &format!("split index, version {v}")), 1);
        repo.git(&["checkout", "-q", "--", "."]);
        settle(&repo);
    }
    conflict(&sb, &repo, "d0/f0.txt", kind);
}

/// Without a shared index to stand on (`git update-index --split-index` over an index
/// that then loses its `sharedindex.*` file), git status fails; so may oci-stamp, but with
/// its usual error, not a panic.
#[test]
fn a_split_index_without_its_shared_index_is_an_error_not_a_crash() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "orphan");
    repo.git(&["update-index", "--split-index"]);
    for e in std::fs::read_dir(repo.path.join(".git")).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("sharedindex.") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let out = repo
        .stamp(["collect", "--format", "json", "--require-clean"])
        .run();
    out.status(2);
    assert!(out.stderr.starts_with("error: "), "{out}");
}

/// A sparse index: directories outside the cone are single entries (`sdir`).
#[test]
fn sparse_index() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "sparse");
    repo.git(&["sparse-checkout", "set", "--cone", "--sparse-index", "d1"]);
    settle(&repo);
    let kind = |repo: &Repo<'_>| {
        let (_, ext) = index_kind(repo);
        assert!(ext.contains(&"sdir".to_string()), "{ext:?}");
    };
    assert!(!repo.path.join("d2").exists(), "d2 is outside the cone");
    exercise(&repo, "d1", kind);
    // A staged change while the tree outside the cone stays a directory entry: HEAD is
    // compared with the index through the sparse directories' trees.
    repo.write("d1/f1.txt", "staged in the cone\n");
    repo.git(&["add", "d1/f1.txt"]);
    kind(&repo);
    assert_eq!(check(&repo, "staged in a sparse index"), 1);
}

/// The untracked cache (`UNTR`) and an fsmonitor extension (`FSMN`) are optional: skipped,
/// with every tracked file still compared (oci-stamp runs no fsmonitor hook).
#[test]
fn untracked_cache_and_fsmonitor_extensions() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "ext");
    repo.git(&["config", "core.untrackedCache", "true"]);
    // A truthful fsmonitor hook (version 1): everything may have changed.
    let hook = sb.path().join("fsmonitor-hook");
    std::fs::write(&hook, "#!/bin/sh\nprintf '/'\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.git(&["config", "core.fsmonitor", &hook.display().to_string()]);
    repo.git(&["config", "core.fsmonitorHookVersion", "1"]);
    let kind = |repo: &Repo<'_>| {
        repo.git(&["update-index", "--untracked-cache", "--fsmonitor"]);
        repo.git(&["status", "--porcelain"]);
        let (_, ext) = index_kind(repo);
        for want in ["UNTR", "FSMN"] {
            assert!(ext.contains(&want.to_string()), "{want} in {ext:?}");
        }
    };
    exercise(&repo, "d3", kind);
}

/// Whether the index's cached root tree (`TREE`) is invalidated: its entry count is `-1`.
/// (Read here independently of the reader under test; the test paths hold no `TREE`.)
fn cached_root_invalid(repo: &Repo<'_>) -> bool {
    let bytes = std::fs::read(repo.path.join(".git/index")).expect("an index");
    let at = bytes
        .windows(4)
        .rposition(|w| w == b"TREE")
        .expect("a TREE extension");
    bytes[at + 8..].starts_with(b"\0-1 ")
}

/// Staged changes while the cached tree's root is invalidated (after `git add`, or after
/// `git update-index --skip-worktree`, which drops it with nothing staged): HEAD is
/// compared with the index directory by directory, trusting the subtrees git still holds
/// valid. Every kind of staged change, each against `git status`.
#[test]
fn staged_changes_under_an_invalidated_cached_tree() {
    let sb = Sandbox::new();
    let repo = base_repo(&sb, "staged");
    for f in [
        "a/b/c/deep.txt",
        "a/b/other.txt",
        "a/top.txt",
        "d1.txt",
        "run.sh",
    ] {
        repo.write(f, format!("{f}\n"));
    }
    repo.commit("nested");
    settle(&repo);
    let path = |f: &str| repo.path.join(f);
    // Nothing staged, the root invalidated all the same.
    assert!(
        !cached_root_invalid(&repo),
        "a commit writes the cached tree"
    );
    repo.git(&["update-index", "--skip-worktree", "d3/f3.txt"]);
    assert!(cached_root_invalid(&repo), "--skip-worktree keeps the root");
    assert_eq!(check(&repo, "root invalid, nothing staged"), 0);
    repo.git(&["update-index", "--chmod=+x", "top.txt"]);
    repo.git(&["update-index", "--chmod=-x", "top.txt"]);
    assert_eq!(check(&repo, "a mode staged and put back"), 0);

    let staged = |what: &str, want: usize| {
        assert!(
            cached_root_invalid(&repo),
            "{what}: the cached root is valid"
        );
        assert_eq!(check(&repo, what), want, "{what}");
        repo.git(&["reset", "-q", "--hard"]);
        repo.git(&["clean", "-q", "-fd"]);
        settle(&repo);
        assert_eq!(check(&repo, &format!("{what}, reset")), 0);
    };
    repo.write("a/b/c/deep.txt", "changed deep down\n");
    repo.git(&["add", "a/b/c/deep.txt"]);
    staged("a change three directories down", 1);

    // `git reset --soft` moves HEAD and keeps the index, its cached tree valid all the way
    // down: valid directories that are not HEAD's are read, not trusted.
    repo.write("a/b/c/deep.txt", "committed, then un-committed\n");
    repo.write("d0/f0.txt", "and another\n");
    repo.commit("to undo");
    repo.git(&["reset", "-q", "--soft", "HEAD~1"]);
    assert!(
        !cached_root_invalid(&repo),
        "the cached tree is the undone commit's"
    );
    assert_eq!(check(&repo, "after reset --soft"), 2);
    repo.git(&["reset", "-q", "--hard"]);
    settle(&repo);
    assert_eq!(check(&repo, "after reset --soft, reset"), 0);

    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    repo.git(&["add", "run.sh"]);
    staged("only the mode", 1);

    std::fs::remove_file(path("a/top.txt")).unwrap();
    std::os::unix::fs::symlink("b/other.txt", path("a/top.txt")).unwrap();
    repo.git(&["add", "a/top.txt"]);
    staged("a file become a symbolic link", 1);

    repo.git(&["rm", "-r", "-q", "--cached", "d2"]);
    staged("a whole directory removed", 30);

    repo.git(&["rm", "-q", "--cached", "d1.txt"]);
    std::fs::remove_file(path("d1.txt")).unwrap();
    repo.write("d1.txt/inner", "a directory where a file was\n");
    repo.git(&["add", "d1.txt/inner"]);
    staged("a file become a directory", 2);

    // Added names that sort around a directory's: `d1-x` < `d1.txt` < `d1/` < `d10`.
    for f in ["d1-x", "d10/f", "a/b/c.txt", "a/b/c/z"] {
        repo.write(f, "new\n");
        repo.git(&["add", f]);
    }
    staged("additions next to directories", 4);

    repo.git(&["rm", "-r", "-q", "--cached", "a/b/c"]);
    std::fs::remove_dir_all(path("a/b/c")).unwrap();
    repo.write("a/b/c", "a file where a directory was\n");
    repo.git(&["add", "a/b/c"]);
    staged("a directory become a file", 2);
}
