//! License detection from `LICENSE`/`COPYING` text when nothing is declared (the SPDX
//! rules themselves are the model's: [`crate::annotations::spdx`]).
//!
//! Detection loads the spdx crate's inline license store (a few MB decompressed), so it runs
//! only when no license was declared by flag, annotation file or project file.

use std::path::Path;

#[cfg(feature = "license-detection")]
use crate::annotations::spdx::canonicalise_declared;

/// The lowest match score accepted from text detection; below it nothing is claimed.
#[cfg(feature = "license-detection")]
const CONFIDENCE: f32 = 0.93;

/// The score a match in the small store of common licenses needs to be taken without
/// consulting the full store (which knows the close variants, such as BSD-3-Clause-Clear).
#[cfg(feature = "license-detection")]
const FAST_CONFIDENCE: f32 = 0.99;

/// The common licenses, cut from the spdx crate's store by build.rs.
#[cfg(feature = "license-detection")]
const COMMON_STORE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/common-licenses.bin.zstd"));

/// A store's best match for a text, as a strict SPDX identifier, with its score.
#[cfg(feature = "license-detection")]
fn best_match(
    store: &spdx::detection::Store,
    text: &spdx::detection::TextData,
) -> Option<(String, f32)> {
    let m = store.analyze(text);
    // The store names some licenses in deprecated forms (`GPL-2.0+`); make them strict.
    let id = canonicalise_declared(m.name).ok()?.0;
    Some((id, m.score))
}

/// The license of one text: a near-exact match among the common licenses; else a near-exact
/// one in the full store (a close variant such as BSD-3-Clause-Clear); else a confident
/// common license; else a confident match in the full store. A confident common license is
/// not replaced by a variant that only scores a little higher: an Apache-2.0 text without
/// its optional appendix (as most Rust crates ship it) scores 0.95 as Apache-2.0 and 0.98 as
/// Pixar, the Apache text with one sentence changed and no appendix.
#[cfg(feature = "license-detection")]
fn license_of(
    common: &spdx::detection::Store,
    full: &mut Option<spdx::detection::Store>,
    text: &spdx::detection::TextData,
) -> Option<(String, f32)> {
    let from_common = best_match(common, text);
    if let Some(found) = from_common.clone().filter(|(_, s)| *s >= FAST_CONFIDENCE) {
        return Some(found);
    }
    if full.is_none() {
        *full = spdx::detection::Store::load_inline().ok();
    }
    let from_full = full.as_ref().and_then(|store| best_match(store, text));
    [
        from_full.clone().filter(|(_, s)| *s >= FAST_CONFIDENCE),
        from_common.filter(|(_, s)| *s >= CONFIDENCE),
        from_full.filter(|(_, s)| *s >= CONFIDENCE),
    ]
    .into_iter()
    .flatten()
    .next()
}

/// License files looked at, in order, at the repository root.
#[cfg(feature = "license-detection")]
const LICENSE_FILES: &[&str] = &[
    "LICENSE",
    "LICENSE.md",
    "LICENSE.txt",
    "LICENCE",
    "LICENCE.md",
    "LICENCE.txt",
    "COPYING",
    "COPYING.md",
    "COPYING.txt",
];

/// A license found in a file: the SPDX identifier, the file, the match score.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Detected {
    pub(crate) expression: String,
    pub(crate) files: Vec<String>,
    pub(crate) score: f32,
}

/// Detects the license of a checkout from its license files. `LICENSE-MIT` +
/// `LICENSE-APACHE` (the Rust convention for a choice of licenses) give `… OR …`.
#[cfg(not(feature = "license-detection"))]
pub(crate) fn detect(_root: &Path) -> Option<Detected> {
    None
}

/// Detects the license of a checkout from its license files. `LICENSE-MIT` +
/// `LICENSE-APACHE` (the Rust convention for a choice of licenses) give `… OR …`.
#[cfg(feature = "license-detection")]
pub(crate) fn detect(root: &Path) -> Option<Detected> {
    let mut candidates: Vec<String> = LICENSE_FILES
        .iter()
        .filter(|f| root.join(f).is_file())
        .take(1)
        .map(|f| (*f).to_string())
        .collect();
    if candidates.is_empty() {
        let mut dual: Vec<String> = std::fs::read_dir(root)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with("LICENSE-") || n.starts_with("LICENCE-"))
            .collect();
        dual.sort();
        candidates = dual;
    }
    if candidates.is_empty() {
        return None;
    }
    let texts: Vec<spdx::detection::TextData> = candidates
        .iter()
        .map(|f| std::fs::read_to_string(root.join(f)).map(|t| spdx::detection::TextData::new(&t)))
        .collect::<Result<_, _>>()
        .ok()?;
    // The common licenses first (a small store, quick to load); all ~700 only when none of
    // them is a near-exact match.
    let common = spdx::detection::Store::from_cache(COMMON_STORE).ok()?;
    let mut full = None;
    let mut ids: Vec<String> = Vec::new();
    let mut score = 1.0f32;
    for text in &texts {
        let (id, s) = license_of(&common, &mut full, text)?;
        score = score.min(s);
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Some(Detected {
        expression: ids.join(" OR "),
        files: candidates,
        score,
    })
}

#[cfg(all(test, feature = "license-detection"))]
mod detection_tests {
    use super::*;

    const APACHE: &str = include_str!("../../tests/fixtures/LICENSE-Apache-2.0.txt");

    #[test]
    fn apache_without_its_appendix_is_apache() {
        let root = std::env::temp_dir().join(format!("oci-stamp-lic-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let cut = APACHE.find("END OF TERMS AND CONDITIONS").unwrap() + 27;
        std::fs::write(root.join("LICENSE"), &APACHE[..cut]).unwrap();
        let d = detect(&root).unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        assert_eq!(d.expression, "Apache-2.0");
        assert!(d.score >= CONFIDENCE, "{}", d.score);
    }
}
