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
//! This is only an accelerator. Whatever it does not understand (an index version or a
//! required extension it does not know, a split or sparse index, a missing or invalid cached
//! tree) returns `None`, and the caller asks libgit2, which stays the judge of content: the
//! suspects are handed to libgit2's status, with the repository's filters and submodule rules.

use std::ffi::CStr;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{statat, AtFlags, Mode, OFlags, Stat};

/// The parts of the index file the dirty check uses.
#[derive(Debug)]
pub(crate) struct Index {
    pub(crate) entries: Vec<Entry>,
    /// The cached root tree's object name, when the `TREE` extension holds a valid one.
    pub(crate) root_tree: Option<Vec<u8>>,
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
    flags: u16,
    ext_flags: u16,
    path: Range<usize>,
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
const MODE_SYMLINK: u32 = 0o120000;
const MODE_EXEC: u32 = 0o100755;
const S_IFMT: u32 = 0o170000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const FLAG_ASSUME_VALID: u16 = 0x8000;
const FLAG_EXTENDED: u16 = 0x4000;
const EXT_SKIP_WORKTREE: u16 = 0x4000;
const EXT_INTENT_TO_ADD: u16 = 0x2000;
/// The index file's size limit here; a larger one goes to libgit2.
const MAX_INDEX: u64 = 512 << 20;

impl Index {
    /// Reads the index file at `path` for a repository whose object names are `hash_len`
    /// bytes. `None` when the file is missing, unreadable or holds anything this reader does
    /// not understand.
    pub(crate) fn read(path: &Path, hash_len: usize) -> Option<Index> {
        let mut file = std::fs::File::open(path).ok()?;
        let meta = file.metadata().ok()?;
        if meta.len() > MAX_INDEX {
            return None;
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        file.read_to_end(&mut bytes).ok()?;
        let written = (meta.mtime(), meta.mtime_nsec() as u32);
        parse(&bytes, hash_len, written)
    }

    /// An entry's path, relative to the work tree.
    pub(crate) fn path(&self, e: &Entry) -> &[u8] {
        &self.paths[e.path.clone()]
    }

    /// Whether any entry is a merge conflict (stage 1–3).
    pub(crate) fn has_conflicts(&self) -> bool {
        self.entries.iter().any(|e| (e.flags >> 12) & 3 != 0)
    }

    /// The entries whose work-tree file may differ from the index, in index order.
    pub(crate) fn suspects(&self, workdir: &Path, rules: StatRules) -> Vec<&Entry> {
        // Paths are looked up relative to the work tree's directory, as `git status` does
        // from its working directory: the kernel walks three components of
        // `src/dir/file.rs`, not every component of an absolute path too.
        let Ok(dir) = rustix::fs::open(
            workdir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            return self.entries.iter().collect();
        };
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        // Below a few thousand files a thread costs more than it saves.
        let threads = threads.min(self.entries.len() / 2000 + 1);
        let chunk = self.entries.len().div_ceil(threads).max(1);
        let dir = &dir;
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .entries
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        // One NUL-terminated path buffer a thread.
                        let mut buf = Vec::new();
                        part.iter()
                            .filter(|e| {
                                buf.clear();
                                buf.extend_from_slice(self.path(e));
                                buf.push(0);
                                let stat = CStr::from_bytes_with_nul(&buf)
                                    .ok()
                                    .and_then(|p| statat(dir, p, AtFlags::SYMLINK_NOFOLLOW).ok());
                                self.may_differ(stat.as_ref(), e, rules)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                // A stat pass thread only calls lstat and compares numbers; if one panicked
                // anyway, count its whole part as suspect rather than lose it.
                .zip(self.entries.chunks(chunk))
                .flat_map(|(h, part)| h.join().unwrap_or_else(|_| part.iter().collect()))
                .collect()
        })
    }

    /// Whether the file may differ from entry `e`, given its `lstat` (`None`: it is gone or
    /// cannot be looked at).
    // `struct stat`'s field types differ between Linux and macOS: the conversions are
    // no-ops on one of them.
    #[allow(clippy::useless_conversion)]
    fn may_differ(&self, stat: Option<&Stat>, e: &Entry, rules: StatRules) -> bool {
        let stage = (e.flags >> 12) & 3;
        if stage != 0 || e.ext_flags & EXT_INTENT_TO_ADD != 0 || e.mode == MODE_GITLINK {
            // Conflicts, `git add -N` entries and submodules: libgit2 decides.
            return true;
        }
        if e.flags & FLAG_ASSUME_VALID != 0 || e.ext_flags & EXT_SKIP_WORKTREE != 0 {
            // `git status` does not look at these either.
            return false;
        }
        let Some(st) = stat else {
            return true;
        };
        let mode = u32::from(st.st_mode);
        let (is_file, is_link) = (mode & S_IFMT == S_IFREG, mode & S_IFMT == S_IFLNK);
        let want_link = e.mode == MODE_SYMLINK && rules.symlinks;
        if (want_link && !is_link) || (!want_link && !is_file) {
            return true;
        }
        if rules.filemode && is_file && (mode & 0o100 != 0) != (e.mode == MODE_EXEC) {
            return true;
        }
        // The index keeps sizes, times and inode numbers in 32 bits.
        if st.st_size as u32 != e.size {
            return true;
        }
        let nanos = |n| u32::try_from(n).unwrap_or(u32::MAX);
        let mtime = (i64::from(st.st_mtime), nanos(st.st_mtime_nsec));
        if !same_time(e.mtime, mtime, rules.minimal) {
            return true;
        }
        if !rules.minimal {
            let ctime = (i64::from(st.st_ctime), nanos(st.st_ctime_nsec));
            if rules.trust_ctime && !same_time(e.ctime, ctime, false) {
                return true;
            }
            if st.st_ino as u32 != e.ino || st.st_uid != e.uid || st.st_gid != e.gid {
                return true;
            }
        }
        // Racily clean: the file may have changed in the same instant the index was written,
        // so equal stat data proves nothing (git's `is_racy_timestamp`).
        mtime >= self.written
    }
}

/// Whether an index time matches a file's; nanoseconds only when both sides have them (an
/// index written without them holds 0).
fn same_time(recorded: (u32, u32), (secs, nanos): (i64, u32), seconds_only: bool) -> bool {
    recorded.0 == secs as u32 && (seconds_only || recorded.1 == 0 || recorded.1 == nanos)
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
        let len = self.bytes.get(self.at..)?.iter().position(|&b| b == 0)?;
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
        c.take(hash_len)?;
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
            let name = c.until_nul()?;
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
            flags,
            ext_flags,
            path,
        });
    }
    let mut root_tree = None;
    while c.at < body_end {
        let signature = c.take(4)?;
        let size = c.u32()? as usize;
        let data = c.take(size)?;
        match signature {
            b"TREE" => root_tree = cached_root(data, hash_len, count),
            // Optional extensions (capital first letter) carry nothing the check needs;
            // required ones (a split index's `link`, a sparse index's `sdir`) change what the
            // entries mean, so the check is left to libgit2.
            [b'A'..=b'Z', ..] => {}
            _ => return None,
        }
    }
    Some(Index {
        entries,
        root_tree,
        written,
        paths,
    })
}

