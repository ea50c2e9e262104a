//! License detection from the license files of a checkout (the SPDX rules themselves are the
//! model's: [`crate::annotations::spdx`]).
//!
//! Detection loads license stores that build.rs cut from the spdx crate's (the common
//! licenses; for a text that is no near-exact one, the buckets of the full store of about
//! its size), so it runs only when no license was declared by flag, annotation file or
//! project file, or when the declared name stands for several licenses (`BSD`) and the text
//! may tell which.
//!
//! The rule, as `collect --explain` shows it:
//! - `LICENSES/` (REUSE): each file names its license by its file name (`MIT.txt`); the
//!   checkout is under all of them: `… AND …`.
//! - Else the files at the root whose name is LICENSE, LICENCE, COPYING, COPYRIGHT or
//!   UNLICENSE, alone or followed by `.ext` or `-WHAT` (`LICENSE-MIT`, `LICENSE.txt`; third-party
//!   `NOTICE` files aside). Each one's text is matched; several different licenses side by side
//!   are a choice, the convention of dual licensing: `… OR …` (`LICENSE-MIT` +
//!   `LICENSE-APACHE` → `MIT OR Apache-2.0`).
//! - A file's license is the one its text starts with (a short header may precede it, and
//!   the license must end within the text's first 12,000 words and 3,000 lines; a file of
//!   more than 1 MiB or 20,000 lines is not read, and that is said); what follows, such as
//!   third-party notices, is not the checkout's license, except an SPDX exception, which is
//!   kept: `Apache-2.0 WITH LLVM-exception`.
//! - A file that is present but not recognised leaves the key out (`license-not-recognised`),
//!   and so does a text shared by several identifiers (`GPL-3.0-only` and
//!   `GPL-3.0-or-later` have one text; which applies is said in the source files).

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

/// A license text found at the top of a file may follow at most this many lines of header.
#[cfg(feature = "license-detection")]
const HEADER_LINES: usize = 20;

/// The step, in lines, of the search for the license a text starts with.
#[cfg(feature = "license-detection")]
const STEP: usize = 4;

/// The search for the license a text starts with tries windows of at most this many words
/// (and the whole text). The longest common license text, LGPL-3.0's (the spdx crate's text
/// holds the GPL-3.0 after it), has 6,878; a test holds every one under [`AT_TOP_WORDS`] /
/// 1.5, room for a header and for words that normalisation splits (`and/or`). Each window
/// is normalised anew, so without a bound the search's time grows with the square of the
/// text's length: 1.0 s for a text of 2,900 lines (four copies of redis's LICENSE.txt),
/// where nothing is found anyway.
#[cfg(feature = "license-detection")]
const AT_TOP_WORDS: usize = 12_000;

/// Nor more than this many lines: a text of many empty or one-word lines has few words (a
/// test holds every common license text, wrapped at 40 characters, under it).
#[cfg(feature = "license-detection")]
const AT_TOP_LINES: usize = 3_000;

/// The common licenses as one store, as build.rs cut them: the tests hold the buckets
/// ([`COMMON_BUCKETS`]) to it.
#[cfg(all(test, feature = "license-detection"))]
const COMMON_STORE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/common-licenses.bin.zstd"));

/// The SPDX license exceptions as one store, as build.rs made it: the tests hold the
/// buckets ([`EXCEPTION_BUCKETS`]) to it.
#[cfg(all(test, feature = "license-detection"))]
const EXCEPTION_STORE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/exceptions.bin.zstd"));

/// A license found in files: the SPDX expression, the files, the lowest match score, and how
/// the files were combined.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Detected {
    pub(crate) expression: String,
    pub(crate) files: Vec<String>,
    pub(crate) score: f32,
    pub(crate) rule: String,
}

/// What the license files of a checkout say.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "license-detection"), allow(dead_code))]
pub(crate) enum Detection {
    /// No license file.
    Nothing,
    Found(Detected),
    /// The text is shared by several identifiers (`GPL-3.0-only`, `GPL-3.0-or-later`).
    Ambiguous {
        files: Vec<String>,
        candidates: Vec<String>,
    },
    /// Files that are present but not recognised, and what the others are.
    NotRecognised {
        files: Vec<String>,
        others: Vec<(String, String)>,
    },
}

#[cfg(feature = "license-detection")]
/// The file names looked at, upper-cased: the stem, then nothing, `.ext`, `-WHAT` or `_WHAT`.
fn is_license_file_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    if ["NOTICE", "THIRD", "3RD"].iter().any(|w| upper.contains(w)) {
        return false;
    }
    ["LICENSE", "LICENCE", "COPYING", "COPYRIGHT", "UNLICENSE"]
        .iter()
        .any(|stem| {
            upper.strip_prefix(stem).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(['.', '-', '_']) && rest.len() > 1
            })
        })
}

#[cfg(feature = "license-detection")]
/// The license files at `root`, by name; and the REUSE `LICENSES/` files.
fn license_files(root: &Path) -> (Vec<String>, Vec<String>) {
    let list = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| keep(n))
            .collect();
        names.sort();
        names
    };
    let reuse = list(&root.join("LICENSES"), &|n| !n.starts_with('.'));
    (list(root, &is_license_file_name), reuse)
}

#[cfg(feature = "license-detection")]
/// The texts shared by an `-only` and an `-or-later` identifier: both.
fn family(id: &str) -> Option<Vec<String>> {
    let base = id
        .strip_suffix("-only")
        .or_else(|| id.strip_suffix("-or-later"))?;
    Some(vec![format!("{base}-only"), format!("{base}-or-later")])
}

/// Detects the license of a checkout from its license files.
#[cfg(not(feature = "license-detection"))]
pub(crate) fn detect(_root: &Path) -> Detection {
    Detection::Nothing
}

#[cfg(feature = "license-detection")]
/// REUSE: `LICENSES/<SPDX-ID>.<ext>` names the license; all of them apply.
fn reuse(names: &[String]) -> Detection {
    let mut ids: Vec<String> = Vec::new();
    let mut bad: Vec<String> = Vec::new();
    for n in names {
        let id = n.rsplit_once('.').map_or(n.as_str(), |(stem, _)| stem);
        let is_license = spdx::Expression::parse(id).is_ok()
            && !id.contains(' ')
            && spdx::exception_id(id).is_none();
        if is_license {
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_string());
            }
        } else {
            bad.push(format!("LICENSES/{n}"));
        }
    }
    if !bad.is_empty() {
        return Detection::NotRecognised {
            files: bad,
            others: Vec::new(),
        };
    }
    let files = names.iter().map(|n| format!("LICENSES/{n}")).collect();
    Detection::Found(Detected {
        expression: ids.join(" AND "),
        files,
        score: 1.0,
        rule: "REUSE: each file in LICENSES/ names a license that applies; all of them (AND)"
            .into(),
    })
}

