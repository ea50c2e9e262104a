//! Is anything tracked modified? The fast path of the dirty check.
//!
//! libgit2's status reads the whole index (verifying its checksum with collision-detecting
//! SHA-1), walks every tree of HEAD to compare it with the index, and stats every file on one
//! thread: on a 20,000-file checkout that was six times `git status`. This module does what
//! `git status` does instead: read the index file directly, compare HEAD's tree with the
//! index's cached root tree (the `TREE` extension git keeps up to date), and compare each
//! entry's recorded stat data with `lstat` on a few threads. An entry whose data matches and
//! that is not racily clean is unchanged; the rest are *suspects*.
//!
//! When the cached root is invalid (`git update-index --skip-worktree` invalidates it, and so
//! does staging a file), the staged changes are found as git's `diff-index --cached` finds
//! them ([`Index::staged_changes`]): HEAD's trees merged with the sorted entries, skipping
//! every directory whose cached tree is still valid, covers exactly the entries below it and
//! is HEAD's tree there. Only the directories on the way to a change are read (figures on
//! real checkouts in BENCHMARKS.md, "3 December").
//!
//! The reader understands every index git writes: versions 2, 3 and 4, a split index (the
//! `link` extension: this file's entries over a `sharedindex.*` file), a sparse index
//! (`sdir`: directory entries outside the sparse cone), and the optional extensions (cached
//! tree, untracked cache, fsmonitor, resolve-undo, entry offsets), which it skips. libgit2
//! reads neither split nor sparse indexes, so the caller never hands it the index file: it
//! builds libgit2 an in-memory index of the entries read here ([`Index::git2_entry`]), and
//! libgit2 stays the judge of content (filters, submodules) for the suspects only. What this
//! reader does not understand (an unknown version or required extension, a broken file)
//! returns `None`, and the caller falls back to libgit2's own status.

use std::ffi::CStr;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rustix::fd::AsFd;
use rustix::fs::{statat, AtFlags, Mode, OFlags, Stat};

/// The parts of the index file the dirty check uses.
#[derive(Debug)]
pub(crate) struct Index {
    pub(crate) entries: Vec<Entry>,
    /// The cached root tree's object name, when the `TREE` extension holds a valid one.
    pub(crate) root_tree: Option<Vec<u8>>,
    /// The `TREE` extension's valid directories; checked against the entries (once a split
    /// index is merged) before they are trusted.
    cached_tree: CachedTree,
    /// A split index's `link` extension, until the shared index is merged in.
    link: Option<Link>,
    /// Whether this is a sparse index (`sdir`): some entries are directories.
    pub(crate) sparse: bool,
    /// When the index file was last written (seconds, nanoseconds): entries modified in the
    /// same instant or later are racily clean.
    written: (i64, u32),
    paths: Vec<u8>,
}

/// One index entry's stat data (times and sizes as the index keeps them, in 32 bits).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    ctime: (u32, u32),
    mtime: (u32, u32),
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    size: u32,
    /// The object name (the first `hash_len` bytes).
    id: [u8; 32],
    flags: u16,
    ext_flags: u16,
    path: Range<usize>,
}

/// The index's cached tree (the `TREE` extension): every directory whose tree git still
/// holds valid, by path prefix (`""` for the root, `"src/"`, `"src/cli/"`), with how many
/// index entries it covers and its tree's object name. git invalidates a directory and its
/// parents when an entry below it changes, and some commands (`git sparse-checkout`, `git
/// update-index`) invalidate the root, while most subtrees stay valid.
#[derive(Debug, Default)]
struct CachedTree {
    dirs: std::collections::HashMap<Vec<u8>, (usize, Vec<u8>)>,
}

/// One entry of a tree object, as [`Index::staged_changes`] compares it: its name, its mode
/// (normalised as libgit2's `git_tree_entry_filemode` does) and object name.
#[derive(Debug, Clone)]
pub(crate) struct TreeItem {
    pub(crate) name: Vec<u8>,
    pub(crate) mode: u32,
    pub(crate) id: Vec<u8>,
}

/// A split index's `link` extension: the shared index it stands on, and which of the shared
/// index's entries this file deletes and replaces (positions, ascending).
#[derive(Debug)]
struct Link {
    shared: Vec<u8>,
    delete: Vec<usize>,
    replace: Vec<usize>,
}

/// What the stat comparison may trust, from the repository's `core.*` settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatRules {
    /// `core.filemode`: the executable bit is meaningful.
    pub(crate) filemode: bool,
    /// `core.symlinks`: symbolic links are checked out as links.
    pub(crate) symlinks: bool,
    /// `core.trustctime`: the inode change time is meaningful.
    pub(crate) trust_ctime: bool,
    /// `core.checkStat=minimal`: compare only sizes and modification seconds.
    pub(crate) minimal: bool,
}

const MODE_GITLINK: u32 = 0o160000;
/// A sparse index's directory entry (`sdir`): a tree outside the sparse cone.
pub(crate) const MODE_TREE: u32 = 0o040000;
const MODE_SYMLINK: u32 = 0o120000;
const MODE_EXEC: u32 = 0o100755;
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const FLAG_ASSUME_VALID: u16 = 0x8000;
/// The name length bits of an entry's flags; all set: the name is that long or longer.
const NAME_MASK: u16 = 0x0fff;
const NAME_MASK_USIZE: usize = NAME_MASK as usize;
const FLAG_EXTENDED: u16 = 0x4000;
const EXT_SKIP_WORKTREE: u16 = 0x4000;
const EXT_INTENT_TO_ADD: u16 = 0x2000;
/// The index file's size limit here; a larger one goes to libgit2.
const MAX_INDEX: u64 = 512 << 20;

