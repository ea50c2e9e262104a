//! With the `license-detection` feature: cut the spdx crate's license store down to the
//! licenses most projects use, so that detecting them loads ~30 entries instead of ~700.
//! Detection tries this small store first and loads the full one only when nothing in it
//! matches closely (see src/collect/license.rs). It also writes a store of the SPDX license
//! exceptions, which detection looks for beside a license text.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "license-detection")]
    common::write();
}

#[cfg(feature = "license-detection")]
mod common {
    use spdx::detection::{LicenseEntry, Store};

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