/// Detects the license of a checkout from its license files (see the module's rule).
#[cfg(feature = "license-detection")]
pub(crate) fn detect(root: &Path) -> Detection {
    let (files, reuse_files) = license_files(root);
    if !reuse_files.is_empty() {
        return reuse(&reuse_files);
    }
    if files.is_empty() {
        return Detection::Nothing;
    }
    let found = files
        .iter()
        .map(|f| match read_license_file(&root.join(f)) {
            Read::Text(bytes) => {
                let outcome = license_of(&spdx::detection::TextData::new(
                    &String::from_utf8_lossy(&bytes),
                ));
                (
                    f.clone(),
                    outcome.map_or(Outcome::NotRecognised, Outcome::Found),
                )
            }
            Read::Skipped(why) => (not_read(f, &why), Outcome::NotRecognised),
            Read::Unreadable => (f.clone(), Outcome::NotRecognised),
        })
        .collect();
    combine(found)
}

/// A license file larger than this is not read: the longest license texts are under 50 KB
/// (redis's three licenses in one LICENSE.txt 37 KB, rollup's LICENSE.md with its bundled
/// dependencies' licenses 35 KB); detection on a file of 1 MiB takes about 0.6 s.
#[cfg(feature = "license-detection")]
const LICENSE_FILE_LIMIT: u64 = 1 << 20;

/// Nor one of more lines than this (a license text wrapped as usual has under 1,000; rollup's
/// LICENSE.md 679, redis's LICENSE.txt 733): the crate's search for a license's bounds in a
/// text copies every line of it for each range it tries, and a text of 480,000 short lines
/// took 7 s.
#[cfg(feature = "license-detection")]
const LICENSE_LINE_LIMIT: usize = 20_000;

#[cfg(feature = "license-detection")]
enum Read {
    Text(Vec<u8>),
    /// Not read, and why (for the warning).
    Skipped(String),
    Unreadable,
}

/// A license file's bytes, unless it is larger than [`LICENSE_FILE_LIMIT`] (never read past
/// it, so a huge or endless file costs nothing) or cannot be read.
#[cfg(feature = "license-detection")]
fn read_license_file(path: &Path) -> Read {
    use std::io::Read as _;
    let Ok(file) = std::fs::File::open(path) else {
        return Read::Unreadable;
    };
    let mut bytes = Vec::new();
    match file.take(LICENSE_FILE_LIMIT + 1).read_to_end(&mut bytes) {
        Ok(_) if bytes.len() as u64 > LICENSE_FILE_LIMIT => {
            let len = std::fs::metadata(path).map_or(LICENSE_FILE_LIMIT + 1, |m| m.len());
            Read::Skipped(format!(
                "{:.1} MiB, more than the {} MiB a license file is read up to",
                len as f64 / (1u64 << 20) as f64,
                LICENSE_FILE_LIMIT >> 20
            ))
        }
        Ok(_) => match bytes.iter().filter(|&&b| b == b'\n').count() + 1 {
            lines if lines > LICENSE_LINE_LIMIT => Read::Skipped(format!(
                "{lines} lines, more than the {LICENSE_LINE_LIMIT} a license file is read up to"
            )),
            _ => Read::Text(bytes),
        },
        Err(_) => Read::Unreadable,
    }
}

/// A file's name as the not-recognised warning gives it, with why it was not read.
#[cfg(feature = "license-detection")]
fn not_read(file: &str, why: &str) -> String {
    format!("{file} ({why}: not read)")
}

/// Detects the license of one named file (npm's `SEE LICENSE IN <file>`).
#[cfg(not(feature = "license-detection"))]
pub(crate) fn detect_file(_root: &Path, _file: &str) -> Detection {
    Detection::Nothing
}

/// Detects the license of one named file (npm's `SEE LICENSE IN <file>`).
#[cfg(feature = "license-detection")]
pub(crate) fn detect_file(root: &Path, file: &str) -> Detection {
    let bytes = match read_license_file(&root.join(file)) {
        Read::Text(bytes) => bytes,
        Read::Skipped(why) => {
            return combine(vec![(not_read(file, &why), Outcome::NotRecognised)]);
        }
        Read::Unreadable => return Detection::Nothing,
    };
    let text = spdx::detection::TextData::new(&String::from_utf8_lossy(&bytes));
    let outcome = license_of(&text).map_or(Outcome::NotRecognised, Outcome::Found);
    combine(vec![(file.to_string(), outcome)])
}

/// A bucket of a license store (build.rs): the licenses whose texts have between `lo` and
/// `hi` word pairs (a license with texts of several sizes is in several buckets, each time
/// with the texts of that size).
#[cfg(feature = "license-detection")]
struct Bucket {
    lo: u32,
    hi: u32,
    cache: &'static [u8],
}

#[cfg(feature = "license-detection")]
include!(concat!(env!("OUT_DIR"), "/buckets.rs"));

/// A text's count of word pairs ([`word_pairs::word_pairs`]); build.rs sizes the full
/// store's texts with the same code.
#[cfg(feature = "license-detection")]
#[path = "word_pairs.rs"]
mod word_pairs;
#[cfg(feature = "license-detection")]
use word_pairs::word_pairs;

// The stores' buckets, each loaded at most once a process (when a text first needs it)
// and never dropped: they are read by every detection after the first, and freeing their
// hundreds of thousands of small allocations at exit cost about 8 M instructions (as much
// as reading an Apache-2.0 text).

/// The buckets of the common licenses loaded so far, by position in [`COMMON_BUCKETS`].
#[cfg(feature = "license-detection")]
static COMMON: [std::sync::OnceLock<Option<spdx::detection::Store>>; COMMON_BUCKETS_LEN] =
    [const { std::sync::OnceLock::new() }; COMMON_BUCKETS_LEN];

/// The buckets of the exceptions loaded so far, by position in [`EXCEPTION_BUCKETS`].
#[cfg(feature = "license-detection")]
static EXCEPTIONS: [std::sync::OnceLock<Option<spdx::detection::Store>>; EXCEPTION_BUCKETS_LEN] =
    [const { std::sync::OnceLock::new() }; EXCEPTION_BUCKETS_LEN];

/// The buckets of the full store loaded so far, by position in [`FULL_BUCKETS`].
#[cfg(feature = "license-detection")]
static FULL: [std::sync::OnceLock<Option<spdx::detection::Store>>; FULL_BUCKETS_LEN] =
    [const { std::sync::OnceLock::new() }; FULL_BUCKETS_LEN];