impl Index {
    /// Reads the index file at `path` for a repository whose object names are `hash_len`
    /// bytes. `None` when the file is missing, unreadable or holds anything this reader does
    /// not understand.
    ///
    /// A split index is merged with the `sharedindex.<name>` file next to it, as git does
    /// (`merge_base_index` in git's split-index.c).
    pub(crate) fn read(path: &Path, hash_len: usize) -> Option<Index> {
        let (bytes, written) = read_file(path)?;
        let mut index = parse(&bytes, hash_len, written)?;
        if let Some(link) = index.link.take() {
            if link.shared.iter().any(|&b| b != 0) {
                let name = format!("sharedindex.{}", hex(&link.shared));
                let (bytes, _) = read_file(&path.parent()?.join(name))?;
                // The shared index's own write time does not matter: this file was written
                // after it, so its time is the later racy-clean bound.
                let shared = parse(&bytes, hash_len, written)?;
                if shared.link.is_some() {
                    return None;
                }
                index = merge_split(shared, index, &link)?;
            } else if !link.delete.is_empty() || !link.replace.is_empty() {
                return None;
            }
        }
        index.settle_root();
        Some(index)
    }

    /// Takes the cached root tree when it is valid and covers every entry.
    fn settle_root(&mut self) {
        self.root_tree = match self.cached_tree.dirs.get(&b""[..]) {
            Some((count, root)) if *count == self.entries.len() => Some(root.clone()),
            _ => None,
        };
    }

    /// The paths whose staged content differs from HEAD's tree `head` (an object name of
    /// the index's length), as `git diff --cached --name-only` lists them: changed in mode or
    /// content, added, or deleted. Conflicts and intent-to-add entries are left out (the
    /// caller lists those). `read_tree` gives a tree's entries, or `None` when it cannot.
    ///
    /// This is git's own comparison (`unpack_trees` over the cache tree): a directory whose
    /// cached tree is valid, covers as many entries as the index has below it and is HEAD's
    /// tree there is unchanged without reading anything; only the directories on the way to
    /// a change are read. `None` when it cannot tell: a tree could not be read, or a sparse
    /// index's directory entry differs from HEAD (libgit2 then lists the paths inside).
    pub(crate) fn staged_changes(
        &self,
        head: &[u8],
        read_tree: &mut dyn FnMut(&[u8]) -> Option<Vec<TreeItem>>,
    ) -> Option<Vec<Vec<u8>>> {
        let mut changed = Vec::new();
        // Directories still to compare: path prefix, HEAD's tree there, the index entries
        // below it (a contiguous run: the index is sorted by path).
        let mut work = vec![(Vec::new(), head.to_vec(), 0..self.entries.len())];
        while let Some((prefix, tree, range)) = work.pop() {
            if let Some((count, id)) = self.cached_tree.dirs.get(&prefix) {
                if *count == range.len() && *id == tree {
                    continue;
                }
            }
            let mut items = read_tree(&tree)?;
            let key = |t: &TreeItem| {
                let mut k = t.name.clone();
                if t.mode == MODE_TREE {
                    k.push(b'/');
                }
                k
            };
            // git keeps trees in this order; a tree written otherwise is compared the same.
            items.sort_by_cached_key(key);
            let rel = |i: usize| &self.path(&self.entries[i])[prefix.len()..];
            let mut i = range.start;
            // An index entry with no counterpart in HEAD: added, unless the caller lists it.
            let added = |i: usize, changed: &mut Vec<Vec<u8>>| -> Option<()> {
                let e = &self.entries[i];
                if e.mode == MODE_TREE {
                    return None;
                }
                if !Index::is_conflict(e) && !Index::is_intent_to_add(e) {
                    changed.push(self.path(e).to_vec());
                }
                Some(())
            };
            for item in &items {
                let k = key(item);
                while i < range.end && rel(i) < &k[..] {
                    added(i, &mut changed)?;
                    i += 1;
                }
                let mut path = prefix.clone();
                path.extend_from_slice(&k);
                if item.mode == MODE_TREE {
                    let start = i;
                    while i < range.end && rel(i).starts_with(&k) {
                        i += 1;
                    }
                    let e = &self.entries[start..i];
                    if let [dir] = e {
                        if dir.mode == MODE_TREE && rel(start) == &k[..] {
                            // A sparse index's directory: HEAD's tree, or libgit2 decides.
                            if dir.id.get(..tree.len())? != &item.id[..] {
                                return None;
                            }
                            continue;
                        }
                    }
                    work.push((path, item.id.clone(), start..i));
                    continue;
                }
                let mut in_index = false;
                while i < range.end && rel(i) == &k[..] {
                    let e = &self.entries[i];
                    if Index::is_conflict(e) || Index::is_intent_to_add(e) {
                        // Listed by the caller; a HEAD file the index has only in conflict
                        // is listed once either way.
                        in_index = true;
                    } else if e.mode == MODE_TREE {
                        return None;
                    } else {
                        in_index = true;
                        if normal_mode(e.mode) != item.mode
                            || e.id.get(..item.id.len())? != &item.id[..]
                        {
                            changed.push(path.clone());
                        }
                    }
                    i += 1;
                }
                if !in_index {
                    // In HEAD, not in the index: deleted.
                    changed.push(path);
                }
            }
            while i < range.end {
                added(i, &mut changed)?;
                i += 1;
            }
        }
        Some(changed)
    }

    /// Entry `e` as libgit2 takes it, for an in-memory index. `smudge`: record size 0, as
    /// git does for a racily clean entry, so that libgit2 compares content rather than
    /// trusting stat data (an in-memory index has no write time to tell racy entries by).
    pub(crate) fn git2_entry(
        &self,
        e: &Entry,
        hash_len: usize,
        smudge: bool,
    ) -> Option<git2::IndexEntry> {
        Some(git2::IndexEntry {
            ctime: git2::IndexTime::new(e.ctime.0 as i32, e.ctime.1),
            mtime: git2::IndexTime::new(e.mtime.0 as i32, e.mtime.1),
            dev: 0,
            ino: e.ino,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            file_size: if smudge { 0 } else { e.size },
            id: git2::Oid::from_bytes(e.id.get(..hash_len)?).ok()?,
            // The name length is libgit2's to fill in; keep stage and assume-valid.
            flags: e.flags & 0xb000,
            flags_extended: e.ext_flags & (EXT_SKIP_WORKTREE | EXT_INTENT_TO_ADD),
            path: self.path(e).to_vec(),
        })
    }

