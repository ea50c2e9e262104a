//! With the `license-detection` feature: cut the spdx crate's license store down to the
//! licenses most projects use, so that detecting them loads ~30 entries instead of ~700.
//! Detection tries this small store first and loads the full one only when nothing in it
//! matches closely (see src/collect/license.rs). It also writes a store of the SPDX license
//! exceptions, which detection looks for beside a license text, and the full store again,
//! cut into buckets by the size of each license text (its count of word pairs): a text can
//! only score high against a license of about its own size, so detection loads only the
//! buckets that could hold a match instead of all ~700 licenses.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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

    /// The share of the common store's size in the part loaded on a thread of its own
    /// (src/collect/license.rs): the other part loads on the calling thread after it has
    /// read the license files, which costs about a quarter of what loading the whole store
    /// does (a long text such as Apache-2.0's more, MIT's less).
    const THREAD_SHARE: f64 = 0.6;

    pub(super) fn write() {
        let full = Store::load_inline().expect("the spdx crate's inline license store loads");
        let mut small = Store::new();
        let mut entries: Vec<(usize, String, LicenseEntry)> = Vec::new();
        for (name, entry) in full.iter() {
            if COMMON.contains(&name.as_str()) {
                small.insert_entry(name.clone(), copy(entry));
                let mut one = Store::new();
                one.insert_entry(name.clone(), copy(entry));
                entries.push((serialised_len(&one), name.clone(), copy(entry)));
            }
        }
        // The whole store, for the tests that hold the parts to its answers.
        save(&small, "common-licenses.bin.zstd");
        // Two parts of about THREAD_SHARE and the rest of the size (what loading costs goes
        // with it): the largest entries first, each to the part further below its share.
        entries.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let total: usize = entries.iter().map(|e| e.0).sum();
        let shares = [THREAD_SHARE, 1.0 - THREAD_SHARE];
        let mut parts = [Store::new(), Store::new()];
        let mut sizes = [0usize; 2];
        for (len, name, entry) in entries {
            let room = |i: usize| shares[i] * total as f64 - sizes[i] as f64;
            let i = if room(0) >= room(1) { 0 } else { 1 };
            sizes[i] += len;
            parts[i].insert_entry(name, entry);
        }
        for (i, part) in parts.iter().enumerate() {
            save(part, &format!("common-licenses-{i}.bin.zstd"));
        }
        // The SPDX license exceptions (LLVM-exception, Classpath-exception-2.0, …), from the
        // spdx crate's texts: detection looks for one beside a license text.
        let mut exceptions = Store::new();
        for (name, text) in spdx::text::EXCEPTION_TEXTS {
            exceptions.add_license((*name).to_string(), spdx::detection::TextData::new(text));
        }
        save(&exceptions, "exceptions.bin.zstd");
        write_buckets(&full);
    }

    /// Buckets of the full store hold the license texts whose size (word pairs) falls
    /// between two powers of this ratio: about 150 buckets. A near-exact match (0.99) can
    /// only come from a text within about 2 % of the text's own size, so detection loads
    /// two or three buckets for it; a confident one (0.93), within about 15 %, five to eight.
    const BUCKET_RATIO: f64 = 1.04;

    /// The full store in buckets by the size of each text of a license (its text, its
    /// standard headers, its alternate texts): a bucket's entry for a license holds those
    /// of its texts that fall in the bucket. Written as `full-N.bin.zstd`, with
    /// `full_buckets.rs` listing each bucket's smallest and largest size.
    fn write_buckets(full: &Store) {
        let sizes = text_sizes(full);
        let mut buckets: std::collections::BTreeMap<i32, (usize, usize, Store)> =
            Default::default();
        for (name, entry) in full.iter() {
            let texts = std::iter::once(&entry.original)
                .chain(&entry.headers)
                .chain(&entry.alternates);
            let mut by_bucket: std::collections::BTreeMap<i32, Vec<(usize, &TextData)>> =
                Default::default();
            for (text, &size) in texts.zip(&sizes[name]) {
                // An empty text scores 0 against anything.
                if size > 0 {
                    let at = ((size as f64).ln() / BUCKET_RATIO.ln()).floor() as i32;
                    by_bucket.entry(at).or_default().push((size, text));
                }
            }
            for (at, texts) in by_bucket {
                let bucket = buckets
                    .entry(at)
                    .or_insert_with(|| (usize::MAX, 0, Store::new()));
                for (size, _) in &texts {
                    bucket.0 = bucket.0.min(*size);
                    bucket.1 = bucket.1.max(*size);
                }
                let mut texts = texts.into_iter().map(|(_, t)| t.clone());
                let original = texts.next().expect("a bucket holds a text");
                bucket.2.insert_entry(
                    name.clone(),
                    LicenseEntry {
                        original,
                        aliases: Vec::new(),
                        headers: Vec::new(),
                        alternates: texts.collect(),
                    },
                );
            }
        }
        let mut list = String::from(
            "// Written by build.rs: the buckets of the full license store.\n\
             const FULL_BUCKETS: &[Bucket] = &[\n",
        );
        for (at, (lo, hi, store)) in &buckets {
            let file = format!("full-{at}.bin.zstd");
            save(store, &file);
            list.push_str(&format!(
                "    Bucket {{ lo: {lo}, hi: {hi}, cache: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\")) }},\n"
            ));
        }
        list.push_str("];\n");
        let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
            .join("full_buckets.rs");
        std::fs::write(out, list).expect("OUT_DIR is writable");
    }

    /// The size (word pairs counted with repeats, what detection's score divides by) of each
    /// text of each license in `store`: its text, then its headers, then its alternates.
    /// The crate does not expose it, so it is read from the store's cache, whose layout is
    /// the crate's `Bin` implementations for version `spdx-crate-01` (Cargo.lock pins the
    /// crate; another layout fails the build here rather than cut the store wrong).
    fn text_sizes(store: &Store) -> std::collections::HashMap<String, Vec<usize>> {
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
            fn u64(&mut self) -> usize {
                u64::from_le_bytes(self.take(8).try_into().unwrap()) as usize
            }
            fn string(&mut self) -> String {
                let n = self.u16();
                String::from_utf8(self.take(n).to_vec()).expect("cache strings are UTF-8")
            }
            /// A `TextData`: its n-gram set (grams with counts, n, size), its view, its
            /// lines, its processed text. Returns the size.
            fn text(&mut self) -> usize {
                for _ in 0..self.u16() {
                    self.string();
                    self.take(4);
                }
                assert_eq!(self.take(1), [2], "detection counts word pairs");
                let size = self.u64();
                self.u64();
                self.u64();
                for _ in 0..self.u16() {
                    self.string();
                }
                self.string();
                size
            }
        }
        let mut cache = Vec::new();
        store.to_cache(&mut cache).expect("the store serialises");
        assert_eq!(
            &cache[..13],
            b"spdx-crate-01",
            "the spdx crate's cache layout changed"
        );
        let raw = zstd::decode_all(&cache[13..]).expect("the spdx crate's cache decodes");
        let mut r = Reader(&raw);
        let mut sizes = std::collections::HashMap::new();
        for _ in 0..r.u16() {
            let name = r.string();
            let mut of = vec![r.text()];
            for _ in 0..r.u16() {
                r.string();
            }
            for _ in 0..2 {
                for _ in 0..r.u16() {
                    of.push(r.text());
                }
            }
            sizes.insert(name, of);
        }
        assert!(r.0.is_empty(), "the whole cache was read");
        for (name, entry) in store.iter() {
            let texts = 1 + entry.headers.len() + entry.alternates.len();
            assert_eq!(sizes[name].len(), texts, "every text of {name} was sized");
        }
        sizes
    }

    fn copy(entry: &LicenseEntry) -> LicenseEntry {
        LicenseEntry {
            original: entry.original.clone(),
            aliases: entry.aliases.clone(),
            headers: entry.headers.clone(),
            alternates: entry.alternates.clone(),
        }
    }

    /// The size of a store's cache, uncompressed.
    fn serialised_len(store: &Store) -> usize {
        let mut cache = Vec::new();
        store.to_cache(&mut cache).expect("the store serialises");
        zstd::decode_all(&cache[13..])
            .expect("the spdx crate's cache decodes")
            .len()
    }

    fn save(store: &Store, name: &str) {
        let out =
            std::path::Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join(name);
        let mut cache = Vec::new();
        store.to_cache(&mut cache).expect("the store serialises");
        std::fs::write(&out, with_content_size(&cache)).expect("OUT_DIR is writable");
    }

    /// The spdx crate writes its cache as a 13-byte version header and a zstd stream at level
    /// 21 without the content size, so the decoder must allocate the level's whole window
    /// (64 MB, seen with valgrind's massif) to read a store of a few hundred KB. The same
    /// stream again, with its size in the frame header: the decoder allocates only that.
    fn with_content_size(cache: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let (header, stream) = cache.split_at(13);
        let raw = zstd::decode_all(stream).expect("the spdx crate's cache decodes");
        let mut out = header.to_vec();
        let mut enc = zstd::Encoder::new(&mut out, 19).expect("a zstd encoder");
        enc.include_contentsize(true)
            .expect("zstd content size flag");
        enc.set_pledged_src_size(Some(raw.len() as u64))
            .expect("zstd pledged size");
        enc.write_all(&raw).expect("compressing the small store");
        enc.finish().expect("finishing the small store");
        out
    }
}