/// The most a text of `n` word pairs can score against a bucket's texts: Dice's coefficient
/// against a text of m pairs is at most 2·min(n, m) / (n + m), which is 1 at m = n and falls
/// away from it on both sides. 1 when the text's size is not known.
#[cfg(feature = "license-detection")]
fn bound(n: Option<usize>, bucket: &Bucket) -> f64 {
    let Some(n) = n else { return 1.0 };
    let n = n as f64;
    let (lo, hi) = (f64::from(bucket.lo), f64::from(bucket.hi));
    if n < lo {
        2.0 * n / (n + lo)
    } else if n > hi {
        2.0 * hi / (n + hi)
    } else {
        1.0
    }
}

/// How far a score in the crate's f32 arithmetic may lie above its exact value, and more:
/// a bucket is passed over only when its bound is below the score to beat by this much.
#[cfg(feature = "license-detection")]
const SLACK: f64 = 1e-4;

/// The best match for `text` among the licenses of `buckets` when one scores at least
/// `floor` (the first bucket's on a tie). The buckets are taken from the one whose sizes
/// are nearest the text's; a bucket none of whose texts could score `floor`, or more than
/// the best found so far, is neither loaded nor scored, so the answer is the whole store's.
/// `None` for a text with no words (it scores 0 against any license).
#[cfg(feature = "license-detection")]
fn best_in(
    buckets: &'static [Bucket],
    loaded: &'static [std::sync::OnceLock<Option<spdx::detection::Store>>],
    text: &spdx::detection::TextData,
    floor: f32,
) -> Option<Best> {
    let n = word_pairs(text);
    if n == Some(0) {
        return None;
    }
    let mut order: Vec<(f64, usize)> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| (bound(n, b), i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut best: Option<Best> = None;
    for (most, i) in order {
        let beat = best.as_ref().map_or(floor, |b| b.score.max(floor));
        if most + SLACK < f64::from(beat) {
            break;
        }
        let Some(store) = loaded[i]
            .get_or_init(|| spdx::detection::Store::from_cache(buckets[i].cache).ok())
            .as_ref()
        else {
            continue;
        };
        let m = analyze(store, text);
        if best.as_ref().is_none_or(|b| m.score > b.score) {
            best = Some(m);
        }
    }
    best.filter(|b| b.score >= floor)
}

#[cfg(feature = "license-detection")]
#[derive(Debug, Clone)]
enum Outcome {
    Found((String, f32)),
    NotRecognised,
}

/// Several files at the root: each file's license once, joined with OR.
#[cfg(feature = "license-detection")]
fn combine(found: Vec<(String, Outcome)>) -> Detection {
    let not_recognised: Vec<String> = found
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::NotRecognised))
        .map(|(f, _)| f.clone())
        .collect();
    let recognised: Vec<(String, String, f32)> = found
        .iter()
        .filter_map(|(f, o)| match o {
            Outcome::Found((id, s)) => Some((f.clone(), id.clone(), *s)),
            Outcome::NotRecognised => None,
        })
        .collect();
    if !not_recognised.is_empty() {
        return Detection::NotRecognised {
            files: not_recognised,
            others: recognised.into_iter().map(|(f, id, _)| (f, id)).collect(),
        };
    }
    let files: Vec<String> = recognised.iter().map(|(f, _, _)| f.clone()).collect();
    let mut ids: Vec<String> = Vec::new();
    for (_, id, _) in &recognised {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    if let [one] = ids.as_slice() {
        let license = one.split(" WITH ").next().unwrap_or(one);
        if let Some(candidates) = family(license) {
            let with = one.strip_prefix(license).unwrap_or("");
            return Detection::Ambiguous {
                files,
                candidates: candidates
                    .into_iter()
                    .map(|c| format!("{c}{with}"))
                    .collect(),
            };
        }
    }
    if let Some(f) = ids
        .iter()
        .find(|id| family(id.split(" WITH ").next().unwrap_or(id)).is_some())
    {
        let candidates = family(f.split(" WITH ").next().unwrap_or(f)).unwrap_or_default();
        return Detection::Ambiguous { files, candidates };
    }
    let score = recognised.iter().map(|(_, _, s)| *s).fold(1.0f32, f32::min);
    let rule = if ids.len() > 1 {
        "several license texts at the root: a choice of them (OR), the convention of dual licensing"
    } else if files.len() > 1 {
        "several license files, one license"
    } else {
        "the license text of the file"
    };
    Detection::Found(Detected {
        expression: ids.join(" OR "),
        files,
        score,
        rule: rule.into(),
    })
}

/// A store's best match for a text: its score, the store's name for the license, and the
/// license's data (to locate it in the text).
#[cfg(feature = "license-detection")]
struct Best {
    score: f32,
    name: &'static str,
    data: &'static spdx::detection::TextData,
}

#[cfg(feature = "license-detection")]
fn analyze(store: &'static spdx::detection::Store, text: &spdx::detection::TextData) -> Best {
    let m = store.analyze(text);
    Best {
        score: m.score,
        name: m.name,
        data: m.data,
    }
}

/// A best match as a strict SPDX identifier, with its score. The store names some licenses
/// in deprecated forms (`GPL-2.0+`); they are made strict.
#[cfg(feature = "license-detection")]
fn identified(m: Best) -> Option<(String, f32)> {
    let id = canonicalise_declared(m.name).ok()?.0;
    Some((id, m.score))
}

/// The full store's best match for a text when it scores at least `confidence`: only the
/// buckets that hold a license text of a size that can score so high are loaded ([`best_in`]).
#[cfg(feature = "license-detection")]
fn full_match(text: &spdx::detection::TextData, confidence: f32) -> Option<(String, f32)> {
    identified(best_in(&FULL_BUCKETS, &FULL, text, confidence)?)
}

/// Loads, on a thread of its own, the buckets of the full store that [`full_match`] may score
/// for `text` at `confidence`, the farthest from the text's size first (the caller, scoring
/// the nearest first, takes those the thread has loaded, or waits for one it is loading).
/// The thread is not waited for: what it loads that is not needed is only time on another
/// core. Nothing happens when no thread starts.
#[cfg(feature = "license-detection")]
fn preload_full(text: &spdx::detection::TextData, confidence: f32) {
    let n = word_pairs(text);
    if n == Some(0) {
        return;
    }
    let mut order: Vec<(f64, usize)> = FULL_BUCKETS
        .iter()
        .enumerate()
        .map(|(i, b)| (bound(n, b), i))
        .filter(|(most, _)| most + SLACK >= f64::from(confidence))
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)));
    let _ = crate::threads::spawn("license-store", move || {
        for (_, i) in order {
            FULL[i].get_or_init(|| spdx::detection::Store::from_cache(FULL_BUCKETS[i].cache).ok());
        }
    });
}

/// The best match among the common licenses that scores at least `floor` ([`best_in`]).
#[cfg(feature = "license-detection")]
fn common_match(text: &spdx::detection::TextData, floor: f32) -> Option<Best> {
    best_in(&COMMON_BUCKETS, &COMMON, text, floor)
}

