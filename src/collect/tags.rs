//! A repository's tags by the commit they point at, read from `packed-refs` as bytes.
//!
//! `describe` looks up every commit it walks (up to [`super::git::DESCRIBE_LIMIT`]) among
//! the tags, and a repository may have thousands of them (`packed-refs` of half a megabyte):
//! reading them is most of what `flags` costs when no walk is long. So the file is read
//! once, as bytes; object names are decoded eight hex digits at a time; and the table is a
//! hash index on the commit's first eight bytes (uniformly spread: they are a hash), built
//! in one pass with no sort.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;

use git2::Oid;

/// The length of a SHA-1 object name, raw.
const RAW: usize = 20;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = ONES * 0x80;

/// The high bit of each byte of `x` (eight bytes of text) that is not a hex digit, either
/// case. Bytewise arithmetic on one `u64` ("SIMD within a register"): no table, no branch
/// per digit.
fn not_hex(x: u64) -> u64 {
    // For bytes below 0x80, adding `0x80 - c` sets a byte's high bit exactly when the byte
    // is at least `c`, and never carries into the next byte.
    let at_least = |v: u64, c: u8| v.wrapping_add(ONES * u64::from(0x80 - c));
    let ascii = x & !HIGH;
    let lower = ascii | (ONES * 0x20);
    let digit = at_least(ascii, b'0') & !at_least(ascii, b'9' + 1);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    (x | !(digit | letter)) & HIGH
}

/// Eight bytes as a little-endian word (all ones, no hex digit, when fewer are given).
fn word(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().unwrap_or([0xff; 8]))
}

/// Eight hex digits (either case) as the four bytes they spell; `None` when any is not a
/// hex digit.
#[cfg(test)]
fn hex8(chunk: [u8; 8]) -> Option<[u8; 4]> {
    let x = u64::from_le_bytes(chunk);
    (not_hex(x) == 0).then(|| hex8_checked(x))
}

/// The four bytes eight checked hex digits spell.
fn hex8_checked(x: u64) -> [u8; 4] {
    // Each byte's value: its low nibble, plus 9 for a letter (bit 6 set).
    let v = (x & (ONES * 0x0f)) + ((x >> 6) & ONES) * 9;
    // Pairs of nibbles into bytes (each in the low half of a 16-bit lane), then the lanes
    // packed together.
    let t = ((v << 4) | (v >> 8)) & 0x00ff_00ff_00ff_00ff;
    let t = (t | (t >> 8)) & 0x0000_ffff_0000_ffff;
    let t = (t | (t >> 16)) & 0xffff_ffff;
    (t as u32).to_le_bytes()
}

/// Whether `hex` is a 40-digit hex object name (either case), without decoding it.
pub(super) fn is_hex_name(hex: &[u8]) -> bool {
    hex.len() == 2 * RAW && hex.chunks_exact(8).fold(0, |bad, c| bad | not_hex(word(c))) == 0
}

/// A 40-digit hex object name (either case) as its 20 raw bytes.
pub(super) fn raw_from_hex(hex: &[u8]) -> Option<[u8; RAW]> {
    is_hex_name(hex).then(|| raw_from_checked(hex))
}

/// The 20 raw bytes of 40 hex digits already checked ([`is_hex_name`]).
fn raw_from_checked(hex: &[u8]) -> [u8; RAW] {
    let mut raw = [0u8; RAW];
    for (out, chunk) in raw.chunks_exact_mut(4).zip(hex.chunks_exact(8)) {
        out.copy_from_slice(&hex8_checked(word(chunk)));
    }
    raw
}

/// A 40-digit hex object name as an [`Oid`].
pub(super) fn oid_from_hex(hex: &[u8]) -> Option<Oid> {
    Oid::from_bytes(&raw_from_hex(hex)?).ok()
}

/// The end of the line starting at `from` in `bytes` (the position of its `\n`, else the
/// end), eight bytes at a time.
fn line_end(bytes: &[u8], from: usize) -> usize {
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut at = from;
    while let Some(word) = bytes.get(at..at + 8) {
        let w = u64::from_le_bytes(word.try_into().unwrap_or([0; 8])) ^ NEWLINES;
        // Some byte of `w` is zero (a newline in the word).
        if w.wrapping_sub(ONES) & !w & HIGH != 0 {
            break;
        }
        at += 8;
    }
    bytes[at.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| at + p)
}

