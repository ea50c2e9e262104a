//! git's commit-graph file, read directly: the describe walk's commits without opening a
//! single commit object.
//!
//! git writes `objects/info/commit-graph` (or a chain of layers under
//! `objects/info/commit-graphs/`, listed base first in `commit-graph-chain`) on `gc`, and on
//! `fetch` with `fetch.writeCommitGraph`. Its format (git's
//! `Documentation/gitformat-commit-graph.txt`): a header (`CGPH`, version 1, hash version,
//! chunk count, base-graph count), a table of chunk offsets, then the chunks this reader
//! uses: `OIDF` (256-entry fan-out of object names by first byte), `OIDL` (the object names,
//! sorted), `CDAT` (per commit: root tree, two parent positions, topological level and commit
//! time) and `EDGE` (the further parents of octopus merges). Positions are global across a
//! chain: a layer's commits come after those of every layer below it.
//!
//! Nothing is read whole: a 1M-commit graph is 60 MB, and `describe` looks at a few hundred
//! commits. Each lookup is a positioned read of the bytes it needs (a 36-byte `CDAT` row, a
//! 20-byte name), every offset checked against the file's size. Mapping the file instead
//! (as git does) was measured slower: a walk's rows are scattered over the file (commits sit
//! in name order, not history order), and on the 1M-commit benchmark graph the page faults
//! and the unmapping cost more than one `pread` per row (BENCHMARKS.md).
//! Whatever does not look like a graph this reader understands gives `None`, and the caller
//! walks the commits through libgit2 instead.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// `CDAT`'s parent value for "no parent".
const NO_PARENT: u32 = 0x7000_0000;
/// `CDAT`'s second-parent flag: the rest is an index into `EDGE` (an octopus merge).
const OCTOPUS: u32 = 0x8000_0000;
/// `EDGE`'s flag on the last parent of an octopus merge.
const LAST_EDGE: u32 = 0x8000_0000;

/// An opened commit-graph: one file, or the layers of a chain (base first).
pub(crate) struct CommitGraph {
    layers: Vec<Layer>,
    hash_len: usize,
}

struct Layer {
    bytes: Bytes,
    /// Commits in the layers below this one (this layer's first global position).
    base: u32,
    fanout: Box<[u32; 256]>,
    oidl: u64,
    cdat: u64,
    edge: Option<(u64, u64)>,
}

/// What the graph records of one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Commit {
    /// The committer time, in seconds since the epoch.
    pub(crate) time: i64,
    /// The topological level (generation number v1): 1 for a root, else one more than its
    /// highest parent's. 0 means the writer did not compute it.
    pub(crate) generation: u32,
    /// The parents' global positions, in order.
    pub(crate) parents: Parents,
}

/// A commit's parents' positions: one or two in place (almost every commit), more only
/// for an octopus merge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Parents {
    two: [u32; 2],
    /// How many of `two` are used; unused when `more` holds them all.
    len: u8,
    more: Vec<u32>,
}

impl Parents {
    fn push(&mut self, pos: u32) {
        if self.more.is_empty() && usize::from(self.len) < self.two.len() {
            self.two[usize::from(self.len)] = pos;
            self.len += 1;
        } else {
            if self.more.is_empty() {
                self.more
                    .extend_from_slice(&self.two[..usize::from(self.len)]);
            }
            self.more.push(pos);
        }
    }

    pub(crate) fn as_slice(&self) -> &[u32] {
        if self.more.is_empty() {
            &self.two[..usize::from(self.len)]
        } else {
            &self.more
        }
    }
}

/// An object name read from the graph (room for SHA-256; `as_slice` is the hash's length).
pub(crate) struct Name {
    bytes: [u8; 32],
    len: usize,
}