    /// Whether entry `e` is a merge conflict (stage 1–3).
    pub(crate) fn is_conflict(e: &Entry) -> bool {
        (e.flags >> 12) & 3 != 0
    }

    /// Whether entry `e` was added with `git add -N` (intent to add).
    pub(crate) fn is_intent_to_add(e: &Entry) -> bool {
        e.ext_flags & EXT_INTENT_TO_ADD != 0
    }

    /// Entry `e`'s mode (`0o100644`, `0o120000`, [`MODE_TREE`] for a sparse directory).
    pub(crate) fn mode(e: &Entry) -> u32 {
        e.mode
    }

    /// An entry's path, relative to the work tree.
    pub(crate) fn path(&self, e: &Entry) -> &[u8] {
        &self.paths[e.path.clone()]
    }

    /// The entries whose work-tree file may differ from the index, by position in index
    /// order, each with whether its stat data matched and only racy cleanliness made it a
    /// suspect. Conflicts and intent-to-add entries are not looked at here (the caller counts
    /// them), nor are skip-worktree and assume-valid ones (`git status` does not look at
    /// them either). The caller's thread stats the first share of the entries itself; the
    /// others go to one thread each.
    pub(crate) fn suspects(&self, workdir: &Path, rules: StatRules) -> Vec<(usize, bool)> {
        // Paths are looked up relative to the work tree's directory, as `git status` does
        // from its working directory: the kernel walks three components of
        // `src/dir/file.rs`, not every component of an absolute path too.
        let Ok(dir) = rustix::fs::open(
            workdir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return (0..self.entries.len())
                .filter(|&i| needs_stat(&self.entries[i]))
                .map(|i| (i, false))
                .collect();
        };
        // The entries to look at, split evenly between the threads (skip-worktree entries
        // come in runs, a whole directory outside a sparse checkout: splitting the index
        // itself would leave one thread most of the work).
        let todo: Vec<usize> = (0..self.entries.len())
            .filter(|&i| needs_stat(&self.entries[i]))
            .collect();
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        // Below a few thousand files a thread costs more than it saves.
        let threads = threads.min(todo.len() / 2000 + 1);
        let chunk = todo.len().div_ceil(threads).max(1);
        let dir = &dir;
        let stat_part = |part: &[usize]| -> Vec<(usize, bool)> {
            // The directories leading to the last entry's, opened: entries come sorted by
            // path, so a directory's files come together, and each is then looked up by its
            // name alone; the next directory opens from the deepest one they share.
            let mut leading = Leading::default();
            // One NUL-terminated name buffer a thread.
            let mut buf = Vec::new();
            part.iter()
                .filter_map(|&i| {
                    let e = &self.entries[i];
                    let path = self.path(e);
                    let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
                        Some(slash) => (&path[..slash], &path[slash + 1..]),
                        None => (&path[..0], path),
                    };
                    let base = if parent.is_empty() {
                        Some(dir.as_fd())
                    } else {
                        leading.open(dir.as_fd(), parent, &mut buf)
                    };
                    // No directory: the file is not there for git either.
                    let stat = base.and_then(|base| {
                        buf.clear();
                        buf.extend_from_slice(name);
                        buf.push(0);
                        let name = CStr::from_bytes_with_nul(&buf).ok()?;
                        statat(base, name, AtFlags::SYMLINK_NOFOLLOW).ok()
                    });
                    self.may_differ(stat.as_ref(), e, rules)
                        .map(|racy_only| (i, racy_only))
                })
                .collect()
        };
        let mut parts = todo.chunks(chunk);
        let first = parts.next().unwrap_or(&[]);
        std::thread::scope(|scope| {
            let aside = crate::threads::Aside::enter();
            let cores = aside.cores();
            let others: Vec<_> = parts
                .map(|part| {
                    let handle = scope.spawn(move || {
                        cores.restore();
                        stat_part(part)
                    });
                    (part, handle)
                })
                .collect();
            drop(aside);
            let mut found = stat_part(first);
            for (part, handle) in others {
                // A stat pass thread only calls lstat and compares numbers; if one panicked
                // anyway, count its whole part as suspect rather than lose it.
                found.extend(
                    handle
                        .join()
                        .unwrap_or_else(|_| part.iter().map(|&i| (i, false)).collect()),
                );
            }
            found
        })
    }

    /// Whether the file may differ from entry `e`, given its `lstat` (`None`: it is gone or
    /// cannot be looked at): `None` when it is unchanged, `Some(true)` when only racy
    /// cleanliness makes it a suspect, `Some(false)` when its stat data differs.
    // `struct stat`'s field types differ between Linux and macOS: the conversions are
    // no-ops on one of them.
    #[allow(clippy::useless_conversion)]
    fn may_differ(&self, stat: Option<&Stat>, e: &Entry, rules: StatRules) -> Option<bool> {
        let changed = Some(false);
        if e.mode == MODE_GITLINK {
            // Submodules: libgit2 decides (their HEAD, not a file's stat data).
            return changed;
        }
        let Some(st) = stat else {
            return changed;
        };
        let mode = u32::from(st.st_mode);
        let (is_file, is_link) = (mode & S_IFMT == S_IFREG, mode & S_IFMT == S_IFLNK);
        let want_link = e.mode == MODE_SYMLINK && rules.symlinks;
        if (want_link && !is_link) || (!want_link && !is_file) {
            return changed;
        }
        if rules.filemode && is_file && (mode & 0o100 != 0) != (e.mode == MODE_EXEC) {
            return changed;
        }
        // The index keeps sizes, times and inode numbers in 32 bits.
        if st.st_size as u32 != e.size {
            return changed;
        }
        let nanos = |n| u32::try_from(n).unwrap_or(u32::MAX);
        let mtime = (i64::from(st.st_mtime), nanos(st.st_mtime_nsec));
        if !same_time(e.mtime, mtime, rules.minimal) {
            return changed;
        }
        if !rules.minimal {
            let ctime = (i64::from(st.st_ctime), nanos(st.st_ctime_nsec));
            if rules.trust_ctime && !same_time(e.ctime, ctime, false) {
                return changed;
            }
            if st.st_ino as u32 != e.ino || st.st_uid != e.uid || st.st_gid != e.gid {
                return changed;
            }
        }
        // Racily clean: the file may have changed in the same instant the index was written,
        // so equal stat data proves nothing (git's `is_racy_timestamp`).
        (mtime >= self.written).then_some(true)
    }
}

