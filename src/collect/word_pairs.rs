//! A license text's size as the spdx crate's detection counts it, which the crate does not
//! expose: shared by src/collect/license.rs and build.rs (which sizes the texts of the
//! stores to cut them into buckets).

/// The number of word pairs of a text as detection counts them (what its score, Dice's
/// coefficient, divides by), found with a probe: a text of one pair of the text's own
/// words, `w1 w2`, scores exactly 2 / (n + 1) against it. The pair is two words of letters
/// and digits inside a line (then anywhere), lowercased as detection lowercases them, tried
/// until one is in the processed text. `Some(0)` for a text with no words, or none left once processed;
/// `None` when no pair is found in a text that has some, or the score does not give a whole
/// number back.
pub(crate) fn word_pairs(text: &spdx::detection::TextData) -> Option<usize> {
    if text.lines().iter().all(|line| line.trim().is_empty()) {
        return Some(0);
    }
    let word =
        |w: &str| !w.is_empty() && w.chars().all(char::is_alphanumeric) && !w.contains("copyright");
    let plain = |w: &str| word(w) && !w.contains("license");
    let words = |line: &String| -> Vec<String> { line.split(' ').map(str::to_lowercase).collect() };
    let pair = |words: &[String], i: usize| format!("{} {}", words[i - 1], words[i]);
    // Not a line's first words, which a prefix shared by the lines may take away, nor
    // words of a title; then, when none of those is found (a text of a title and a
    // copyright line), any two words. Lines are split only as far as the search goes.
    let inside = text.lines().iter().map(words).flat_map(move |words| {
        (2..words.len())
            .filter(|&i| plain(&words[i - 1]) && plain(&words[i]))
            .map(|i| pair(&words, i))
            .collect::<Vec<_>>()
    });
    let any = text.lines().iter().map(words).flat_map(move |words| {
        (1..words.len())
            .filter(|&i| word(&words[i - 1]) && word(&words[i]))
            .map(|i| pair(&words, i))
            .collect::<Vec<_>>()
    });
    let pairs = inside.take(16).chain(any.take(8));
    for pair in pairs {
        let score = text.match_score(&spdx::detection::TextData::new(&pair));
        if score > 0.0 {
            let n = (2.0 / f64::from(score) - 1.0).round();
            // The crate's own arithmetic, in f32: one shared pair among n + 1.
            return (n >= 1.0 && 2.0f32 / (n as f32 + 1.0) == score).then_some(n as usize);
        }
    }
    // No pair was found; the processed text may have none at all (a title and a copyright
    // line, which detection takes away): a text scores 1 against itself unless it is empty.
    (text.match_score(text) == 0.0).then_some(0)
}