/// The license of one text: a near-exact match among the common licenses; else a
/// near-exact one in the full store (a close variant such as BSD-3-Clause-Clear); else a
/// common license the text starts with, followed by an SPDX exception; else a confident
/// common license; else a confident match in the full store; else a common license the
/// text starts with, followed by other text (notices). A confident common license is not
/// replaced by a variant that only scores a little higher: an Apache-2.0 text without its
/// optional appendix (as most Rust crates ship it) scores 0.95 as Apache-2.0 and 0.98 as
/// Pixar, the Apache text with one sentence changed and no appendix.
#[cfg(feature = "license-detection")]
fn license_of(text: &spdx::detection::TextData) -> Option<(String, f32)> {
    let common = common_match(text, 0.0);
    let whole = common.as_ref().map_or(0.0, |m| m.score);
    let from_common = common.and_then(identified);
    if let Some(found) = from_common.clone().filter(|(_, s)| *s >= FAST_CONFIDENCE) {
        return Some(found);
    }
    if whole < CONFIDENCE {
        // Unless an exception is found at the top, the full store is consulted at
        // CONFIDENCE below: its buckets load on a thread meanwhile.
        preload_full(text, CONFIDENCE);
    }
    if let Some(found) = full_match(text, FAST_CONFIDENCE) {
        return Some(found);
    }
    let at_top = license_at_top(text, whole);
    if let Some((id, score, Some(exception))) = &at_top {
        return Some((format!("{id} WITH {exception}"), *score));
    }
    from_common
        .filter(|(_, s)| *s >= CONFIDENCE)
        .or_else(|| full_match(text, CONFIDENCE))
        .or(at_top.map(|(id, s, _)| (id, s)))
}

/// Past this many windows, the at-top search builds and scores them on two threads.
#[cfg(feature = "license-detection")]
const WINDOWS_ON_TWO_THREADS: usize = 12;

/// The score of each window `[0, end)` of `text` among the common licenses, or `None` for a
/// window that scores less than some other window or than `whole` (it cannot be the first
/// of the best, and is not scored in full: [`best_in`] is given the best score seen so far
/// as its floor). On two threads, each taking every other window, when there are many: the
/// crate normalises each window anew, which is most of the search's time.
#[cfg(feature = "license-detection")]
fn window_scores(
    text: &spdx::detection::TextData,
    top: Option<&spdx::detection::TextData>,
    ends: &[usize],
    whole: f32,
) -> Vec<Option<f32>> {
    use std::sync::atomic::{AtomicU32, Ordering};
    let (_, n) = text.lines_view();
    // A window is the same whichever text it is cut from, as long as that text has the
    // same lines up to the window's end.
    let source = |end: usize| match top {
        Some(top) if end < n => top,
        _ => text,
    };
    // The best score seen so far by either thread, as f32 bits: for scores of 0 and more,
    // the bits order as the numbers do.
    let seen = AtomicU32::new(whole.max(0.0).to_bits());
    let score = |end: usize| {
        let floor = f32::from_bits(seen.load(Ordering::Relaxed));
        let m = common_match(&source(end).with_view(0, end), floor)?;
        seen.fetch_max(m.score.to_bits(), Ordering::Relaxed);
        Some(m.score)
    };
    let mut scores = vec![None; ends.len()];
    if ends.len() < WINDOWS_ON_TWO_THREADS {
        for (s, &end) in scores.iter_mut().zip(ends) {
            *s = score(end);
        }
        return scores;
    }
    let other: Vec<Option<f32>> = std::thread::scope(|scope| {
        let aside = crate::threads::Aside::enter();
        let cores = aside.cores();
        let score = &score;
        let handle = std::thread::Builder::new()
            .name("license-windows".into())
            .spawn_scoped(scope, move || {
                cores.restore();
                ends.iter()
                    .skip(1)
                    .step_by(2)
                    .map(|&e| score(e))
                    .collect::<Vec<_>>()
            });
        drop(aside);
        for (i, &end) in ends.iter().enumerate().step_by(2) {
            scores[i] = score(end);
        }
        match handle.map(|h| h.join()) {
            Ok(Ok(other)) => other,
            // No thread, or it failed: its windows are scored here.
            _ => ends.iter().skip(1).step_by(2).map(|&e| score(e)).collect(),
        }
    });
    for (i, s) in (1..ends.len()).step_by(2).zip(other) {
        scores[i] = s;
    }
    scores
}

/// The ends of the windows `[0, end)` the at-top search scores: every [`STEP`] lines while
/// a window holds at most [`AT_TOP_WORDS`] words and [`AT_TOP_LINES`] lines, then the whole
/// text.
#[cfg(feature = "license-detection")]
fn window_ends(text: &spdx::detection::TextData) -> Vec<usize> {
    let (start, n) = text.lines_view();
    let mut ends = Vec::new();
    let mut words = 0usize;
    for (i, line) in text.lines().iter().enumerate() {
        words += line.split_whitespace().count();
        let end = start + i + 1;
        if words > AT_TOP_WORDS || end > AT_TOP_LINES || end >= n {
            break;
        }
        if end % STEP == 0 {
            ends.push(end);
        }
    }
    ends.push(n);
    ends
}

/// A text of `text`'s lines up to the last window before the whole text, when the bound
/// ([`window_ends`]) cut the windows short: the crate's `with_view` copies every line of the
/// text it cuts a window from, so the windows cost the square of the window bound, not the
/// window bound times the text's length. `None` when the windows were not cut short, or
/// when the crate's line normalisation does not give those lines back unchanged (then the
/// windows are cut from `text` itself).
#[cfg(feature = "license-detection")]
fn top_lines(
    text: &spdx::detection::TextData,
    ends: &[usize],
) -> Option<spdx::detection::TextData> {
    let (start, n) = text.lines_view();
    let k = *ends.iter().rev().nth(1)?;
    if start != 0 || k + STEP >= n {
        return None;
    }
    let lines = &text.lines()[..k];
    let top = spdx::detection::TextData::new(&lines.join("\n"));
    (top.lines() == lines).then_some(top)
}