/// The directories leading to one directory of the work tree, each opened for lookups from
/// the one above it, never through a symbolic link: git takes a tracked file behind a
/// symlinked directory as deleted (`has_symlink_leading_path`), though the path resolves.
#[derive(Default)]
struct Leading {
    /// The path of the deepest directory open (empty when none is).
    path: Vec<u8>,
    /// Each open directory, with where its path ends in `path`.
    fds: Vec<(usize, rustix::fd::OwnedFd)>,
    /// The directory asked for last, when it could not be opened.
    failed: Option<Vec<u8>>,
}

impl Leading {
    /// The directory `parent` (a path in the work tree, not empty) opened below `root`,
    /// reusing the directories it shares with the last one. `None` when some component is a
    /// link, not a directory, or cannot be opened: the caller counts the file as gone, and
    /// libgit2 then says what it is.
    fn open<'a>(
        &'a mut self,
        root: rustix::fd::BorrowedFd<'a>,
        parent: &[u8],
        buf: &mut Vec<u8>,
    ) -> Option<rustix::fd::BorrowedFd<'a>> {
        if self.failed.as_deref() == Some(parent) {
            return None;
        }
        self.failed = None;
        if self.path != parent {
            // Keep the open directories that lead to `parent`, whole components only.
            let keep = self
                .fds
                .iter()
                .take_while(|(end, _)| {
                    parent.get(..*end) == Some(&self.path[..*end])
                        && parent.get(*end).is_none_or(|&b| b == b'/')
                })
                .count();
            self.fds.truncate(keep);
            self.path
                .truncate(self.fds.last().map_or(0, |(end, _)| *end));
            let mut start = if self.path.is_empty() {
                0
            } else {
                self.path.len() + 1
            };
            while start < parent.len() {
                let end = parent[start..]
                    .iter()
                    .position(|&b| b == b'/')
                    .map_or(parent.len(), |p| start + p);
                buf.clear();
                buf.extend_from_slice(&parent[start..end]);
                buf.push(0);
                let from = self.fds.last().map_or(root, |(_, fd)| fd.as_fd());
                let opened = CStr::from_bytes_with_nul(buf).ok().and_then(|name| {
                    rustix::fs::openat(
                        from,
                        name,
                        OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .ok()
                });
                let Some(fd) = opened else {
                    self.failed = Some(parent.to_vec());
                    return None;
                };
                self.fds.push((end, fd));
                self.path.clear();
                self.path.extend_from_slice(&parent[..end]);
                start = end + 1;
            }
        }
        self.fds.last().map(|(_, fd)| fd.as_fd())
    }
}

/// The stat pass of the dirty check started ahead of time, on a thread of its own, so that
/// it runs while the rest of collection (the describe walk, project files) does: the index
/// read, its entries stat'ed, the suspects found. Its answer is the same as the pass run
/// in place; only when it is ready differs.
pub(crate) struct Scan(std::thread::JoinHandle<Option<Scanned>>);

/// What a [`Scan`] found: the index, and its suspects by position (with whether only racy
/// cleanliness made each one a suspect).
pub(crate) struct Scanned {
    pub(crate) index: Index,
    pub(crate) suspects: Vec<(usize, bool)>,
}

impl Scan {
    /// Starts the pass over the index file `index` of the work tree `workdir`; `None` when
    /// no thread could be started (the caller runs the pass in place).
    pub(crate) fn start(
        index: PathBuf,
        workdir: PathBuf,
        hash_len: usize,
        rules: StatRules,
    ) -> Option<Scan> {
        crate::threads::spawn("stat pass", move || {
            let index = Index::read(&index, hash_len)?;
            let suspects = index.suspects(&workdir, rules);
            Some(Scanned { index, suspects })
        })
        .map(Scan)
    }

    /// Waits for the pass. `None` when the index is one this reader does not take (as
    /// [`Index::read`] says), or the thread failed: either way the caller asks libgit2.
    pub(crate) fn finish(self) -> Option<Scanned> {
        self.0.join().ok().flatten()
    }
}

/// Whether the stat pass looks at entry `e` at all: not conflicts or `git add -N` entries
/// (the caller counts those), not skip-worktree or assume-valid entries (`git status` does
/// not look at them), not a sparse index's directories (always skip-worktree).
fn needs_stat(e: &Entry) -> bool {
    (e.flags >> 12) & 3 == 0
        && e.ext_flags & (EXT_INTENT_TO_ADD | EXT_SKIP_WORKTREE) == 0
        && e.flags & FLAG_ASSUME_VALID == 0
}