impl Name {
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl CommitGraph {
    /// Opens the commit-graph of the object directory `objects` for object names of
    /// `hash_len` bytes: the single file when there is one (as git prefers it), else the
    /// chain. `None` when there is none, or it is not one this reader understands.
    pub(crate) fn open(objects: &Path, hash_len: usize) -> Option<CommitGraph> {
        let info = objects.join("info");
        if let Ok(file) = File::open(info.join("commit-graph")) {
            let layer = Layer::open(Bytes::new(file)?, hash_len, 0, 0)?;
            return Some(CommitGraph {
                layers: vec![layer],
                hash_len,
            });
        }
        let dir = info.join("commit-graphs");
        let chain = std::fs::read_to_string(dir.join("commit-graph-chain")).ok()?;
        let mut layers: Vec<Layer> = Vec::new();
        let mut base = 0u32;
        for name in chain.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if name.len() != hash_len * 2 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let file = File::open(dir.join(format!("graph-{name}.graph"))).ok()?;
            let layer = Layer::open(Bytes::new(file)?, hash_len, base, layers.len())?;
            base = base.checked_add(layer.count())?;
            layers.push(layer);
        }
        (!layers.is_empty()).then_some(CommitGraph { layers, hash_len })
    }

    /// How many commits the graph holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> u32 {
        self.layers.last().map_or(0, |l| l.base + l.count())
    }

    /// The global position of the commit named `id`, when the graph holds it.
    pub(crate) fn find(&self, id: &[u8]) -> Option<u32> {
        if id.len() != self.hash_len {
            return None;
        }
        let mut name = [0u8; 32];
        self.layers
            .iter()
            .rev()
            .find_map(|l| l.find(id, &mut name[..self.hash_len]))
    }

    /// The object name of the commit at global position `pos`.
    pub(crate) fn id(&self, pos: u32) -> Option<Name> {
        let (layer, at) = self.layer(pos)?;
        let mut name = Name {
            bytes: [0u8; 32],
            len: self.hash_len,
        };
        layer.read(
            layer.oidl + u64::from(at) * self.hash_len as u64,
            &mut name.bytes[..self.hash_len],
        )?;
        Some(name)
    }

    /// The commit at global position `pos`.
    pub(crate) fn commit(&self, pos: u32) -> Option<Commit> {
        let (layer, at) = self.layer(pos)?;
        let row = self.hash_len + 16;
        let mut buf = [0u8; 48];
        let buf = &mut buf[..row];
        layer.read(layer.cdat + u64::from(at) * row as u64, buf)?;
        let word = |i: usize| u32::from_be_bytes(buf[i..i + 4].try_into().unwrap());
        let h = self.hash_len;
        let (p1, p2, high, low) = (word(h), word(h + 4), word(h + 8), word(h + 12));
        let time = (i64::from(high & 3) << 32) | i64::from(low);
        let generation = high >> 2;
        let mut parents = Parents::default();
        if p1 != NO_PARENT {
            parents.push(self.check_pos(p1)?);
        }
        if p2 & OCTOPUS != 0 {
            // Parents two and on are in `EDGE`, the last one flagged.
            let (start, len) = layer.edge?;
            let mut i = u64::from(p2 & !OCTOPUS);
            loop {
                if (i + 1) * 4 > len {
                    return None;
                }
                let mut e = [0u8; 4];
                layer.read(start + i * 4, &mut e)?;
                let e = u32::from_be_bytes(e);
                parents.push(self.check_pos(e & !LAST_EDGE)?);
                if e & LAST_EDGE != 0 {
                    break;
                }
                i += 1;
            }
        } else if p2 != NO_PARENT {
            parents.push(self.check_pos(p2)?);
        }
        Some(Commit {
            time,
            generation,
            parents,
        })
    }

    /// `pos` when the graph holds a commit there.
    fn check_pos(&self, pos: u32) -> Option<u32> {
        self.layer(pos).map(|_| pos)
    }

    /// The layer holding global position `pos`, and the position within it.
    fn layer(&self, pos: u32) -> Option<(&Layer, u32)> {
        let layer = self.layers.iter().rev().find(|l| pos >= l.base)?;
        let at = pos - layer.base;
        (at < layer.count()).then_some((layer, at))
    }
}