/// The lines of a text, as `str::lines` gives them (`\n` or `\r\n` ends one), found with
/// [`line_end`].
pub(super) struct Lines<'t> {
    text: &'t [u8],
    at: usize,
}

impl<'t> Lines<'t> {
    pub(super) fn new(text: &'t [u8]) -> Self {
        Lines { text, at: 0 }
    }

    /// The next line, and whether its first 40 bytes after an optional `^` are hex digits
    /// (checked here). They hold no line break then, so the search for the line's end
    /// starts after them: a `packed-refs` line is mostly its object name.
    fn next_checked(&mut self) -> Option<(&'t [u8], bool)> {
        let start = self.at;
        if start >= self.text.len() {
            return None;
        }
        let name_at = start + usize::from(self.text[start] == b'^');
        let checked = self
            .text
            .get(name_at..name_at + 2 * RAW)
            .is_some_and(is_hex_name);
        let end = line_end(self.text, if checked { name_at + 2 * RAW } else { start });
        let line = self.text.get(start..end)?;
        self.at = end + 1;
        Some((line.strip_suffix(b"\r").unwrap_or(line), checked))
    }
}

impl<'t> Iterator for Lines<'t> {
    type Item = &'t [u8];

    fn next(&mut self) -> Option<&'t [u8]> {
        if self.at >= self.text.len() {
            return None;
        }
        let end = line_end(self.text, self.at);
        let line = self.text.get(self.at..end)?;
        self.at = end + 1;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// What [`read_packed`] read of a repository's tags without libgit2: the packed ones, and
/// the names of the loose ones, which the caller peels (a loose tag overrides a packed tag
/// of the same name, so those packed entries are already left out).
pub(super) struct PackedRead {
    /// The packed tags; the index is not built yet ([`TagTable::finish`]).
    pub(super) table: TagTable,
    pub(super) problems: Vec<usize>,
    pub(super) loose: Vec<String>,
    /// False when `packed-refs` could not be read or does not record peeled values: the
    /// caller must read every tag through libgit2 instead.
    pub(super) complete: bool,
}

/// Reads the tags under the git directory `common` that need no object lookup: the loose
/// tags' names and the packed tags, file reads only.
pub(super) fn read_packed(common: &Path) -> PackedRead {
    let loose = loose_tag_names(&common.join("refs").join("tags"));
    let mut read = PackedRead {
        table: TagTable::default(),
        problems: Vec::new(),
        loose,
        complete: true,
    };
    let mut file = match std::fs::File::open(common.join("packed-refs")) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return read,
        Err(_) => {
            read.complete = false;
            return read;
        }
    };
    let skip: HashSet<&str> = read.loose.iter().map(String::as_str).collect();
    let len = file
        .metadata()
        .ok()
        .map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX))
        // Room reserved is never touched unless used; this bounds it for a huge file.
        .min(1 << 26);
    let mut table = TagTable::for_packed_refs(len);
    let mut problems = Vec::new();
    read.complete = matches!(
        packed_tags(&mut file, &skip, &mut table, &mut problems),
        Ok(true)
    );
    drop(skip);
    if read.complete {
        read.table = table;
        read.problems = problems;
    }
    read
}

/// The names of the loose tags under `root` (`refs/tags`), `/`-separated; a name that is
/// not UTF-8 is left out, as libgit2's reference iterator leaves it out.
fn loose_tag_names(root: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Some(rel) = path.strip_prefix(root).ok().and_then(|r| r.to_str()) else {
                continue;
            };
            names.push(rel.replace(std::path::MAIN_SEPARATOR, "/"));
        }
    }
    names
}

/// How much of `packed-refs` is read at a time. A buffer the size of the file (half a
/// megabyte for 5,000 annotated tags) costs a page fault for every 4 KiB the read fills,
/// which was most of what reading the file cost; this one is reused.
const BLOCK: usize = 64 * 1024;

