//! A license text's size as the spdx crate's detection counts it, which the crate does not
//! expose: shared by src/collect/license.rs and build.rs (which sizes the full store's texts
//! to cut it into buckets).

/// The number of word pairs of a text as detection counts them (what its score, Dice's
/// coefficient, divides by), found with a probe: a text of one pair of the text's own
/// words, `w1 w2`, scores exactly 2 / (n + 1) against it. The pair is two words of letters
/// and digits inside a line, lowercased as detection lowercases them, tried until one is in
/// the processed text. `Some(0)` for a text with no words; `None` when no pair is found, or
/// the score does not give a whole number back.
pub(crate) fn word_pairs(text: &spdx::detection::TextData) -> Option<usize> {
    if text.lines().iter().all(|line| line.trim().is_empty()) {
        return Some(0);
    }
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars().all(char::is_alphanumeric)
            && !w.contains("copyright")
            && !w.contains("license")
    };
    let pairs = text.lines().iter().flat_map(|line| {
        let words: Vec<String> = line.split(' ').map(str::to_lowercase).collect();
        // Not a line's first words, which a prefix shared by the lines may take away.
        (2..words.len())
            .filter(|&i| plain(&words[i - 1]) && plain(&words[i]))
            .map(|i| format!("{} {}", words[i - 1], words[i]))
            .collect::<Vec<_>>()
    });
    for pair in pairs.take(16) {
        let score = text.match_score(&spdx::detection::TextData::new(&pair));
        if score > 0.0 {
            let n = (2.0 / f64::from(score) - 1.0).round();
            // The crate's own arithmetic, in f32: one shared pair among n + 1.
            return (n >= 1.0 && 2.0f32 / (n as f32 + 1.0) == score).then_some(n as usize);
        }
    }
    None
}
