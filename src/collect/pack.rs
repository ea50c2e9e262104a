//! Commit objects read straight from the repository's pack files, only as far as the
//! describe walk needs them: the `tree`, `parent`, `author` and `committer` lines.
//!
//! Without a commit-graph, the walk reads up to [`super::git::DESCRIBE_LIMIT`] commits, and
//! through libgit2 each is inflated whole into a buffer of exactly its size. On real
//! histories most of a commit is its message (ruff: 500 commits of 1.7 KB on average), and a
//! buffer that small keeps zlib off its fast path, so the walk was 36 M of ruff's 47 M
//! instructions. Here an object is found through the pack's index (`.idx` version 2: a
//! fan-out table, then the sorted object names, then their offsets), its entry header read,
//! and its zlib stream inflated into a buffer of a few hundred bytes, a little at a time,
//! until the committer line is complete.
//!
//! Every read is a positioned read checked against the file's size. The object names are
//! SHA-1 digests, uniformly spread, so an object's place among the names of its fan-out
//! bucket is guessed from its next four bytes and one read of [`WINDOW`] names around the
//! guess nearly always holds it; when not, a binary search finishes the lookup. Whatever this
//! reader does not take (an index of another version, a delta, a loose object, a pack of an
//! alternate object store) is `None`, and the caller reads the commit through libgit2.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use flate2::{Decompress, FlushDecompress, Status};

/// `.idx` version 2's magic number.
const IDX_MAGIC: [u8; 4] = [0xff, b't', b'O', b'c'];
/// The header and the fan-out table of an `.idx` file.
const IDX_HEADER: u64 = 8 + 256 * 4;
/// A pack entry's type for a commit.
const OBJ_COMMIT: u8 = 1;
/// Names read around the guessed position of one.
const WINDOW: u32 = 32;
/// Compressed bytes read from the pack at a time.
const CHUNK: usize = 2048;
/// The output buffer a commit's text is inflated into first: a commit's header lines are
/// about 300 bytes, and zlib takes its fast path only with 258 bytes of room or more (an
/// exactly-sized buffer for a 211-byte commit kept every byte on the slow path).
const FIRST_OUT: usize = 768;

/// The pack files of one object directory.
pub(crate) struct Packs {
    packs: Vec<Pack>,
    hash_len: usize,
    /// The inflater and the buffer of compressed bytes, reused from commit to commit.
    inflate: RefCell<(Decompress, Vec<u8>)>,
}

struct Pack {
    idx: File,
    pack: File,
    pack_len: u64,
    objects: u32,
    fanout: Box<[u32; 256]>,
}

impl Packs {
    /// The packs under `objects/pack` whose index this reader takes; `None` when there is
    /// none.
    pub(crate) fn open(objects: &Path, hash_len: usize) -> Option<Packs> {
        let dir = objects.join("pack");
        let mut packs = Vec::new();
        for entry in std::fs::read_dir(&dir).ok()?.filter_map(Result::ok) {
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".idx")) else {
                continue;
            };
            if let Some(pack) = Pack::open(&dir, stem, hash_len) {
                packs.push(pack);
            }
        }
        (!packs.is_empty()).then(|| Packs {
            packs,
            hash_len,
            inflate: RefCell::new((Decompress::new(true), vec![0u8; CHUNK])),
        })
    }

    /// The beginning of commit `id`'s text, through its committer line (or all of it, when
    /// shorter); `None` when no pack here holds it whole (not a delta), or it is not a
    /// commit.
    pub(crate) fn commit_text(&self, id: &[u8]) -> Option<Vec<u8>> {
        if id.len() != self.hash_len {
            return None;
        }
        let (pack, at) = self
            .packs
            .iter()
            .find_map(|p| Some((p, p.offset(p.find(id, self.hash_len)?, self.hash_len)?)))?;
        let (z, input) = &mut *self.inflate.borrow_mut();
        pack.commit_text(at, self.hash_len, z, input)
    }
}

impl Pack {
    fn open(dir: &Path, stem: &str, hash_len: usize) -> Option<Pack> {
        let idx = File::open(dir.join(format!("{stem}.idx"))).ok()?;
        let pack = File::open(dir.join(format!("{stem}.pack"))).ok()?;
        let mut head = [0u8; IDX_HEADER as usize];
        idx.read_exact_at(&mut head, 0).ok()?;
        if head[..4] != IDX_MAGIC || head[4..8] != 2u32.to_be_bytes() {
            return None;
        }
        let mut fanout = Box::new([0u32; 256]);
        for (i, f) in fanout.iter_mut().enumerate() {
            let at = 8 + i * 4;
            *f = u32::from_be_bytes(head[at..at + 4].try_into().ok()?);
        }
        if fanout.windows(2).any(|w| w[0] > w[1]) {
            return None;
        }
        let objects = fanout[255];
        // Names, CRCs and offsets, then (maybe) large offsets and two checksums.
        let n = u64::from(objects);
        let least = IDX_HEADER + n * (hash_len as u64 + 8) + 2 * hash_len as u64;
        if idx.metadata().ok()?.len() < least {
            return None;
        }
        let pack_len = pack.metadata().ok()?.len();
        let mut pack_head = [0u8; 12];
        pack.read_exact_at(&mut pack_head, 0).ok()?;
        if &pack_head[..4] != b"PACK" || pack_head[8..12] != objects.to_be_bytes() {
            return None;
        }
        Some(Pack {
            idx,
            pack,
            pack_len,
            objects,
            fanout,
        })
    }