/// The common license a text starts with (within [`HEADER_LINES`]), its score, and the
/// SPDX exception elsewhere in the text, if there is one. `whole` is the best score of the
/// whole text among the common licenses (0 to find nothing out from it).
///
/// The search scores windows of the text's first lines, [`STEP`] more each time, and takes
/// the first of the best. The last window is the whole text, so a window that scores less
/// than `whole`, or than the best window before it, cannot be taken: licenses of sizes that
/// cannot score that much are not scored ([`best_in`]).
#[cfg(feature = "license-detection")]
fn license_at_top(
    text: &spdx::detection::TextData,
    whole: f32,
) -> Option<(String, f32, Option<String>)> {
    let (_, n) = text.lines_view();
    let ends = window_ends(text);
    let top = top_lines(text, &ends);
    let scores = window_scores(text, top.as_ref(), &ends, whole);
    // The first of the best (a later window must score more to be taken).
    let mut best: Option<(f32, usize)> = None;
    for (score, &end) in scores.iter().zip(&ends) {
        if let Some(score) = *score {
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, end));
            }
        }
    }
    let (_, end) = best?;
    let window = text.with_view(0, (end + STEP).min(n));
    let m = common_match(&window, 0.0)?;
    let (found, score) = window.optimize_bounds(m.data);
    if score < CONFIDENCE || found.lines_view().0 > HEADER_LINES {
        return None;
    }
    let id = canonicalise_declared(m.name).ok()?.0;
    let rest = found.white_out();
    // The exceptions are loaded only now, for a text that is not a near-exact license, and
    // only those of a size that can beat the best so far.
    let exception = best_in(&EXCEPTION_BUCKETS, &EXCEPTIONS, &rest, 0.0).and_then(|e| {
        let (_, e_score) = rest.optimize_bounds(e.data);
        (e_score >= CONFIDENCE)
            .then(|| e.name.to_string())
            .filter(|e| spdx::Expression::parse(&format!("{id} WITH {e}")).is_ok())
    });
    Some((id, score, exception))
}

#[cfg(all(test, feature = "license-detection"))]
mod detection_tests {
    use super::*;

    const APACHE: &str = include_str!("../../tests/fixtures/LICENSE-Apache-2.0.txt");