/// Reads the tags of a `packed-refs` file into `table`, leaving out the names in `skip`
/// (loose tags override packed ones), when the file records peeled values (`fully-peeled`,
/// which git has written for years). The numbers of lines that are not `HEX REFNAME` go in
/// `problems` (counted from 1, the header included), and the others are still read. A tag
/// whose name is not UTF-8 is left out, as libgit2's reference iterator leaves it out.
/// `Ok(false)` when the file has no such header: the caller must peel every tag itself.
///
/// The file is read [`BLOCK`] bytes at a time and parsed a whole line at a time: the lines
/// a block ends in are kept for the next (the buffer grows only for a line longer than
/// itself).
pub(super) fn packed_tags(
    file: &mut impl std::io::Read,
    skip: &HashSet<&str>,
    table: &mut TagTable,
    problems: &mut Vec<usize>,
) -> std::io::Result<bool> {
    let mut parser = PackedParser {
        skip,
        lines: 0,
        pending: None,
    };
    let mut buf = vec![0u8; BLOCK];
    let mut filled = 0;
    loop {
        let got = match file.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        filled += got;
        let eof = got == 0;
        // Whole lines only, but all that is left at the end of the file.
        let whole = if eof {
            filled
        } else {
            buf[..filled]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1)
        };
        if !parser.feed(&buf[..whole], table, problems) {
            return Ok(false);
        }
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        if eof {
            break;
        }
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
    }
    parser.flush(table);
    // An empty file has no header either.
    Ok(parser.lines > 0)
}

/// `packed-refs` read a block of whole lines at a time ([`packed_tags`]).
struct PackedParser<'s> {
    skip: &'s HashSet<&'s str>,
    /// Lines read so far, the header included.
    lines: usize,
    /// The last tag read, while the next line may peel it: its object's name in hex
    /// (checked) and its name, already in the table's names.
    pending: Option<([u8; 2 * RAW], Range<u32>)>,
}

impl PackedParser<'_> {
    /// The last tag read, at the commit or tag object its line names: no peel line follows.
    fn flush(&mut self, table: &mut TagTable) {
        if let Some((hex, name)) = self.pending.take() {
            table.push_entry(raw_from_checked(&hex), name);
        }
    }

    /// Reads `text`, whole lines (the last one without a line break only at the end of the
    /// file); `false` when the file's header says it does not record peeled values.
    fn feed(&mut self, text: &[u8], table: &mut TagTable, problems: &mut Vec<usize>) -> bool {
        // A name as text: the block is checked once (a fast pass over ASCII; a block ends
        // at a line break, so never inside a character), a name then only sliced from it;
        // only a block that is not UTF-8 throughout checks name by name.
        let whole = std::str::from_utf8(text).ok();
        fn as_str<'t>(text: &'t [u8], whole: Option<&'t str>, name: &'t [u8]) -> Option<&'t str> {
            match whole {
                Some(all) => {
                    let start = name.as_ptr() as usize - text.as_ptr() as usize;
                    all.get(start..start + name.len())
                }
                None => std::str::from_utf8(name).ok(),
            }
        }
        let mut lines = Lines::new(text);
        if self.lines == 0 {
            let Some(header) = lines.next() else {
                return true;
            };
            self.lines = 1;
            if !(header.starts_with(b"#") && header.windows(12).any(|w| w == b"fully-peeled")) {
                return false;
            }
        }
        while let Some((line, checked)) = lines.next_checked() {
            self.lines += 1;
            if let Some(peeled) = line.strip_prefix(b"^") {
                if let Some((hex, name)) = self.pending.take() {
                    // The peeled commit; the tag object itself when that line is broken.
                    let commit = match peeled.trim_ascii() {
                        p if checked && p.len() == 2 * RAW => raw_from_checked(p),
                        p => raw_from_hex(p).unwrap_or_else(|| raw_from_checked(&hex)),
                    };
                    table.push_entry(commit, name);
                }
                continue;
            }
            self.flush(table);
            if line.starts_with(b"#") {
                continue;
            }
            // `HEX REFNAME`: the space is after 40 digits unless the line is broken (an
            // earlier space leaves no 40 hex digits either way).
            let split = match (line.get(..40), line.get(40), line.get(41..)) {
                (Some(hex), Some(b' '), Some(rest)) => Some((hex, rest, checked)),
                _ => line
                    .iter()
                    .position(|&b| b == b' ')
                    .map(|at| (&line[..at], &line[at + 1..], false)),
            };
            let Some((hex, refname, checked)) = split else {
                problems.push(self.lines);
                continue;
            };
            if !(checked || is_hex_name(hex)) || refname.is_empty() {
                problems.push(self.lines);
                continue;
            }
            let Some(name) = refname
                .strip_prefix(b"refs/tags/")
                .and_then(|name| as_str(text, whole, name))
            else {
                continue;
            };
            if !self.skip.is_empty() && self.skip.contains(name) {
                continue;
            }
            let mut object = [0u8; 2 * RAW];
            object.copy_from_slice(hex);
            self.pending = Some((object, table.push_name(name)));
        }
        true
    }
}