    fn name_at(&self, i: u32, hash_len: usize) -> u64 {
        IDX_HEADER + u64::from(i) * hash_len as u64
    }

    /// The position of object `id` among the index's names.
    fn find(&self, id: &[u8], hash_len: usize) -> Option<u32> {
        let b = usize::from(id[0]);
        let mut lo = if b == 0 { 0 } else { self.fanout[b - 1] };
        let mut hi = self.fanout[b];
        if lo >= hi {
            return None;
        }
        // The guess: the bucket's names are uniformly spread over the next four bytes.
        let next = u32::from_be_bytes(id[1..5].try_into().ok()?);
        let guess = lo + ((u64::from(hi - lo) * u64::from(next)) >> 32) as u32;
        let end = guess.saturating_add(WINDOW / 2).min(hi);
        let start = end.saturating_sub(WINDOW).max(lo);
        let mut names = vec![0u8; (end - start) as usize * hash_len];
        self.idx
            .read_exact_at(&mut names, self.name_at(start, hash_len))
            .ok()?;
        let window: Vec<&[u8]> = names.chunks_exact(hash_len).collect();
        match window.binary_search(&id) {
            Ok(j) => return Some(start + j as u32),
            // Within the window's span: not in this pack.
            Err(j) if j > 0 && j < window.len() => return None,
            Err(0) => hi = start,
            Err(_) => lo = end,
        }
        let mut name = vec![0u8; hash_len];
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.idx
                .read_exact_at(&mut name, self.name_at(mid, hash_len))
                .ok()?;
            match name.as_slice().cmp(id) {
                std::cmp::Ordering::Equal => return Some(mid),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// Where object number `i` starts in the pack.
    fn offset(&self, i: u32, hash_len: usize) -> Option<u64> {
        let n = u64::from(self.objects);
        let offsets = IDX_HEADER + n * (hash_len as u64 + 4);
        let mut word = [0u8; 4];
        self.idx
            .read_exact_at(&mut word, offsets + 4 * u64::from(i))
            .ok()?;
        let small = u32::from_be_bytes(word);
        let at = if small & 0x8000_0000 == 0 {
            u64::from(small)
        } else {
            let mut large = [0u8; 8];
            let j = u64::from(small & 0x7fff_ffff);
            self.idx
                .read_exact_at(&mut large, offsets + 4 * n + 8 * j)
                .ok()?;
            u64::from_be_bytes(large)
        };
        // After the pack's header, before its checksum.
        (at >= 12 && at < self.pack_len.saturating_sub(hash_len as u64)).then_some(at)
    }

    /// Reads the entry at `at`: a whole commit, inflated until its committer line ends.
    fn commit_text(
        &self,
        at: u64,
        hash_len: usize,
        z: &mut Decompress,
        buf: &mut Vec<u8>,
    ) -> Option<Vec<u8>> {
        let end = self.pack_len - hash_len as u64;
        buf.resize(CHUNK, 0);
        let mut input = &mut buf[..CHUNK.min((end - at) as usize)];
        self.pack.read_exact_at(input, at).ok()?;
        // The entry's header: type in bits 4–6 of the first byte, then the size, seven
        // bits a byte, little-endian, while the high bit is set.
        let first = *input.first()?;
        if (first >> 4) & 7 != OBJ_COMMIT {
            return None;
        }
        let mut size = u64::from(first & 0x0f);
        let mut shift = 4;
        let mut used = 1;
        let mut byte = first;
        while byte & 0x80 != 0 {
            byte = *input.get(used)?;
            used += 1;
            if shift > 56 {
                return None;
            }
            size |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        let size = usize::try_from(size).ok()?;
        let mut next = at + input.len() as u64;
        let mut input_at = used;
        // Room for more than a small commit holds: zlib's fast path wants 258 bytes free.
        let mut out: Vec<u8> = Vec::with_capacity(FIRST_OUT);
        z.reset(true);
        loop {
            let (before, had) = (z.total_in(), out.len());
            let status = z
                .decompress_vec(&input[input_at..], &mut out, FlushDecompress::None)
                .ok()?;
            input_at += usize::try_from(z.total_in() - before).ok()?;
            let progressed = z.total_in() != before || out.len() != had;
            if out.len() > size {
                return None;
            }
            if status == Status::StreamEnd {
                return (out.len() == size).then_some(out);
            }
            if header_complete(&out) {
                return Some(out);
            }
            if out.len() == out.capacity() {
                if out.len() == size {
                    // All the object's bytes and no end of stream: not what git writes.
                    return None;
                }
                out.reserve((out.capacity() * 2).min(size) - out.len());
            }
            if input_at == input.len() {
                if next >= end {
                    return None;
                }
                input = &mut buf[..CHUNK.min((end - next) as usize)];
                self.pack.read_exact_at(input, next).ok()?;
                next += input.len() as u64;
                input_at = 0;
            } else if !progressed && out.len() < out.capacity() {
                // Input and room left, and zlib took nothing: a broken stream.
                return None;
            }
        }
    }
}

/// Whether a commit's text so far holds its whole committer line.
fn header_complete(text: &[u8]) -> bool {
    let mut lines = text.split(|&b| b == b'\n');
    let mut complete = text.iter().filter(|&&b| b == b'\n').count();
    // Lines before the committer line, then the committer line itself, each ended by a
    // line break.
    for line in lines.by_ref() {
        if complete == 0 {
            return false;
        }
        complete -= 1;
        if line.starts_with(b"committer ") {
            return true;
        }
        if line.is_empty() {
            // The end of the header: no committer line (libgit2 decides what that is).
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_complete_at_the_committer_lines_end() {
        let text = b"tree t\nparent p\nauthor A <a> 1 +0000\ncommitter C <c> 2 +0000\n\nmsg";
        let end = text.iter().position(|&b| b == b'c').unwrap();
        let committer_end = end + text[end..].iter().position(|&b| b == b'\n').unwrap();
        for cut in 0..=text.len() {
            assert_eq!(
                header_complete(&text[..cut]),
                cut > committer_end,
                "cut at {cut}"
            );
        }
        assert!(
            header_complete(b"tree t\n\n"),
            "a header without a committer"
        );
    }
}

#[cfg(test)]
mod pack_tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "C")
            .env("GIT_COMMITTER_EMAIL", "c@example.com")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Every commit of a packed history, read here, gives libgit2's committer time and
    /// parents: long messages (only the header is inflated), an octopus merge whose header
    /// outgrows the first buffer and whose compressed bytes outgrow the first read, two
    /// packs; a commit stored as a delta (git makes some of these alike ones deltas), a
    /// loose commit, a tree and an unknown name give `None`.
    #[test]
    fn packed_commits_read_as_libgit2_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q"]);
        let tree = git(d, &["write-tree"]);
        let mut commits = Vec::new();
        // Long messages, most unlike each other; every seventh the same, for git to store
        // some commits as deltas.
        let shared = "a long message line\n".repeat(200);
        let unique = |i: u64| -> String {
            let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            (0..200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{x:016x}\n")
                })
                .collect()
        };
        for i in 0..130u64 {
            let long = if i % 7 == 0 {
                shared.clone()
            } else {
                unique(i)
            };
            let date = format!("{} +0000", 1_700_000_000 + i * 61);
            let mut args = vec!["commit-tree".to_string(), tree.clone(), "-m".into()];
            args.push(format!("c{i}\n\n{long}"));
            if let Some(last) = commits.last() {
                if i % 10 != 0 {
                    args.push("-p".into());
                    args.push(String::clone(last));
                }
            }
            let out = Command::new("git")
                .arg("-C")
                .arg(d)
                .args(&args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "A")
                .env("GIT_AUTHOR_EMAIL", "a@example.com")
                .env("GIT_COMMITTER_NAME", "C")
                .env("GIT_COMMITTER_EMAIL", "c@example.com")
                .env("GIT_COMMITTER_DATE", &date)
                .env("GIT_AUTHOR_DATE", &date)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            commits.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
        }
        // An octopus merge of 125 parents: a header of 6 KB of hex, more than 2 KB compressed.
        let mut args = vec!["commit-tree", &tree, "-m", "octopus"];
        for c in &commits[..125] {
            args.push("-p");
            args.push(c);
        }
        let octopus = git(d, &args);
        git(d, &["update-ref", "refs/heads/main", &octopus]);
        git(d, &["update-ref", "refs/heads/side", &commits[129]]);
        git(d, &["repack", "-q", "-a", "-d"]);
        // A second pack: one more commit, packed on its own.
        let second = git(d, &["commit-tree", &tree, "-p", &octopus, "-m", "second"]);
        git(d, &["update-ref", "refs/heads/main", &second]);
        git(d, &["repack", "-q", "-d"]);
        let loose = git(d, &["commit-tree", &tree, "-p", &second, "-m", "loose"]);

        // The commits git stored as deltas (`verify-pack -v` gives their depth and base):
        // those are libgit2's to read.
        let mut deltas = std::collections::HashSet::new();
        for entry in std::fs::read_dir(d.join(".git/objects/pack")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "idx") {
                for line in git(d, &["verify-pack", "-v", path.to_str().unwrap()]).lines() {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    if fields.len() == 7 && fields[1] == "commit" {
                        deltas.insert(fields[0].to_string());
                    }
                }
            }
        }
        let mut fell_back = 0;
        let packs = Packs::open(&d.join(".git/objects"), 20).expect("packs");
        assert_eq!(packs.packs.len(), 2, "two packs");
        let repo = git2::Repository::open(d).unwrap();
        let mut read = 0;
        for id in commits.iter().chain([&octopus, &second]) {
            let oid = git2::Oid::from_str(id).unwrap();
            let c = repo.find_commit(oid).unwrap();
            let Some(text) = packs.commit_text(oid.as_bytes()) else {
                assert!(deltas.contains(id), "{id}: not a delta, and not read");
                fell_back += 1;
                continue;
            };
            assert!(
                !deltas.contains(id),
                "{id}: a delta, read as a whole commit"
            );
            let want = (c.time().seconds(), c.parent_ids().collect::<Vec<_>>());
            assert_eq!(
                crate::collect::git::commit_header_for_tests(&text),
                Some(want),
                "{id}"
            );
            assert!(
                text.len() < 8000,
                "the message is not inflated: {}",
                text.len()
            );
            read += 1;
        }
        assert_eq!(read + fell_back, 132);
        assert!(
            read > 20 && fell_back > 0,
            "{read} read, {fell_back} deltas"
        );
        let oid = |s: &str| git2::Oid::from_str(s).unwrap();
        assert!(packs.commit_text(oid(&loose).as_bytes()).is_none(), "loose");
        assert!(packs.commit_text(oid(&tree).as_bytes()).is_none(), "a tree");
        assert!(
            packs.commit_text(&[0xab; 20]).is_none(),
            "a name no pack holds"
        );
    }
}

