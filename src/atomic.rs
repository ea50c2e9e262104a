//! Atomic file replacement: write a temporary file in the same directory, fsync it, rename
//! it over the target, fsync the directory. A reader sees the old bytes or the new, never a
//! mix; a failure at any point leaves the target as it was and no temporary file behind.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// A temporary name beside `target` that no other run will pick.
fn temp_path(target: &Path) -> PathBuf {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("file");
    target.with_file_name(format!(".{name}.oci-stamp-{:016x}.tmp", h.finish()))
}

/// Removes temporary files a killed run left in `dir` (call only while holding the lock
/// that every writer of `dir` takes).
pub(crate) fn remove_stale(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.contains(".oci-stamp-") && name.ends_with(".tmp") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Replaces `target` with `bytes`, keeping the target's permissions when it exists.
pub(crate) fn write(target: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_file(target, bytes, true)?;
    sync_dir(target);
    Ok(())
}

/// Replaces `target`, an output a later step reads (`collect --write`), with `bytes`: by
/// rename, so a reader never sees part of it, but without the fsyncs that make a target
/// survive a crash (a crashed build re-runs its steps). Only a regular file, or a new one.
pub(crate) fn replace_output(target: &Path, bytes: &[u8]) -> Result<(), Error> {
    match fs::symlink_metadata(target) {
        Ok(m) if !m.file_type().is_file() => Err(Error::BadInput {
            path: target.to_path_buf(),
            message: "is not a regular file; --write replaces a file (or makes a new one) by renaming, so it cannot write to a link, a device or a pipe — use --format for standard output".into(),
        }),
        _ => write_file(target, bytes, false),
    }
}

/// Writes several new files (blobs), each atomically, with one directory sync per
/// directory at the end instead of one per file.
pub(crate) fn write_all<'a>(
    files: impl IntoIterator<Item = (&'a Path, &'a [u8])>,
) -> Result<(), Error> {
    let mut dirs: Vec<&Path> = Vec::new();
    for (target, bytes) in files {
        write_file(target, bytes, true)?;
        if let Some(dir) = target.parent() {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    for dir in dirs {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Makes a rename in `target`'s directory durable; some filesystems refuse fsync on a
/// directory, which is not an error.
fn sync_dir(target: &Path) {
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

/// Refuses to replace a symbolic link: the rename would put a copy in its place and leave
/// the file it points to (maybe outside the target) as it was.
fn refuse_symlink(target: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::BadInput {
            path: target.to_path_buf(),
            message: format!(
                "is a symbolic link (to {}); oci-stamp replaces files by renaming a new one over them, which would turn the link into a copy — annotate the file it points to",
                fs::read_link(target).map_or_else(|_| "?".into(), |l| l.display().to_string())
            ),
        }),
        _ => Ok(()),
    }
}

/// Temporary file, fsync (with `sync`), rename: the file's bytes are durable before its
/// name appears.
fn write_file(target: &Path, bytes: &[u8], sync: bool) -> Result<(), Error> {
    refuse_symlink(target)?;
    let temp = temp_path(target);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)?;
        if let Ok(meta) = fs::metadata(target) {
            f.set_permissions(meta.permissions())?;
        }
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&temp, target)?;
        Ok(())
    })();
    result.map_err(|e: std::io::Error| {
        let _ = fs::remove_file(&temp);
        Error::io(target, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("index.json");
        fs::write(&target, b"old").unwrap();
        write(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symbolic_link_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, b"old").unwrap();
        let link = dir.path().join("index.json");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let e = write(&link, b"new").unwrap_err().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert_eq!(fs::read(&elsewhere).unwrap(), b"old");
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("missing-dir").join("x");
        assert!(write(&target, b"new").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
