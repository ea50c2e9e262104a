//! Text shown on one line: what the text table and every message line use, so a value read
//! from a target or a checkout cannot start a line of its own or reorder what a reader sees.

/// A message as one line: control characters (line breaks, ESC, C1 controls), the Unicode
/// line and paragraph separators and the bidirectional controls are escaped (`\n`,
/// `\u{1b}`, `\u{202e}`), so that a path, an object name or a value quoted in a message can
/// neither start a line of its own — in a terminal, or in a CI log where a line such as
/// `::error::` is a command to the runner — nor reorder what a reader sees. Quotes and
/// backslashes stay as they are.
pub(crate) fn one_line(message: &str) -> std::borrow::Cow<'_, str> {
    let escape = |c: char| {
        c.is_control()
            || matches!(
                c,
                '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
            )
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !message.contains(escape) {
        return message.into();
    }
    let mut line = String::with_capacity(message.len() + 8);
    for c in message.chars() {
        if escape(c) {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line.into()
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn one_line_escapes_controls_and_keeps_the_rest() {
        assert_eq!(one_line("plain `x` \"q\" \\ é ✓"), "plain `x` \"q\" \\ é ✓");
        assert_eq!(
            one_line("a\n::error::b\r\t\u{1b}[31m\u{85}\u{2028}\u{202e}x\u{2066}"),
            "a\\n::error::b\\r\\t\\u{1b}[31m\\u{85}\\u{2028}\\u{202e}x\\u{2066}"
        );
    }
}