/// Tag names by the commit they point at: every name in one string, an entry per tag in
/// the order added, and an open-addressing hash index over the entries.
#[derive(Default)]
pub(crate) struct TagTable {
    names: String,
    entries: Vec<TagEntry>,
    /// Entry numbers plus one (0: an empty slot), at the slot of their commit's key and
    /// on by linear probing; a power of two long, at least twice the entries.
    slots: Vec<u32>,
}

struct TagEntry {
    commit: [u8; RAW],
    name: Range<u32>,
}

impl TagTable {
    /// A table with room for the tags of a `packed-refs` file of `len` bytes: a tag's line
    /// takes at least 52 (40 hex digits, a space, `refs/tags/`, a name, a line break), and
    /// room reserved but not used is never touched.
    pub(super) fn for_packed_refs(len: usize) -> TagTable {
        TagTable {
            names: String::with_capacity(len / 4),
            entries: Vec::with_capacity(len / 52),
            slots: Vec::new(),
        }
    }

    pub(super) fn push(&mut self, commit: [u8; RAW], name: &str) {
        let name = self.push_name(name);
        self.push_entry(commit, name);
    }

    /// A name added to the names, for a [`TagTable::push_entry`] to come.
    fn push_name(&mut self, name: &str) -> Range<u32> {
        let start = self.names.len() as u32;
        self.names.push_str(name);
        start..self.names.len() as u32
    }

    fn push_entry(&mut self, commit: [u8; RAW], name: Range<u32>) {
        self.entries.push(TagEntry { commit, name });
    }

    pub(super) fn push_oid(&mut self, commit: Oid, name: &str) {
        if let Ok(raw) = <[u8; RAW]>::try_from(commit.as_bytes()) {
            self.push(raw, name);
        }
    }

    /// The slot a commit's entries start from: its first eight bytes, which a hash spreads
    /// uniformly, masked to the index's length.
    fn slot(commit: &[u8], mask: usize) -> usize {
        let mut head = [0u8; 8];
        let n = commit.len().min(8);
        head[..n].copy_from_slice(&commit[..n]);
        (u64::from_le_bytes(head) as usize) & mask
    }

    /// Builds the index. A commit's tags stay in the order they were added: they share a
    /// first slot, and each later one is placed further along the probe.
    pub(super) fn finish(&mut self) {
        let len = (self.entries.len() * 2).next_power_of_two().max(16);
        let mask = len - 1;
        let mut slots = vec![0u32; len];
        for (i, e) in self.entries.iter().enumerate() {
            let mut s = Self::slot(&e.commit, mask);
            while slots[s] != 0 {
                s = (s + 1) & mask;
            }
            slots[s] = i as u32 + 1;
        }
        self.slots = slots;
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many tags the table holds.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The commit of each tag, in the order added.
    pub(super) fn commits(&self) -> impl Iterator<Item = &[u8]> {
        self.entries.iter().map(|e| &e.commit[..])
    }

    fn name(&self, e: &TagEntry) -> &str {
        &self.names[e.name.start as usize..e.name.end as usize]
    }

    /// The names of the tags on `commit`, in the order added.
    pub(super) fn at<'a>(&'a self, commit: &Oid) -> impl Iterator<Item = &'a str> + 'a {
        let commit: [u8; RAW] = commit.as_bytes().try_into().unwrap_or([0; RAW]);
        let mask = self.slots.len().wrapping_sub(1);
        let mut s = if self.slots.is_empty() {
            None
        } else {
            Some(Self::slot(&commit, mask))
        };
        std::iter::from_fn(move || loop {
            let at = s?;
            let i = self.slots[at];
            if i == 0 {
                s = None;
                return None;
            }
            s = Some((at + 1) & mask);
            let e = &self.entries[i as usize - 1];
            if e.commit == commit {
                return Some(self.name(e));
            }
        })
    }