impl Layer {
    /// Reads and checks a graph file's header and chunk table; `depth` is the layer's place
    /// in a chain (the number of base graphs its header must name).
    fn open(file: Bytes, hash_len: usize, base: u32, depth: usize) -> Option<Layer> {
        let mut header = [0u8; 8];
        file.read(0, &mut header)?;
        let hash_version = match hash_len {
            20 => 1,
            32 => 2,
            _ => return None,
        };
        if &header[..4] != b"CGPH" || header[4] != 1 || header[5] != hash_version {
            return None;
        }
        let chunks = usize::from(header[6]);
        if usize::from(header[7]) != depth {
            return None;
        }
        let size = file.len;
        let mut table = vec![0u8; (chunks + 1) * 12];
        file.read(8, &mut table)?;
        let mut found: Vec<([u8; 4], u64, u64)> = Vec::with_capacity(chunks);
        for i in 0..chunks {
            let entry = &table[i * 12..i * 12 + 24];
            let id: [u8; 4] = entry[..4].try_into().ok()?;
            let start = u64::from_be_bytes(entry[4..12].try_into().ok()?);
            let end = u64::from_be_bytes(entry[16..24].try_into().ok()?);
            if start > end || end > size {
                return None;
            }
            found.push((id, start, end - start));
        }
        let chunk = |id: &[u8; 4]| found.iter().find(|c| &c.0 == id).map(|c| (c.1, c.2));
        let (oidf, oidf_len) = chunk(b"OIDF")?;
        if oidf_len != 1024 {
            return None;
        }
        let mut raw = [0u8; 1024];
        file.read(oidf, &mut raw)?;
        let mut fanout = Box::new([0u32; 256]);
        for (f, b) in fanout.iter_mut().zip(raw.chunks_exact(4)) {
            *f = u32::from_be_bytes(b.try_into().ok()?);
        }
        if fanout.windows(2).any(|w| w[0] > w[1]) {
            return None;
        }
        let count = u64::from(fanout[255]);
        let (oidl, oidl_len) = chunk(b"OIDL")?;
        let (cdat, cdat_len) = chunk(b"CDAT")?;
        if oidl_len != count * hash_len as u64 || cdat_len != count * (hash_len as u64 + 16) {
            return None;
        }
        base.checked_add(fanout[255])?;
        Some(Layer {
            bytes: file,
            base,
            fanout,
            oidl,
            cdat,
            edge: chunk(b"EDGE"),
        })
    }

    fn count(&self) -> u32 {
        self.fanout[255]
    }

    fn read(&self, at: u64, into: &mut [u8]) -> Option<()> {
        self.bytes.read(at, into)
    }

    /// The global position of `id` in this layer: a binary search of `OIDL` between the
    /// fan-out bounds of its first byte. `name` is scratch space of the hash's length.
    fn find(&self, id: &[u8], name: &mut [u8]) -> Option<u32> {
        let first = usize::from(id[0]);
        let (mut lo, mut hi) = (
            if first == 0 {
                0
            } else {
                self.fanout[first - 1]
            },
            self.fanout[first],
        );
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            self.read(self.oidl + u64::from(mid) * name.len() as u64, name)?;
            match (*name).cmp(id) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(self.base + mid),
            }
        }
        None
    }
}

/// A graph file, read where asked.
struct Bytes {
    file: File,
    len: u64,
}

impl Bytes {
    fn new(file: File) -> Option<Bytes> {
        let len = file.metadata().ok()?.len();
        Some(Bytes { file, len })
    }

