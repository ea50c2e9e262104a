//! With the `license-detection` feature: cut the spdx crate's license store down to the
//! licenses most projects use, so that detecting them loads a few entries instead of ~700.
//! Detection tries these common licenses first and goes to the full store only when nothing
//! among them matches closely (see src/collect/license.rs). Both are cut into buckets by the
//! size of each license text (its count of word pairs): a text can only score high against a
//! license of about its own size, so detection loads and scores only the buckets that could
//! hold a better match than the best found so far. It also writes a store of the SPDX
//! license exceptions, which detection looks for beside a license text.

#[cfg(feature = "license-detection")]
#[path = "src/collect/word_pairs.rs"]
mod word_pairs;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/collect/word_pairs.rs");
    #[cfg(feature = "license-detection")]
    common::write();
}

#[cfg(feature = "license-detection")]
mod common {
    use spdx::detection::{LicenseEntry, Store, TextData};

    /// The licenses found most often in repositories, by SPDX identifier.
    const COMMON: &[&str] = &[
        "0BSD",
        "AGPL-3.0-or-later",
        "Apache-2.0",
        "Artistic-2.0",
        "BSD-2-Clause",
        "BSD-3-Clause",
        "BSL-1.0",
        "CC-BY-4.0",
        "CC0-1.0",
        "EPL-1.0",
        "EPL-2.0",
        "EUPL-1.2",
        "GPL-2.0-or-later",
        "GPL-3.0-or-later",
        "ISC",
        "LGPL-2.1-or-later",
        "LGPL-3.0-or-later",
        "MIT",
        "MIT-0",
        "MPL-2.0",
        "MS-PL",
        "NCSA",
        "OFL-1.1",
        "PostgreSQL",
        "Unlicense",
        "UPL-1.0",
        "WTFPL",
        "Zlib",
    ];

    pub(super) fn write() {
        let full = Store::load_inline().expect("the spdx crate's inline license store loads");
        // Every store written goes in one store first, its entries keyed by where they go,
        // serialised once (the crate's writer compresses at level 21, slow at build scripts'
        // opt-level), then cut by destination. Only word pairs are compared, so the texts
        // themselves are left out: the stores load faster and the binary is smaller.
        let mut all = Store::new();
        for (name, entry) in full.iter() {
            if COMMON.contains(&name.as_str()) {
                all.insert_entry(format!("common/{name}"), stripped(entry));
            }
        }
        // The SPDX license exceptions (LLVM-exception, Classpath-exception-2.0, …), from the
        // spdx crate's texts: detection looks for one beside a license text.
        let exceptions: Vec<(String, LicenseEntry)> = spdx::text::EXCEPTION_TEXTS
            .iter()
            .map(|(name, text)| (name.to_string(), LicenseEntry::new(TextData::new(text))))
            .collect();
        for (name, entry) in &exceptions {
            all.insert_entry(format!("exception/{name}"), stripped(entry));
        }
        let exception_bounds = add_buckets(
            exceptions.iter().map(|(n, e)| (n, e)),
            "exception-",
            &mut all,
        );
        let bounds = add_buckets(full.iter(), "", &mut all);
        let common_bounds = add_buckets(
            full.iter()
                .filter(|(name, _)| COMMON.contains(&name.as_str())),
            "common-",
            &mut all,
        );
        let mut by_store: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>> =
            Default::default();
        for (key, bytes) in entries(&all) {
            let (store, name) = key.split_once('/').expect("a store's key");
            by_store
                .entry(store.to_string())
                .or_default()
                .push((name.to_string(), bytes));
        }
        // One compressor at level 9 for every store written (a new one per store would
        // allocate and clear its tables each time).
        let mut z = zstd::bulk::Compressor::new(9).expect("a zstd compressor");
        let common = by_store.remove("common").expect("the common licenses");
        // The common licenses as one store, for the tests that hold the buckets to its
        // answers.
        write_store(&common, "common-licenses.bin.zstd", &mut z);
        // The exceptions as one store, for the same tests.
        let exceptions = by_store.remove("exception").expect("the exceptions");
        write_store(&exceptions, "exceptions.bin.zstd", &mut z);
        // Statics, not constants: a constant's bytes may be copied into each codegen unit
        // that uses it (a 2.2 MB larger binary was seen).
        let mut list = String::from("// Written by build.rs: the license stores in buckets.\n");
        for (name, prefix, bounds) in [
            ("COMMON_BUCKETS", "common-", &common_bounds),
            ("EXCEPTION_BUCKETS", "exception-", &exception_bounds),
            ("FULL_BUCKETS", "", &bounds),
        ] {
            let mut items = String::new();
            let mut count = 0;
            for (at, entries) in &by_store {
                let Some(Ok(n)) = at.strip_prefix(prefix).map(str::parse::<i32>) else {
                    continue;
                };
                let file = format!("{name}-{at}.bin.zstd");
                write_store(entries, &file, &mut z);
                let (lo, hi) = bounds[&n];
                items.push_str(&format!(
                    "    Bucket {{ lo: {lo}, hi: {hi}, cache: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\")) }},\n"
                ));
                count += 1;
            }
            list.push_str(&format!(
                "const {name}_LEN: usize = {count};\nstatic {name}: [Bucket; {name}_LEN] = [\n{items}];\n"
            ));
        }
        std::fs::write(out_dir().join("buckets.rs"), list).expect("OUT_DIR is writable");
    }