#[cfg(test)]
mod find_tests {
    use super::*;

    /// An index of `names` (sorted) with its pack's header, in `dir`.
    fn index(dir: &Path, names: &[[u8; 20]]) -> Pack {
        let mut idx = Vec::new();
        idx.extend_from_slice(&IDX_MAGIC);
        idx.extend_from_slice(&2u32.to_be_bytes());
        for b in 0..256usize {
            let n = names.iter().filter(|n| usize::from(n[0]) <= b).count() as u32;
            idx.extend_from_slice(&n.to_be_bytes());
        }
        for n in names {
            idx.extend_from_slice(n);
        }
        idx.extend(std::iter::repeat_n(0u8, names.len() * 4)); // CRCs
        for i in 0..names.len() as u32 {
            idx.extend_from_slice(&(12 + i).to_be_bytes());
        }
        idx.extend([0u8; 40]);
        std::fs::write(dir.join("pack-t.idx"), idx).unwrap();
        let mut pack = b"PACK".to_vec();
        pack.extend_from_slice(&2u32.to_be_bytes());
        pack.extend_from_slice(&(names.len() as u32).to_be_bytes());
        pack.extend(std::iter::repeat_n(0u8, names.len() + 20));
        std::fs::write(dir.join("pack-t.pack"), pack).unwrap();
        Pack::open(dir, "pack-t", 20).expect("the index opens")
    }

    /// Names crowded at both ends of their bucket, so that the guess from the next four
    /// bytes lands far from most of them: the search still finds every one, and no name
    /// between them.
    #[test]
    fn every_name_is_found_where_the_guess_misses() {
        let dir = tempfile::tempdir().unwrap();
        let mut names: Vec<[u8; 20]> = (0..3000u32)
            .map(|i| {
                let mut n = [0u8; 20];
                n[0] = 7;
                // Half near the bucket's bottom, half near its top.
                let v = if i % 2 == 0 { i } else { u32::MAX - i };
                n[1..5].copy_from_slice(&v.to_be_bytes());
                n[5..9].copy_from_slice(&i.to_be_bytes());
                n
            })
            .collect();
        names.sort();
        names.dedup();
        let pack = index(dir.path(), &names);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(pack.find(n, 20), Some(i as u32), "{i}");
            assert_eq!(pack.offset(i as u32, 20), Some(12 + i as u64));
            let mut between = *n;
            between[19] = 0xff;
            assert_eq!(pack.find(&between, 20), None, "between {i} and the next");
        }
        let mut other = names[0];
        other[0] = 8;
        assert_eq!(pack.find(&other, 20), None, "an empty bucket");
    }
}