/// The root of the cached tree, when it is valid and covers all `count` entries.
fn cached_root(data: &[u8], hash_len: usize, count: usize) -> Option<Vec<u8>> {
    let mut c = Cursor { bytes: data, at: 0 };
    if !c.until_nul()?.is_empty() {
        return None;
    }
    let line_len = c.bytes.get(c.at..)?.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(c.take(line_len)?).ok()?;
    c.take(1)?;
    let (entry_count, _subtrees) = line.split_once(' ')?;
    let entry_count: i64 = entry_count.parse().ok()?;
    if entry_count < 0 || entry_count as usize != count {
        return None;
    }
    Some(c.take(hash_len)?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A version-2 entry as git writes it: stat data, a 20-byte name, flags, path, padding.
    fn entry_v2(path: &str, size: u32) -> Vec<u8> {
        let mut e = Vec::new();
        for v in [1u32, 0, 2, 0, 0, 7, 0o100644, 0, 0, size] {
            e.extend_from_slice(&v.to_be_bytes());
        }
        e.extend_from_slice(&[0xab; 20]);
        e.extend_from_slice(&(path.len() as u16).to_be_bytes());
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
    fn an_invalidated_cached_root_is_none() {
        let mut ext = b"TREE".to_vec();
        ext.extend_from_slice(&6u32.to_be_bytes());
        ext.extend_from_slice(b"\x00-1 1\n");
        let index = parse(&index_v2(&["a"], &ext), 20, (0, 0)).unwrap();
        assert_eq!(index.root_tree, None);
    }

    #[test]
    fn required_extensions_and_broken_files_are_left_to_libgit2() {
        let mut link = b"link".to_vec();
        link.extend_from_slice(&20u32.to_be_bytes());
        link.extend_from_slice(&[0; 20]);
        assert!(parse(&index_v2(&["a"], &link), 20, (0, 0)).is_none());
        let whole = index_v2(&["a", "b"], b"");
        for cut in [0, 3, 12, 30, whole.len() - 21] {
            assert!(parse(&whole[..cut], 20, (0, 0)).is_none(), "cut at {cut}");
        }
        let mut huge = whole.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse(&huge, 20, (0, 0)).is_none());
    }
}