    /// Buckets hold the license texts whose size (word pairs) falls between two powers of
    /// this ratio: about 150 buckets of the full store, and a bucket for about each text of
    /// the common licenses. A near-exact match (0.99) can only come from a text within about
    /// 2 % of the text's own size, so detection loads two or three buckets of the full store
    /// for it; a confident one (0.93), within about 15 %, five to eight.
    const BUCKET_RATIO: f64 = 1.04;

    /// `licenses` in buckets by the size of each text of a license (its text, its standard
    /// headers, its alternate texts): a bucket's entry for a license holds those of its
    /// texts that fall in the bucket. Added to `all` under `{prefix}N/` for bucket N; the
    /// smallest and largest size of each bucket returned.
    fn add_buckets<'a>(
        licenses: impl Iterator<Item = (&'a String, &'a LicenseEntry)>,
        prefix: &str,
        all: &mut Store,
    ) -> std::collections::BTreeMap<i32, (usize, usize)> {
        let mut bounds: std::collections::BTreeMap<i32, (usize, usize)> = Default::default();
        for (name, entry) in licenses {
            let texts = std::iter::once(&entry.original)
                .chain(&entry.headers)
                .chain(&entry.alternates);
            let mut by_bucket: std::collections::BTreeMap<i32, Vec<&TextData>> = Default::default();
            for text in texts {
                // A text whose size the probe cannot find goes in bucket 0, loaded whatever
                // the size of the text detected (its bounds 0 and u32::MAX say so). An empty
                // text scores 0 against anything.
                let (at, lo, hi) = match super::word_pairs::word_pairs(text) {
                    Some(0) => continue,
                    Some(size) => {
                        let at = 1 + ((size as f64).ln() / BUCKET_RATIO.ln()).floor() as i32;
                        (at, size, size)
                    }
                    None => (0, 0, u32::MAX as usize),
                };
                let b = bounds.entry(at).or_insert((usize::MAX, 0));
                *b = (b.0.min(lo), b.1.max(hi));
                by_bucket.entry(at).or_default().push(text);
            }
            for (at, texts) in by_bucket {
                // Only the word pairs are compared; the texts stay out of the binary.
                let mut texts = texts.into_iter().map(|t| t.clone().without_text());
                let original = texts.next().expect("a bucket holds a text");
                all.insert_entry(
                    format!("{prefix}{at}/{name}"),
                    LicenseEntry {
                        original,
                        aliases: Vec::new(),
                        headers: Vec::new(),
                        alternates: texts.collect(),
                    },
                );
            }
        }
        bounds
    }

    fn out_dir() -> std::path::PathBuf {
        std::env::var("OUT_DIR").expect("cargo sets OUT_DIR").into()
    }

    /// The entries of a store, each its name and its bytes in the crate's cache (license
    /// text, aliases, headers, alternates), read from the cache the crate writes. Its layout
    /// is the crate's `Bin` implementations for version `spdx-crate-01` (Cargo.lock pins the
    /// crate; another layout fails the build here rather than write the stores wrong).
    fn entries(store: &Store) -> Vec<(String, Vec<u8>)> {
        struct Reader<'a>(&'a [u8]);
        impl Reader<'_> {
            fn take(&mut self, n: usize) -> &[u8] {
                let (a, b) = self.0.split_at(n);
                self.0 = b;
                a
            }
            fn u16(&mut self) -> usize {
                u16::from_le_bytes(self.take(2).try_into().unwrap()) as usize
            }
            fn string(&mut self) -> String {
                let n = self.u16();
                String::from_utf8(self.take(n).to_vec()).expect("cache strings are UTF-8")
            }
            /// A `TextData`: its n-gram set (grams with counts, n, size), its view, its
            /// lines, its processed text.
            fn text(&mut self) {
                for _ in 0..self.u16() {
                    self.string();
                    self.take(4);
                }
                assert_eq!(self.take(1), [2], "detection counts word pairs");
                self.take(3 * 8);
                for _ in 0..self.u16() {
                    self.string();
                }
                self.string();
            }
        }
        let mut cache = Vec::new();
        store.to_cache(&mut cache).expect("the store serialises");
        assert_eq!(
            &cache[..13],
            HEADER,
            "the spdx crate's cache layout changed"
        );
        let raw = zstd::decode_all(&cache[13..]).expect("the spdx crate's cache decodes");
        let mut r = Reader(&raw);
        let mut out = Vec::new();
        for _ in 0..r.u16() {
            let name = r.string();
            let start = r.0;
            r.text();
            for _ in 0..r.u16() {
                r.string();
            }
            for _ in 0..2 {
                for _ in 0..r.u16() {
                    r.text();
                }
            }
            let len = start.len() - r.0.len();
            out.push((name, start[..len].to_vec()));
        }
        assert!(r.0.is_empty(), "the whole cache was read");
        assert_eq!(out.len(), store.len(), "every license was read");
        out
    }

    /// The cache version the spdx crate writes and reads.
    const HEADER: &[u8] = b"spdx-crate-01";

    /// Writes a store of `entries` ([`entries`]) as the crate's cache: its version, then a
    /// zstd frame that records its content size, so that the decoder allocates only that
    /// (the crate's own frames leave it out, and the decoder then allocates the window of
    /// their level, 64 MB, seen with valgrind's massif).
    fn write_store(entries: &[(String, Vec<u8>)], name: &str, z: &mut zstd::bulk::Compressor<'_>) {
        let mut raw = (entries.len() as u16).to_le_bytes().to_vec();
        for (key, bytes) in entries {
            raw.extend_from_slice(&(key.len() as u16).to_le_bytes());
            raw.extend_from_slice(key.as_bytes());
            raw.extend_from_slice(bytes);
        }
        let mut out = HEADER.to_vec();
        out.extend(z.compress(&raw).expect("compressing a store"));
        std::fs::write(out_dir().join(name), out).expect("OUT_DIR is writable");
    }

    /// A license entry without its texts (their word pairs are all detection compares).
    fn stripped(entry: &LicenseEntry) -> LicenseEntry {
        let strip = |t: &TextData| t.clone().without_text();
        LicenseEntry {
            original: strip(&entry.original),
            aliases: entry.aliases.clone(),
            headers: entry.headers.iter().map(strip).collect(),
            alternates: entry.alternates.iter().map(strip).collect(),
        }
    }
}