fn read_file(path: &Path) -> Option<(Vec<u8>, (i64, u32))> {
    let mut file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if meta.len() > MAX_INDEX {
        return None;
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).ok()?;
    Some((bytes, (meta.mtime(), meta.mtime_nsec() as u32)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// git's order of index entries: by path bytes, then stage.
fn entry_order(index: &Index, e: &Entry) -> (Vec<u8>, u16) {
    (index.path(e).to_vec(), (e.flags >> 12) & 3)
}

/// A split index: `split`'s entries over `shared`'s (git's `merge_base_index`). Shared
/// entries at the replace bitmap's positions take the stat data and object name of
/// `split`'s first entries, in order (their paths are empty in the file); those at the delete
/// bitmap's positions go; `split`'s remaining entries are added, replacing a shared entry of
/// the same path and stage.
fn merge_split(shared: Index, split: Index, link: &Link) -> Option<Index> {
    let mut entries = shared.entries;
    let mut paths = shared.paths;
    let offset = paths.len();
    paths.extend_from_slice(&split.paths);
    let mut own = split.entries.into_iter().map(|mut e| {
        e.path = e.path.start + offset..e.path.end + offset;
        e
    });
    for &pos in &link.replace {
        let new = own.next()?;
        let old = entries.get_mut(pos)?;
        if !new.path.is_empty() {
            return None;
        }
        let path = old.path.clone();
        *old = Entry { path, ..new };
    }
    let mut deleted = vec![false; entries.len()];
    for &pos in &link.delete {
        *deleted.get_mut(pos)? = true;
    }
    let mut flags = deleted.into_iter();
    entries.retain(|_| !flags.next().unwrap_or(false));
    let added: Vec<Entry> = own.collect();
    let mut merged = Index {
        entries: Vec::new(),
        root_tree: None,
        cached_tree: split.cached_tree,
        link: None,
        sparse: shared.sparse || split.sparse,
        written: split.written,
        paths,
    };
    if added.is_empty() {
        merged.entries = entries;
        return Some(merged);
    }
    if added.iter().any(|e| e.path.is_empty()) {
        return None;
    }
    // Both runs are sorted: merge them, an added entry winning over a shared one.
    let mut out = Vec::with_capacity(entries.len() + added.len());
    let mut base = entries.into_iter().peekable();
    for a in added {
        let key = entry_order(&merged, &a);
        while let Some(b) = base.peek() {
            let bkey = entry_order(&merged, b);
            if bkey < key {
                out.extend(base.next());
            } else {
                if bkey == key {
                    base.next();
                }
                break;
            }
        }
        out.push(a);
    }
    out.extend(base);
    merged.entries = out;
    Some(merged)
}

/// Reads one EWAH bitmap as git serialises it (`ewah_read_mmap`: bit count, word count, the
/// 64-bit words big-endian, the position of the last run-length word) and returns the
/// positions of its set bits, ascending.
fn ewah_bits(c: &mut Cursor<'_>) -> Option<Vec<usize>> {
    let bit_size = c.u32()? as usize;
    let words = c.u32()? as usize;
    let mut data = Vec::with_capacity(words.min(c.bytes.len() / 8));
    for _ in 0..words {
        let run = c.take(8)?;
        data.push(u64::from_be_bytes(run.try_into().ok()?));
    }
    let _last_rlw = c.u32()?;
    let mut bits = Vec::new();
    let mut pos: usize = 0;
    let mut i = 0;
    while i < data.len() {
        // A run-length word: bit 0 the run's bit, bits 1–32 its length in words, bits 33–63
        // how many literal words follow.
        let rlw = data[i];
        let run_bit = rlw & 1 != 0;
        let run_len = ((rlw >> 1) & 0xffff_ffff) as usize;
        let literals = (rlw >> 33) as usize;
        let run_bits = run_len.checked_mul(64)?;
        if run_bit {
            if pos.checked_add(run_bits)? > bit_size.checked_add(64)? {
                return None;
            }
            bits.extend(pos..pos + run_bits);
        }
        pos = pos.checked_add(run_bits)?;
        for k in 0..literals {
            let word = *data.get(i + 1 + k)?;
            for b in 0..64 {
                if word >> b & 1 != 0 {
                    bits.push(pos + b);
                }
            }
            pos = pos.checked_add(64)?;
        }
        i += 1 + literals;
    }
    bits.retain(|&b| b < bit_size);
    Some(bits)
}

/// Whether an index time matches a file's; nanoseconds only when both sides have them (an
/// index written without them holds 0).
fn same_time(recorded: (u32, u32), (secs, nanos): (i64, u32), seconds_only: bool) -> bool {
    recorded.0 == secs as u32 && (seconds_only || recorded.1 == 0 || recorded.1 == nanos)
}

/// The position of the first NUL in `bytes`, eight bytes at a time (index version 4 ends
/// each of its 20,000 paths with one).
fn nul_at(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(word) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(word.try_into().ok()?);
        // Some byte of `w` is zero.
        if w.wrapping_sub(ONES) & !w & HIGH != 0 {
            break;
        }
        at += 8;
    }
    bytes[at..].iter().position(|&b| b == 0).map(|p| at + p)
}

/// Reads big-endian numbers and byte runs from the index, `None` past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let run = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(run)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    /// Bytes up to (not including) the next NUL, which is consumed.
    fn until_nul(&mut self) -> Option<&'a [u8]> {
        let len = nul_at(self.bytes.get(self.at..)?)?;
        let run = self.take(len)?;
        self.at += 1;
        Some(run)
    }

    /// git's offset varint (index version 4's path prefix lengths).
    fn varint(&mut self) -> Option<usize> {
        let mut byte = self.take(1)?[0];
        let mut value = usize::from(byte & 0x7f);
        while byte & 0x80 != 0 {
            byte = self.take(1)?[0];
            value = value
                .checked_add(1)?
                .checked_mul(128)?
                .checked_add(usize::from(byte & 0x7f))?;
        }
        Some(value)
    }
}