    /// Every tag name, in the order added.
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| self.name(e))
    }

    /// The tag `describe` takes on `commit`: of its tags that `accept` takes, the one
    /// `best` picks.
    pub(super) fn candidate(
        &self,
        commit: &Oid,
        accept: &dyn Fn(&str) -> bool,
        best: &dyn Fn(&[&str]) -> Option<String>,
    ) -> Option<String> {
        let mut names = self.at(commit).peekable();
        names.peek()?;
        let names: Vec<&str> = names.collect();
        if !names.iter().any(|t| accept(t)) {
            return None;
        }
        best(&names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_object_names() {
        let hex = "9878f3415242dd4a55413e59accd5cbcf53abd7d";
        assert_eq!(oid_from_hex(hex.as_bytes()), Oid::from_str(hex).ok());
        assert_eq!(
            oid_from_hex(hex.to_uppercase().as_bytes()),
            Oid::from_str(hex).ok()
        );
        for bad in ["", "9878f34", &hex.replace('d', "g"), &format!("{hex}0")] {
            assert_eq!(oid_from_hex(bad.as_bytes()), None, "{bad}");
        }
    }

    /// Every byte value in every place of an eight-digit group: only the 22 hex digits
    /// decode, each to its value, as `u32::from_str_radix` reads it; a 40-digit name is a
    /// name exactly when each of its groups is.
    #[test]
    fn eight_digit_groups_take_exactly_the_hex_digits() {
        for place in 0..8 {
            for b in 0..=255u8 {
                let mut chunk = *b"0a1B2c3D";
                chunk[place] = b;
                let want = std::str::from_utf8(&chunk).ok().and_then(|s| {
                    s.bytes()
                        .all(|c| c.is_ascii_hexdigit())
                        .then(|| u32::from_str_radix(s, 16).unwrap().to_be_bytes())
                });
                assert_eq!(hex8(chunk), want, "byte {b:#04x} at {place}");
                let mut name = *b"0123456789abcdefABCDEF0123456789abcdef01";
                name[8 * (place % 5) + place] = b;
                assert_eq!(
                    is_hex_name(&name),
                    b.is_ascii_hexdigit(),
                    "byte {b:#04x} in a name"
                );
                assert_eq!(raw_from_hex(&name).is_some(), b.is_ascii_hexdigit());
            }
        }
    }

    #[test]
    fn lines_are_split_as_str_lines_splits_them() {
        for text in [
            "",
            "a",
            "a\n",
            "a\r\nb",
            "\n\n",
            "0123456789abcdef0123456789\nshort\n\r\nlast line without a break",
            "no break in a line longer than eight bytes",
        ] {
            let ours: Vec<&[u8]> = Lines::new(text.as_bytes()).collect();
            let want: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
            assert_eq!(ours, want, "{text:?}");
        }
    }

    #[test]
    fn packed_refs_tags_peeled_problems_and_overrides() {
        let (a, b, c, d) = (
            "1".repeat(40),
            "2".repeat(40),
            "3".repeat(40),
            "4".repeat(40),
        );
        let text = format!(
            "# pack-refs with: peeled fully-peeled sorted \n\
             {a} refs/heads/main\n\
             {a} refs/tags/light\n\
             {b} refs/tags/annotated\n\
             ^{c}\n\
             not a ref\n\
             {b} refs/tags/loose-wins\r\n\
             ^{c}\n\
             {a} refs/tags/same-commit\n\
             {d} refs/tags/broken-peel\n\
             ^not hex"
        );
        let skip: HashSet<&str> = ["loose-wins"].into_iter().collect();
        // Read whole, and through a reader that gives a few bytes at a time, so that a
        // block ends everywhere: in a name, between a tag and its peel line, in a `\r\n`.
        for piece in [usize::MAX, 1, 2, 3, 7, 41, 42] {
            let mut table = TagTable::default();
            let mut problems = Vec::new();
            let mut reader = Trickle(text.as_bytes(), piece);
            assert!(packed_tags(&mut reader, &skip, &mut table, &mut problems).unwrap());
            table.finish();
            assert_eq!(problems, [6], "numbered from 1 with the header");
            let at = |hex: &str| -> Vec<&str> {
                table.at(&oid_from_hex(hex.as_bytes()).unwrap()).collect()
            };
            assert_eq!(
                at(&a),
                ["light", "same-commit"],
                "in the order read ({piece})"
            );
            assert_eq!(at(&b), Vec::<&str>::new(), "peeled to the commit");
            assert_eq!(at(&c), ["annotated"]);
            assert_eq!(
                at(&d),
                ["broken-peel"],
                "a broken peel line keeps the tag object"
            );
        }
        let (mut table, mut problems) = (TagTable::default(), Vec::new());
        for no_header in [format!("{a} refs/tags/light\n"), String::new()] {
            assert!(
                !packed_tags(&mut no_header.as_bytes(), &skip, &mut table, &mut problems).unwrap()
            );
        }
        // A line longer than the buffer grows it; the lines after it are still read.
        let long = "x".repeat(3 * BLOCK);
        let text = format!(
            "# pack-refs with: peeled fully-peeled sorted \n{a} refs/tags/{long}\n{b} refs/tags/after\n"
        );
        let mut table = TagTable::default();
        assert!(packed_tags(&mut text.as_bytes(), &skip, &mut table, &mut problems).unwrap());
        table.finish();
        let names: Vec<&str> = table.names().collect();
        assert_eq!(names, [long.as_str(), "after"]);
    }

    /// A name that is not UTF-8 is left out (as libgit2's reference iterator leaves it
    /// out); the names around it in the same block are still read, however the blocks fall.
    #[test]
    fn a_name_that_is_not_utf8_is_left_out_and_its_neighbours_kept() {
        let (a, b) = ("1".repeat(40), "2".repeat(40));
        let mut text = format!("# pack-refs with: peeled fully-peeled sorted \n{a} refs/tags/caf")
            .into_bytes();
        text.extend_from_slice(b"\xe9\n");
        text.extend_from_slice(
            format!("{b} refs/tags/caf\u{e9}\n{a} refs/tags/plain\n").as_bytes(),
        );
        for piece in [usize::MAX, 1, 5, 50] {
            let mut table = TagTable::default();
            let mut problems = Vec::new();
            assert!(packed_tags(
                &mut Trickle(&text, piece),
                &HashSet::new(),
                &mut table,
                &mut problems
            )
            .unwrap());
            table.finish();
            let names: Vec<&str> = table.names().collect();
            assert_eq!(names, ["caf\u{e9}", "plain"], "{piece}");
            assert!(problems.is_empty());
        }
    }

    /// A reader that gives at most `.1` bytes a call.
    struct Trickle<'t>(&'t [u8], usize);

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(self.1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// Many tags, several on one commit and commits that share their first eight bytes
    /// (one probe chain): each commit gets exactly its own tags, in the order added.
    #[test]
    fn the_index_finds_every_tag_of_a_commit_and_no_other() {
        let mut table = TagTable::default();
        let mut want: Vec<([u8; RAW], Vec<String>)> = Vec::new();
        for i in 0..3000u32 {
            let mut commit = [0u8; RAW];
            // Every fourth commit shares its first eight bytes with the one before it.
            let head = if i % 4 == 3 { i - 1 } else { i };
            commit[..4].copy_from_slice(&head.wrapping_mul(2_654_435_761).to_le_bytes());
            commit[16..].copy_from_slice(&i.to_le_bytes());
            let names: Vec<String> = (0..=i % 3).map(|k| format!("t{i}-{k}")).collect();
            want.push((commit, names));
        }
        // Added interleaved: a commit's second and third tags come after other commits'.
        for k in 0..3 {
            for (commit, names) in &want {
                if let Some(n) = names.get(k) {
                    table.push(*commit, n);
                }
            }
        }
        table.finish();
        for (commit, names) in &want {
            let got: Vec<&str> = table.at(&Oid::from_bytes(commit).unwrap()).collect();
            assert_eq!(got, *names);
        }
        let absent = Oid::from_bytes(&[0xee; RAW]).unwrap();
        assert_eq!(table.at(&absent).count(), 0);
        assert_eq!(
            table.names().count(),
            want.iter().map(|w| w.1.len()).sum::<usize>()
        );
        assert_eq!(
            TagTable::default().at(&absent).count(),
            0,
            "empty, not finished"
        );
    }
}