    fn text(id: &str) -> &'static str {
        spdx::text::LICENSE_TEXTS
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no text for {id}"))
    }

    fn exception(id: &str) -> &'static str {
        spdx::text::EXCEPTION_TEXTS
            .iter()
            .find(|(n, _)| *n == id)
            .map(|(_, t)| *t)
            .unwrap_or_else(|| panic!("no text for {id}"))
    }

    fn detect_files(files: &[(&str, &str)]) -> Detection {
        let root = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let p = root.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        detect(root.path())
    }

    fn found(d: Detection) -> Detected {
        match d {
            Detection::Found(d) => d,
            other => panic!("{other:?}"),
        }
    }

    /// The common licenses' buckets, scored nearest size first and passed over when they
    /// cannot beat the best so far, give the whole store's answer: the same best score and
    /// license, for each common license's text, texts the common store does not hold, the
    /// windows of texts the search for a license at the top of a file scores (with the
    /// best of the windows before as the score to beat), and text that is no license.
    #[test]
    fn the_buckets_of_the_common_store_answer_as_the_whole_store() {
        let whole = spdx::detection::Store::from_cache(COMMON_STORE).unwrap();
        let mut names = std::collections::BTreeSet::new();
        for (i, bucket) in COMMON_BUCKETS.iter().enumerate() {
            let store = spdx::detection::Store::from_cache(bucket.cache).unwrap();
            assert!(!store.is_empty(), "bucket {i} holds licenses");
            names.extend(store.licenses().cloned());
        }
        assert_eq!(
            names.len(),
            whole.len(),
            "every common license is in a bucket"
        );
        assert!(COMMON_BUCKETS.len() >= 10, "{}", COMMON_BUCKETS.len());
        let mut texts: Vec<String> = spdx::text::LICENSE_TEXTS
            .iter()
            .enumerate()
            .filter(|(i, (name, _))| i % 40 == 0 || whole.get_original(name).is_some())
            .map(|(_, (_, t))| t.to_string())
            .collect();
        let firsts: Vec<String> = texts
            .iter()
            .map(|t| t.lines().take(12).collect::<Vec<_>>().join("\n"))
            .collect();
        texts.extend(firsts);
        texts.push(APACHE.to_string());
        texts.push(format!(
            "{}\n\nThird-party notices follow.\n\n{}",
            text("MIT"),
            text("BSD-3-Clause")
        ));
        texts.push("This project may be used by good people only.".into());
        let mut found = std::collections::BTreeSet::new();
        let (mut windows, mut passed_over) = (0, 0);
        for t in &texts {
            let data = spdx::detection::TextData::new(t);
            let a = whole.analyze(&data);
            let b = common_match(&data, 0.0).expect("a text with words has a best match");
            assert_eq!(
                (a.name, a.score),
                (b.name, b.score),
                "{}",
                &t[..t.len().min(80)]
            );
            found.insert(b.name);
            // The windows license_at_top scores, each against the best of those before.
            let (_, n) = data.lines_view();
            let mut beat = 0.0f32;
            for end in (STEP..n).step_by(STEP * 3) {
                let w = data.with_view(0, end);
                let a = whole.analyze(&w).score;
                match common_match(&w, beat) {
                    Some(b) => assert_eq!(b.score, a, "window of {end} lines"),
                    None => {
                        assert!(a < beat || word_pairs(&w) == Some(0), "{a} >= {beat}");
                        passed_over += 1;
                    }
                }
                beat = beat.max(a);
                windows += 1;
            }
        }
        assert!(
            found.len() >= 28,
            "each common license was the best match once: {found:?}"
        );
        assert!(
            windows >= 300 && passed_over >= 5,
            "{windows} windows, {passed_over} passed over"
        );
    }

    /// The search for a license at the top of a text finds the same with the whole text's
    /// score to beat as with none: for licenses followed by notices, an exception or a
    /// header, cut short, and with a copyright line.
    #[test]
    fn the_search_at_the_top_finds_the_same_with_the_whole_text_s_score() {
        let mut texts: Vec<String> = [
            "MIT",
            "BSD-3-Clause",
            "ISC",
            "Apache-2.0",
            "MPL-2.0",
            "Zlib",
        ]
        .iter()
        .map(|id| text(id).to_string())
        .collect();
        let more: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                [
                    format!(
                        "{t}\n\nThe bundled libraries are licensed as follows.\n\n{}",
                        text("BSD-2-Clause")
                    ),
                    format!("Project Foo\nCopyright 2020 The Foo Authors\n\n{t}"),
                    t.lines()
                        .take(t.lines().count() * 2 / 3)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    format!("{t}\n\n{}", exception("LLVM-exception")),
                ]
            })
            .collect();
        texts.extend(more);
        let mut found = 0;
        for t in &texts {
            let data = spdx::detection::TextData::new(t);
            let whole = common_match(&data, 0.0).map_or(0.0, |m| m.score);
            let seeded = license_at_top(&data, whole);
            assert_eq!(
                seeded,
                license_at_top(&data, 0.0),
                "{}",
                &t[..t.len().min(80)]
            );
            found += usize::from(seeded.is_some());
        }
        assert!(found >= 15, "{found} of {} found", texts.len());
    }

    /// The windows scored on two threads, each with the best either has seen as its floor,
    /// pick the window the whole store picks one by one: the first of the best. For long
    /// texts (past [`WINDOWS_ON_TWO_THREADS`] windows) and short ones, with and without the
    /// whole text's score to beat.
    #[test]
    fn windows_on_two_threads_pick_the_first_of_the_best() {
        let whole = spdx::detection::Store::from_cache(COMMON_STORE).unwrap();
        let texts = [
            text("MIT").to_string(),
            APACHE.to_string(),
            format!("{}\n\nBundled:\n\n{}", text("ISC"), text("GPL-2.0-only")),
            format!(
                "Copyright 2020 Foo\n\n{}\n\n{}",
                text("BSD-3-Clause"),
                text("MIT")
            ),
            text("MPL-2.0")
                .lines()
                .take(60)
                .collect::<Vec<_>>()
                .join("\n"),
        ];
        let mut long = 0;
        for t in &texts {
            let data = spdx::detection::TextData::new(t);
            let ends = window_ends(&data);
            long += usize::from(ends.len() >= WINDOWS_ON_TWO_THREADS);
            let mut expected: Option<(f32, usize)> = None;
            for &end in &ends {
                let s = whole.analyze(&data.with_view(0, end)).score;
                if expected.is_none_or(|(b, _)| s > b) {
                    expected = Some((s, end));
                }
            }
            let whole_score = whole.analyze(&data).score;
            for floor in [0.0, whole_score] {
                let mut got: Option<(f32, usize)> = None;
                for (s, &end) in window_scores(&data, None, &ends, floor).iter().zip(&ends) {
                    if let Some(s) = *s {
                        if got.is_none_or(|(b, _)| s > b) {
                            got = Some((s, end));
                        }
                    }
                }
                assert_eq!(got, expected, "{floor}: {}", &t[..t.len().min(60)]);
            }
        }
        assert!(long >= 3, "{long} texts on two threads");
    }

    /// Every common license's text fits the at-top search's windows with room to spare
    /// ([`AT_TOP_WORDS`]), so the bound never cuts off a common license a text starts with.
    #[test]
    fn every_common_license_fits_the_at_top_search() {
        let store = spdx::detection::Store::from_cache(COMMON_STORE).unwrap();
        let mut checked = 0;
        let mut longest = 0;
        for name in store.licenses() {
            let t = spdx::text::LICENSE_TEXTS
                .iter()
                .find(|(n, _)| n == name || name.replace("-or-later", "-only") == *n)
                .map(|(_, t)| *t);
            let Some(t) = t else { continue };
            let words = t.split_whitespace().count();
            longest = longest.max(words);
            assert!(3 * words <= 2 * AT_TOP_WORDS, "{name}: {words} words");
            let narrow = t.len() / 40 + t.lines().count();
            assert!(
                narrow <= AT_TOP_LINES,
                "{name}: {narrow} lines at 40 characters"
            );
            checked += 1;
        }
        assert!(checked >= 25, "{checked} common licenses with a text");
        assert!(longest > 4_000, "the longest has {longest} words");
    }

    /// A long text has windows up to [`AT_TOP_WORDS`] words, then the whole text; a
    /// license at its top followed by more notices than that is still found.
    #[test]
    fn the_at_top_search_is_bounded_and_still_finds_a_license_before_long_notices() {
        let notices = [text("GPL-2.0-only"); 10].join("\n\nAnd also:\n\n");
        let long = format!("{APACHE}\n\nThird-party notices:\n\n{notices}");
        assert!(long.split_whitespace().count() > 2 * AT_TOP_WORDS);
        let data = spdx::detection::TextData::new(&long);
        let ends = window_ends(&data);
        let (_, n) = data.lines_view();
        assert_eq!(ends.last(), Some(&n));
        let before_last = ends[ends.len() - 2];
        let words = |end: usize| -> usize {
            data.lines()[..end]
                .iter()
                .map(|l| l.split_whitespace().count())
                .sum()
        };
        assert!(words(before_last) <= AT_TOP_WORDS);
        assert!(words(before_last + STEP) > AT_TOP_WORDS - 200);
        assert!(ends.windows(2).all(|w| w[0] < w[1]));
        // Below the bound, every STEP lines as before.
        let short = spdx::detection::TextData::new(APACHE);
        let (_, m) = short.lines_view();
        let mut expected: Vec<usize> = (1..).map(|k| k * STEP).take_while(|&e| e < m).collect();
        expected.push(m);
        assert_eq!(window_ends(&short), expected);
        // The windows cut from the first lines alone score as those cut from the whole.
        let top = top_lines(&data, &ends).expect("the windows were cut short");
        assert_eq!(top.lines(), &data.lines()[..before_last]);
        for &end in ends[..ends.len() - 1].iter().step_by(5) {
            let a = common_match(&top.with_view(0, end), 0.0).map(|m| (m.name, m.score));
            let b = common_match(&data.with_view(0, end), 0.0).map(|m| (m.name, m.score));
            assert_eq!(a, b, "window of {end} lines");
        }
        // And the search picks the same window (the first of the best).
        let pick = |top: Option<&spdx::detection::TextData>| {
            let mut best: Option<(f32, usize)> = None;
            for (s, &end) in window_scores(&data, top, &ends, 0.0).iter().zip(&ends) {
                if let Some(s) = *s {
                    if best.is_none_or(|(b, _)| s > b) {
                        best = Some((s, end));
                    }
                }
            }
            best
        };
        assert_eq!(pick(Some(&top)), pick(None));
        assert!(top_lines(&short, &window_ends(&short)).is_none());
        let d = found(detect_files(&[("LICENSE", &long)]));
        assert_eq!(d.expression, "Apache-2.0");
        // Many lines of few words: the lines bound the windows.
        let sparse = format!("{}{}", text("MIT"), "\nword\n".repeat(20_000));
        let data = spdx::detection::TextData::new(&sparse);
        let ends = window_ends(&data);
        assert!(
            ends.len() <= AT_TOP_LINES / STEP + 1,
            "{} windows",
            ends.len()
        );
        assert!(ends[ends.len() - 2] <= AT_TOP_LINES);
    }

    /// A license file over [`LICENSE_FILE_LIMIT`] is not read, and the warning's file name
    /// says why; one that is not readable as a file is not recognised either.
    #[test]
    fn a_license_file_over_the_limit_is_not_read_and_says_so() {
        let mut big = text("MIT").to_string();
        big.push_str(&" ".repeat(LICENSE_FILE_LIMIT as usize + 1 - big.len()));
        match detect_files(&[("LICENSE", &big)]) {
            Detection::NotRecognised { files, .. } => {
                assert_eq!(files.len(), 1);
                assert!(files[0].starts_with("LICENSE (1.0 MiB"), "{}", files[0]);
                assert!(files[0].ends_with("not read)"), "{}", files[0]);
            }
            other => panic!("{other:?}"),
        }
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("LICENSE.md"), &big).unwrap();
        match detect_file(root.path(), "LICENSE.md") {
            Detection::NotRecognised { files, .. } => assert!(files[0].contains("not read")),
            other => panic!("{other:?}"),
        }
        big.truncate(LICENSE_FILE_LIMIT as usize - 1);
        let under = root.path().join("LICENSE.md");
        std::fs::write(&under, &big).unwrap();
        assert!(matches!(read_license_file(&under), Read::Text(b) if b.len() == big.len()));
        let many = "word\n".repeat(LICENSE_LINE_LIMIT);
        match detect_files(&[("COPYING", &many)]) {
            Detection::NotRecognised { files, .. } => {
                let want = format!("COPYING ({} lines,", LICENSE_LINE_LIMIT + 1);
                assert!(files[0].starts_with(&want), "{}", files[0]);
            }
            other => panic!("{other:?}"),
        }
        std::fs::create_dir(root.path().join("COPYING")).unwrap();
        assert!(matches!(
            read_license_file(&root.path().join("COPYING")),
            Read::Unreadable
        ));
    }

    /// The exceptions' buckets give the whole store's best match, for exception texts, their
    /// first lines, a license text and a copyright line (what is left beside a license).
    #[test]
    fn the_buckets_of_the_exceptions_answer_as_the_whole_store() {
        let whole = spdx::detection::Store::from_cache(EXCEPTION_STORE).unwrap();
        let mut texts: Vec<String> = spdx::text::EXCEPTION_TEXTS
            .iter()
            .step_by(3)
            .flat_map(|(_, t)| {
                [
                    t.to_string(),
                    t.lines().take(3).collect::<Vec<_>>().join("\n"),
                ]
            })
            .collect();
        texts.push(text("MIT").to_string());
        texts.push("Copyright (c) 2013-2024 Junegunn Choi".into());
        let mut matched = 0;
        for t in &texts {
            let data = spdx::detection::TextData::new(t);
            let a = whole.analyze(&data);
            let Some(b) = best_in(&EXCEPTION_BUCKETS, &EXCEPTIONS, &data, 0.0) else {
                // A text with no words once processed (a copyright line).
                assert_eq!((a.score, word_pairs(&data)), (0.0, Some(0)), "{t}");
                continue;
            };
            // At a score of 0 every exception ties, and any name is the best.
            assert_eq!(
                ((a.score > 0.0).then_some(a.name), a.score),
                ((b.score > 0.0).then_some(b.name), b.score),
                "{}",
                &t[..t.len().min(80)]
            );
            matched += usize::from(b.score > 0.5);
        }
        assert!(
            texts.len() >= 40 && matched >= 20,
            "{} texts, {matched} matched",
            texts.len()
        );
    }

    /// Every bucket build.rs wrote loads and holds licenses (detection passes over one that
    /// does not load, so a broken one would only be seen here).
    #[test]
    fn every_bucket_loads() {
        for (table, buckets) in [
            ("common", &COMMON_BUCKETS[..]),
            ("exception", &EXCEPTION_BUCKETS[..]),
            ("full", &FULL_BUCKETS[..]),
        ] {
            for (i, b) in buckets.iter().enumerate() {
                let store = spdx::detection::Store::from_cache(b.cache);
                assert!(store.is_ok_and(|s| !s.is_empty()), "{table} bucket {i}");
                assert!(b.lo <= b.hi, "{table} bucket {i}: {}..{}", b.lo, b.hi);
            }
        }
    }

    /// A bucket's bound is the most any of its texts can score: every text of a bucket
    /// scores at most its bound against a text, here texts of many sizes.
    #[test]
    fn no_text_of_a_bucket_scores_above_its_bound() {
        let probes: Vec<spdx::detection::TextData> = [
            text("MIT"),
            text("Apache-2.0"),
            text("GPL-3.0-only"),
            APACHE,
        ]
        .iter()
        .flat_map(|t| {
            let lines: Vec<&str> = t.lines().collect();
            [3, 10, 40, 120, lines.len()].into_iter().map(move |k| {
                spdx::detection::TextData::new(&lines[..k.min(lines.len())].join("\n"))
            })
        })
        .collect();
        let mut checked = 0;
        for (i, bucket) in COMMON_BUCKETS
            .iter()
            .chain(FULL_BUCKETS.iter().step_by(7))
            .enumerate()
        {
            let store = spdx::detection::Store::from_cache(bucket.cache).unwrap();
            for p in &probes {
                let n = word_pairs(p);
                let m = store.analyze(p);
                assert!(
                    f64::from(m.score) <= bound(n, bucket) + SLACK,
                    "bucket {i} ({}..{}): {} scores {} against {n:?} pairs",
                    bucket.lo,
                    bucket.hi,
                    m.name,
                    m.score
                );
                checked += usize::from(n.is_some() && bound(n, bucket) < 0.9);
            }
        }
        assert!(checked >= 100, "bounds below 0.9 checked: {checked}");
    }

    /// The crate's own count of a text's word pairs, read from the store cache it writes
    /// (the layout build.rs reads): one license, its name, then the text's n-gram set.
    fn stored_pairs(data: &spdx::detection::TextData) -> usize {
        let mut store = spdx::detection::Store::new();
        store.add_license("x".into(), data.clone());
        let mut cache = Vec::new();
        store.to_cache(&mut cache).unwrap();
        let raw = zstd::decode_all(&cache[13..]).unwrap();
        let u16_at = |at: usize| u16::from_le_bytes([raw[at], raw[at + 1]]) as usize;
        // The count of licenses (1), the name `x`, then the n-gram set's entries.
        let mut at = 2 + 2 + 1;
        let grams = u16_at(at);
        at += 2;
        for _ in 0..grams {
            at += 2 + u16_at(at) + 4;
        }
        assert_eq!(raw[at], 2, "word pairs");
        u64::from_le_bytes(raw[at + 1..at + 9].try_into().unwrap()) as usize
    }

    /// The word pairs found by the probe are the crate's own count, for license texts, their
    /// first lines and a text with a copyright line.
    #[test]
    fn the_probe_finds_a_text_s_word_pairs() {
        let mut sized = 0;
        for (name, t) in spdx::text::LICENSE_TEXTS.iter().step_by(25) {
            for t in [
                t.to_string(),
                t.lines().take(6).collect::<Vec<_>>().join("\n"),
                format!("Copyright (c) 2031 Someone Else\n\n{t}"),
            ] {
                let data = spdx::detection::TextData::new(&t);
                if let Some(n) = word_pairs(&data) {
                    assert_eq!(n, stored_pairs(&data), "{name}");
                    sized += 1;
                }
            }
        }
        assert!(sized >= 60, "most texts are sized: {sized}");
        let russian = "Настоящим предоставляется разрешение бесплатно любому лицу.\n\
                       Указанное выше уведомление должно быть включено во все копии.\n\
                       Программное обеспечение предоставляется как есть, без гарантий.\n";
        let data = spdx::detection::TextData::new(russian);
        assert_eq!(
            word_pairs(&data),
            Some(stored_pairs(&data)),
            "a text not in ASCII"
        );
        assert_eq!(word_pairs(&spdx::detection::TextData::new("")), Some(0));
        // A title and a copyright line, which detection takes away; a copyright line alone.
        for t in [
            "The MIT License (MIT)\n\nCopyright (c) 2013-2024 Junegunn Choi\n",
            "Copyright (c) 2013-2024 Junegunn Choi",
        ] {
            let data = spdx::detection::TextData::new(t);
            assert_eq!(word_pairs(&data), Some(stored_pairs(&data)), "{t}");
        }
        assert_eq!(
            word_pairs(&spdx::detection::TextData::new("\n  \n")),
            Some(0)
        );
    }

    /// Loading only the buckets of the full store that can hold a match gives the whole
    /// store's best match, at both thresholds, for license texts, their first lines, texts
    /// with a copyright line or a sentence changed, and text that is no license.
    #[test]
    fn the_full_store_s_buckets_answer_as_the_whole_store() {
        let whole = spdx::detection::Store::load_inline().unwrap();
        let mut texts: Vec<String> = spdx::text::LICENSE_TEXTS
            .iter()
            .step_by(30)
            .map(|(_, t)| t.to_string())
            .collect();
        let variants: Vec<String> = texts
            .iter()
            .flat_map(|t| {
                [
                    t.lines().take(10).collect::<Vec<_>>().join("\n"),
                    format!("Copyright (c) 2031 Someone Else <someone@example.com>\n\n{t}"),
                    t.replacen(" the ", " a ", 3),
                ]
            })
            .collect();
        texts.extend(variants);
        texts.push(APACHE.to_string());
        texts.push("This project may be used by good people only.".into());
        let mut found = 0;
        for t in &texts {
            let data = spdx::detection::TextData::new(t);
            let m = whole.analyze(&data);
            for confidence in [FAST_CONFIDENCE, CONFIDENCE] {
                let expected = (m.score >= confidence)
                    .then(|| canonicalise_declared(m.name).ok())
                    .flatten()
                    .map(|(id, _)| (id, m.score));
                let got = full_match(&data, confidence);
                assert_eq!(
                    got.as_ref().map(|(_, s)| *s),
                    expected.as_ref().map(|(_, s)| *s),
                    "{confidence}: {}",
                    &t[..t.len().min(80)]
                );
                found += usize::from(got.is_some());
            }
        }
        assert!(found >= 40, "many texts matched: {found}");
    }

    #[test]
    fn apache_without_its_appendix_is_apache() {
        let cut = APACHE.find("END OF TERMS AND CONDITIONS").unwrap() + 27;
        let d = found(detect_files(&[("LICENSE", &APACHE[..cut])]));
        assert_eq!(d.expression, "Apache-2.0");
        assert!(d.score >= CONFIDENCE, "{}", d.score);
    }

    #[test]
    fn exceptions_are_kept() {
        let llvm = format!(
            "{APACHE}\n\n--- LLVM Exceptions to the Apache 2.0 License ----\n\n{}",
            exception("LLVM-exception")
        );
        assert_eq!(
            found(detect_files(&[("LICENSE", &llvm)])).expression,
            "Apache-2.0 WITH LLVM-exception"
        );
        let plain = found(detect_files(&[("LICENSE", APACHE)]));
        assert_eq!(plain.expression, "Apache-2.0");
    }

    #[test]
    fn notices_after_the_text_and_a_short_header() {
        let mit = text("MIT");
        let with_notices = format!(
            "{mit}\n\nend of terms and conditions\n\nThe externally maintained libraries are:\n\n- one, licensed as follows:\n\n{}\n\n- two, licensed as follows:\n\n{}\n",
            text("BSD-3-Clause"),
            text("ISC")
        );
        assert_eq!(
            found(detect_files(&[("LICENSE", &with_notices)])).expression,
            "MIT"
        );
        let with_header = format!("Project Foo\nCopyright 2020 The Foo Authors\n\n{mit}");
        assert_eq!(
            found(detect_files(&[("LICENSE.md", &with_header)])).expression,
            "MIT"
        );
    }

    #[test]
    fn files_combine_by_the_rule() {
        let d = found(detect_files(&[
            ("LICENSE-APACHE", APACHE),
            ("LICENSE-MIT", text("MIT")),
        ]));
        assert_eq!(d.expression, "Apache-2.0 OR MIT");
        assert!(d.rule.contains("OR"), "{}", d.rule);
        let d = found(detect_files(&[
            ("LICENSE-APACHE", APACHE),
            ("LICENSE-MIT", text("MIT")),
            ("LICENSE-ZLIB", text("Zlib")),
        ]));
        assert_eq!(d.expression, "Apache-2.0 OR MIT OR Zlib");
        let d = found(detect_files(&[
            ("UNLICENSE", text("Unlicense")),
            ("LICENCE", text("MIT")),
        ]));
        assert_eq!(d.expression, "MIT OR Unlicense");
        let d = found(detect_files(&[
            ("LICENSES/MIT.txt", text("MIT")),
            ("LICENSES/CC0-1.0.txt", text("CC0-1.0")),
            ("LICENSE", "see LICENSES/"),
        ]));
        assert_eq!(d.expression, "CC0-1.0 AND MIT");
    }

    #[test]
    fn unrecognised_and_shared_texts_say_so() {
        match detect_files(&[("COPYING", "This project may be used by good people only.\n")]) {
            Detection::NotRecognised { files, .. } => assert_eq!(files, ["COPYING"]),
            other => panic!("{other:?}"),
        }
        match detect_files(&[("COPYING", text("GPL-3.0-only"))]) {
            Detection::Ambiguous { candidates, .. } => {
                assert_eq!(candidates, ["GPL-3.0-only", "GPL-3.0-or-later"])
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(detect_files(&[("README", "hi")]), Detection::Nothing);
    }

    #[test]
    fn license_file_names() {
        for yes in [
            "LICENSE",
            "LICENSE.md",
            "license.txt",
            "LICENCE",
            "COPYING",
            "COPYRIGHT",
            "UNLICENSE",
            "LICENSE-MIT",
            "LICENSE_APACHE",
        ] {
            assert!(is_license_file_name(yes), "{yes}");
        }
        for no in [
            "LICENSES",
            "LICENSE-",
            "README",
            "THIRD-PARTY-LICENSES",
            "LICENSE.NOTICE",
            "licensed.rs",
        ] {
            assert!(!is_license_file_name(no), "{no}");
        }
    }
}