/// Parses an index file (git's `gitformat-index`: versions 2, 3 and 4). The trailing checksum
/// is not verified, as `git status` does not verify it either.
pub(crate) fn parse(bytes: &[u8], hash_len: usize, written: (i64, u32)) -> Option<Index> {
    let body_end = bytes.len().checked_sub(hash_len)?;
    let mut c = Cursor {
        bytes: &bytes[..body_end],
        at: 0,
    };
    if c.take(4)? != b"DIRC" {
        return None;
    }
    let version = c.u32()?;
    if !(2..=4).contains(&version) {
        return None;
    }
    let count = c.u32()? as usize;
    // Each entry takes at least 40 bytes of stat data: a count beyond that is a broken file.
    if count > body_end / 40 {
        return None;
    }
    let mut entries = Vec::with_capacity(count);
    let mut paths: Vec<u8> = Vec::new();
    let mut previous: Range<usize> = 0..0;
    for _ in 0..count {
        let start = c.at;
        let ctime = (c.u32()?, c.u32()?);
        let mtime = (c.u32()?, c.u32()?);
        let _dev = c.u32()?;
        let ino = c.u32()?;
        let mode = c.u32()?;
        let uid = c.u32()?;
        let gid = c.u32()?;
        let size = c.u32()?;
        let mut id = [0u8; 32];
        id.get_mut(..hash_len)?.copy_from_slice(c.take(hash_len)?);
        let flags = c.u16()?;
        let ext_flags = if flags & FLAG_EXTENDED != 0 {
            if version < 3 {
                return None;
            }
            c.u16()?
        } else {
            0
        };
        let path_start = paths.len();
        if version == 4 {
            let strip = c.varint()?;
            let keep = previous.len().checked_sub(strip)?;
            paths.extend_from_within(previous.start..previous.start + keep);
            paths.extend_from_slice(c.until_nul()?);
        } else {
            // The flags hold the name's length unless it is 0xfff or more (git's
            // `CE_NAMEMASK`): the name is that long and ends in a NUL, or the file is
            // broken.
            let name = match usize::from(flags & NAME_MASK) {
                NAME_MASK_USIZE => c.until_nul()?,
                len => {
                    let name = c.take(len)?;
                    if c.take(1)? != [0] || nul_at(name).is_some() {
                        return None;
                    }
                    name
                }
            };
            paths.extend_from_slice(name);
            // Entries are padded with 1–8 NULs to a multiple of 8 bytes (the one that ended
            // the name included).
            let unpadded = c.at - start - 1;
            let padded = (unpadded + 8) & !7;
            c.take(padded - unpadded - 1)?;
        }
        let path = path_start..paths.len();
        previous = path.clone();
        entries.push(Entry {
            ctime,
            mtime,
            ino,
            mode,
            uid,
            gid,
            size,
            id,
            flags,
            ext_flags,
            path,
        });
    }
    let mut cached_tree = CachedTree::default();
    let mut link = None;
    let mut sparse = false;
    while c.at < body_end {
        let signature = c.take(4)?;
        let size = c.u32()? as usize;
        let data = c.take(size)?;
        match signature {
            b"TREE" => cached_tree = read_cached_tree(data, hash_len).unwrap_or_default(),
            // A split index: the entries stand on a shared index.
            b"link" => {
                let mut l = Cursor { bytes: data, at: 0 };
                let shared = l.take(hash_len)?.to_vec();
                let (delete, replace) = if l.at == data.len() {
                    (Vec::new(), Vec::new())
                } else {
                    (ewah_bits(&mut l)?, ewah_bits(&mut l)?)
                };
                link = Some(Link {
                    shared,
                    delete,
                    replace,
                });
            }
            // A sparse index: directory entries (skip-worktree) stand for whole trees.
            b"sdir" => sparse = true,
            // Optional extensions (capital first letter: untracked cache, fsmonitor,
            // resolve-undo, entry offsets) carry nothing the check needs; a required one
            // this reader does not know changes what the entries mean.
            [b'A'..=b'Z', ..] => {}
            _ => return None,
        }
    }
    let mut index = Index {
        entries,
        root_tree: None,
        cached_tree,
        link,
        sparse,
        written,
        paths,
    };
    if index.link.is_none() {
        index.settle_root();
    }
    Some(index)
}

/// The `TREE` extension: each directory as git writes it, depth first (its name, a NUL, its
/// entry count, a space, its subdirectory count, a newline, and its object name unless the
/// count is negative, that is invalidated), then its subdirectories. The valid ones, by path
/// prefix; `None` for a broken extension (then nothing of it is trusted).
fn read_cached_tree(data: &[u8], hash_len: usize) -> Option<CachedTree> {
    let mut c = Cursor { bytes: data, at: 0 };
    let mut dirs = std::collections::HashMap::new();
    let mut prefix: Vec<u8> = Vec::new();
    // The directories being read: where each one's prefix ends, its subdirectories to come.
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut root = true;
    while c.at < data.len() {
        while open.last().is_some_and(|&(_, left)| left == 0) {
            open.pop();
        }
        let name = c.until_nul()?;
        if root {
            if !name.is_empty() {
                return None;
            }
        } else {
            let parent = open.last_mut()?;
            parent.1 -= 1;
            if name.is_empty() || name.contains(&b'/') {
                return None;
            }
            prefix.truncate(parent.0);
            prefix.extend_from_slice(name);
            prefix.push(b'/');
        }
        root = false;
        let line_len = c.bytes.get(c.at..)?.iter().position(|&b| b == b'\n')?;
        let line = std::str::from_utf8(c.take(line_len)?).ok()?;
        c.take(1)?;
        let (count, subdirs) = line.split_once(' ')?;
        let count: i64 = count.parse().ok()?;
        let subdirs: usize = subdirs.parse().ok()?;
        // Each subdirectory takes at least 5 bytes: a count beyond that is a broken file.
        if subdirs > data.len() {
            return None;
        }
        if count >= 0 {
            let id = c.take(hash_len)?.to_vec();
            dirs.insert(prefix.clone(), (usize::try_from(count).ok()?, id));
        }
        open.push((prefix.len(), subdirs));
    }
    Some(CachedTree { dirs })
}