    /// Copies the bytes at `at` into `into`; `None` past the end of the file.
    fn read(&self, at: u64, into: &mut [u8]) -> Option<()> {
        let end = at.checked_add(into.len() as u64)?;
        if end > self.len {
            return None;
        }
        self.file.read_exact_at(into, at).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A graph file as git lays it out, for commits given as (name, parents by index, time,
    /// level); names must be sorted.
    fn graph(commits: &[([u8; 20], Vec<u32>, i64, u32)]) -> Vec<u8> {
        let n = commits.len() as u32;
        let mut oidf = Vec::new();
        for b in 0..256u32 {
            let below = commits.iter().filter(|c| u32::from(c.0[0]) <= b).count() as u32;
            oidf.extend_from_slice(&below.to_be_bytes());
        }
        let mut oidl = Vec::new();
        let mut cdat = Vec::new();
        let mut edge = Vec::new();
        for (name, parents, time, level) in commits {
            oidl.extend_from_slice(name);
            cdat.extend_from_slice(&[0x11; 20]);
            let p1 = parents.first().copied().unwrap_or(NO_PARENT);
            let p2 = match parents.len() {
                0 | 1 => NO_PARENT,
                2 => parents[1],
                _ => {
                    let at = (edge.len() / 4) as u32 | OCTOPUS;
                    for (i, p) in parents[1..].iter().enumerate() {
                        let last = if i == parents.len() - 2 { LAST_EDGE } else { 0 };
                        edge.extend_from_slice(&(p | last).to_be_bytes());
                    }
                    at
                }
            };
            cdat.extend_from_slice(&p1.to_be_bytes());
            cdat.extend_from_slice(&p2.to_be_bytes());
            let high = (level << 2) | ((*time >> 32) as u32 & 3);
            cdat.extend_from_slice(&high.to_be_bytes());
            cdat.extend_from_slice(&(*time as u32).to_be_bytes());
        }
        let chunks: Vec<(&[u8; 4], Vec<u8>)> = vec![
            (b"OIDF", oidf),
            (b"OIDL", oidl),
            (b"CDAT", cdat),
            (b"EDGE", edge),
        ];
        let mut f = b"CGPH".to_vec();
        f.extend_from_slice(&[1, 1, chunks.len() as u8, 0]);
        let mut offset = (8 + (chunks.len() + 1) * 12) as u64;
        for (id, data) in &chunks {
            f.extend_from_slice(*id);
            f.extend_from_slice(&offset.to_be_bytes());
            offset += data.len() as u64;
        }
        f.extend_from_slice(&[0; 4]);
        f.extend_from_slice(&offset.to_be_bytes());
        for (_, data) in chunks {
            f.extend(data);
        }
        assert_eq!(n as usize, commits.len());
        f
    }

    #[test]
    fn reads_names_parents_times_and_levels() {
        let name = |b: u8| {
            let mut n = [b; 20];
            n[19] = 0;
            n
        };
        let big_time = (1i64 << 33) + 5;
        let commits = vec![
            (name(0x01), vec![], 100, 1),
            (name(0x22), vec![0], 200, 2),
            (name(0x23), vec![0], big_time, 2),
            (name(0xa0), vec![1, 2, 0], 300, 3),
            (name(0xa1), vec![1, 2], 310, 3),
            (name(0xa2), vec![0, 1, 2, 3, 4], 320, 4),
            (name(0xff), vec![3, 1], 400, 5),
        ];
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("info")).unwrap();
        std::fs::write(dir.path().join("info/commit-graph"), graph(&commits)).unwrap();
        let g = CommitGraph::open(dir.path(), 20).unwrap();
        assert_eq!(g.len(), 7);
        for (i, (n, parents, time, level)) in commits.iter().enumerate() {
            let pos = g.find(n).unwrap();
            assert_eq!(pos, i as u32);
            assert_eq!(g.id(pos).unwrap().as_slice(), n);
            let c = g.commit(pos).unwrap();
            assert_eq!(
                (c.parents.as_slice(), c.time, c.generation),
                (parents.as_slice(), *time, *level)
            );
        }
        assert_eq!(g.find(&[0x22; 20]), None);
        assert_eq!(g.find(&[0x00; 20]), None);
        assert_eq!(g.commit(7), None);
        // Another hash length, a truncated file: not a graph this reader takes.
        assert!(CommitGraph::open(dir.path(), 32).is_none());
        let mut bytes = graph(&commits);
        bytes.truncate(bytes.len() - 10);
        std::fs::write(dir.path().join("info/commit-graph"), bytes).unwrap();
        assert!(CommitGraph::open(dir.path(), 20).is_none());
    }
}