/// A mode as libgit2 normalises a tree entry's (`normalize_filemode`): any executable bit
/// is `0o100755`, other files `0o100644`.
pub(crate) fn normal_mode(mode: u32) -> u32 {
    match mode & S_IFMT {
        MODE_TREE => MODE_TREE,
        _ if mode & 0o111 != 0 => MODE_EXEC,
        MODE_GITLINK => MODE_GITLINK,
        S_IFLNK => MODE_SYMLINK,
        _ => 0o100644,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_directories_open_from_the_ones_they_share_and_never_through_a_link() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = ["a", "a/b", "a/b/c", "a/b2", "a/bc", "ab", "b"];
        for d in dirs {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
            // A file that only this directory holds.
            std::fs::write(tmp.path().join(d).join(d.replace('/', "_")), "").unwrap();
        }
        std::os::unix::fs::symlink("b", tmp.path().join("a/link")).unwrap();
        std::fs::write(tmp.path().join("a/file"), "").unwrap();
        let root = rustix::fs::open(
            tmp.path(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let mut leading = Leading::default();
        let mut buf = Vec::new();
        let order = [
            "a/b/c",
            "a/b",
            "a/b/c",
            "a/b2",
            "a/bc",
            "a",
            "a/link/c",
            "a/link/c",
            "a/b",
            "a/file",
            "a/b/c",
            "ab",
            "b",
            "a/missing/x",
            "a/b2",
            "a",
            "b",
        ];
        for parent in order {
            let got = leading.open(root.as_fd(), parent.as_bytes(), &mut buf);
            let expect_open = dirs.contains(&parent);
            assert_eq!(got.is_some(), expect_open, "{parent}");
            if let Some(fd) = got {
                let marker = parent.replace('/', "_");
                assert!(
                    statat(fd, marker.as_str(), AtFlags::SYMLINK_NOFOLLOW).is_ok(),
                    "{parent} opened some other directory"
                );
            }
        }
    }

    /// A version-2 entry as git writes it: stat data, a 20-byte name, flags, path, padding.
    fn entry_v2(path: &str, size: u32) -> Vec<u8> {
        let mut e = Vec::new();
        for v in [1u32, 0, 2, 0, 0, 7, 0o100644, 0, 0, size] {
            e.extend_from_slice(&v.to_be_bytes());
        }
        e.extend_from_slice(&[0xab; 20]);
        e.extend_from_slice(&(path.len().min(0xfff) as u16).to_be_bytes());
        e.extend_from_slice(path.as_bytes());
        let unpadded = e.len();
        e.resize((unpadded + 8) & !7, 0);
        e
    }

    fn index_v2(paths: &[&str], extensions: &[u8]) -> Vec<u8> {
        let mut f = b"DIRC".to_vec();
        f.extend_from_slice(&2u32.to_be_bytes());
        f.extend_from_slice(&(paths.len() as u32).to_be_bytes());
        for p in paths {
            f.extend(entry_v2(p, 5));
        }
        f.extend_from_slice(extensions);
        f.extend_from_slice(&[0; 20]);
        f
    }

    #[test]
    fn reads_entries_and_the_cached_root() {
        let mut tree = b"\x002 1\n".to_vec();
        tree.extend_from_slice(&[0xcd; 20]);
        let mut ext = b"TREE".to_vec();
        ext.extend_from_slice(&(tree.len() as u32).to_be_bytes());
        ext.extend(tree);
        let bytes = index_v2(&["a.txt", "dir/b"], &ext);
        let index = parse(&bytes, 20, (0, 0)).unwrap();
        let paths: Vec<_> = index.entries.iter().map(|e| index.path(e)).collect();
        assert_eq!(paths, [&b"a.txt"[..], b"dir/b"]);
        assert_eq!(index.entries[1].size, 5);
        assert_eq!(index.root_tree, Some(vec![0xcd; 20]));
    }

    #[test]
    fn names_of_0xfff_bytes_or_more_are_read_to_their_nul() {
        let long = "d/".repeat(2100) + "f";
        let bytes = index_v2(&["a", &long, "z"], b"");
        let index = parse(&bytes, 20, (0, 0)).unwrap();
        let paths: Vec<_> = index.entries.iter().map(|e| index.path(e)).collect();
        assert_eq!(paths, [&b"a"[..], long.as_bytes(), b"z"]);
    }

    #[test]
    fn a_recorded_name_length_that_does_not_end_at_a_nul_is_a_broken_file() {
        let mut bytes = index_v2(&["abc", "z"], b"");
        // The first entry's flags (after 62 bytes of stat data and name) say 5, not 3.
        bytes[12 + 60..12 + 62].copy_from_slice(&5u16.to_be_bytes());
        assert!(parse(&bytes, 20, (0, 0)).is_none());
    }

    #[test]
    fn nul_search_finds_the_first_at_any_offset() {
        for len in 0..40 {
            let mut bytes = vec![7u8; len];
            assert_eq!(nul_at(&bytes), None);
            for at in 0..len {
                bytes[at] = 0;
                assert_eq!(nul_at(&bytes), Some(at), "{len} {at}");
                bytes[at] = 7;
            }
        }
    }

    #[test]
    fn an_invalidated_cached_root_is_none() {
        let mut ext = b"TREE".to_vec();
        ext.extend_from_slice(&6u32.to_be_bytes());
        ext.extend_from_slice(b"\x00-1 1\n");
        let index = parse(&index_v2(&["a"], &ext), 20, (0, 0)).unwrap();
        assert_eq!(index.root_tree, None);
    }

    fn tree_ext(body: &[u8]) -> Vec<u8> {
        let mut ext = b"TREE".to_vec();
        ext.extend_from_slice(&(body.len() as u32).to_be_bytes());
        ext.extend_from_slice(body);
        ext
    }

    #[test]
    fn the_cached_tree_gives_each_valid_directory_by_prefix() {
        // root (valid) > a (valid) > b (invalidated); root > c (valid)
        let mut body = b"\x003 2\n".to_vec();
        body.extend_from_slice(&[1; 20]);
        body.extend_from_slice(b"a\x002 1\n");
        body.extend_from_slice(&[2; 20]);
        body.extend_from_slice(b"b\x00-1 0\n");
        body.extend_from_slice(b"c\x001 0\n");
        body.extend_from_slice(&[3; 20]);
        let tree = read_cached_tree(&body, 20).unwrap();
        let mut dirs: Vec<_> = tree
            .dirs
            .iter()
            .map(|(k, v)| (k.clone(), v.0, v.1[0]))
            .collect();
        dirs.sort();
        assert_eq!(
            dirs,
            [
                (b"".to_vec(), 3, 1),
                (b"a/".to_vec(), 2, 2),
                (b"c/".to_vec(), 1, 3)
            ]
        );
        for broken in [
            &b"x\x001 0\n"[..],
            b"\x00one 0\n",
            b"\x00-1 1\na/b\x00-1 0\n",
        ] {
            assert!(read_cached_tree(broken, 20).is_none(), "{broken:?}");
        }
    }

    #[test]
    fn staged_changes_trust_a_cached_directory_only_when_it_covers_its_entries() {
        let blob = |name: &str| TreeItem {
            name: name.as_bytes().to_vec(),
            mode: 0o100644,
            id: vec![0xab; 20],
        };
        let (head, a) = (vec![9; 20], vec![10; 20]);
        let store = |id: &[u8]| -> Option<Vec<TreeItem>> {
            match id[0] {
                9 => Some(vec![TreeItem {
                    name: b"a".to_vec(),
                    mode: MODE_TREE,
                    id: vec![10; 20],
                }]),
                10 => Some(vec![blob("x"), blob("y"), blob("z")]),
                _ => None,
            }
        };
        for (count, reads_a) in [(3, false), (2, true)] {
            let mut body = b"\x00-1 1\n".to_vec();
            body.extend_from_slice(format!("a\x00{count} 0\n").as_bytes());
            body.extend_from_slice(&a);
            let index = parse(
                &index_v2(&["a/x", "a/y", "a/z"], &tree_ext(&body)),
                20,
                (0, 0),
            )
            .unwrap();
            let mut read = Vec::new();
            let changed = index
                .staged_changes(&head, &mut |id| {
                    read.push(id[0]);
                    store(id)
                })
                .unwrap();
            assert!(changed.is_empty(), "{changed:?}");
            assert_eq!(read.contains(&10), reads_a, "count {count}: read {read:?}");
        }
        // HEAD without `a/y`, and with a `b` the index lacks; a tree that cannot be read.
        let index = parse(&index_v2(&["a/x", "a/y", "a/z"], b""), 20, (0, 0)).unwrap();
        let changed = index
            .staged_changes(&head, &mut |id| match id[0] {
                10 => Some(vec![blob("x"), blob("b"), blob("z")]),
                _ => store(id),
            })
            .unwrap();
        assert_eq!(changed, [b"a/b".to_vec(), b"a/y".to_vec()]);
        assert!(index
            .staged_changes(&[7; 20], &mut |id| store(id))
            .is_none());
    }

    #[test]
    fn unknown_required_extensions_and_broken_files_are_left_to_libgit2() {
        let mut unknown = b"abcd".to_vec();
        unknown.extend_from_slice(&20u32.to_be_bytes());
        unknown.extend_from_slice(&[0; 20]);
        assert!(parse(&index_v2(&["a"], &unknown), 20, (0, 0)).is_none());
        let mut link = unknown.clone();
        link[..4].copy_from_slice(b"link");
        assert!(parse(&index_v2(&["a"], &link), 20, (0, 0)).is_some_and(|i| i.link.is_some()));
        let whole = index_v2(&["a", "b"], b"");
        for cut in [0, 3, 12, 30, whole.len() - 21] {
            assert!(parse(&whole[..cut], 20, (0, 0)).is_none(), "cut at {cut}");
        }
        let mut huge = whole.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse(&huge, 20, (0, 0)).is_none());
    }

    /// EWAH words as git's `ewah_serialize` writes them.
    fn ewah(bit_size: u32, words: &[u64]) -> Vec<u8> {
        let mut b = bit_size.to_be_bytes().to_vec();
        b.extend_from_slice(&(words.len() as u32).to_be_bytes());
        for w in words {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b.extend_from_slice(&0u32.to_be_bytes());
        b
    }

    #[test]
    fn ewah_bitmaps_decode_runs_and_literals() {
        // A run of two all-ones words, then one literal word with bits 0 and 5 set.
        let rlw = 1 | (2 << 1) | (1 << 33);
        let bytes = ewah(200, &[rlw, 0b10_0001]);
        let bits = ewah_bits(&mut Cursor {
            bytes: &bytes,
            at: 0,
        })
        .unwrap();
        let want: Vec<usize> = (0..128).chain([128, 133]).collect();
        assert_eq!(bits, want);
        // A run of zeros, then a literal: only the literal's bits, past the run.
        let bytes = ewah(100, &[(1 << 1) | (1 << 33), 0b100]);
        assert_eq!(
            ewah_bits(&mut Cursor {
                bytes: &bytes,
                at: 0
            })
            .unwrap(),
            [66]
        );
        // Bits past the bitmap's size are not entries.
        let bytes = ewah(3, &[1 << 33, 0b1_0001]);
        assert_eq!(
            ewah_bits(&mut Cursor {
                bytes: &bytes,
                at: 0
            })
            .unwrap(),
            [0]
        );
        // A literal count beyond the words is a broken bitmap.
        let bytes = ewah(64, &[2 << 33, 1]);
        assert!(ewah_bits(&mut Cursor {
            bytes: &bytes,
            at: 0
        })
        .is_none());
    }
}
