//! The one place that prints. Standard output carries results only; diagnostics, notes and
//! errors go to standard error, one line each. A closed standard output (`| head`) ends the
//! run quietly with success.

use std::io::{self, Write};

use crate::annotations::Diagnostic;

/// Standard output was closed by the reader; stop quietly.
#[derive(Debug)]
pub(crate) struct Closed;

/// Writes a result to standard output.
pub(crate) fn stdout(bytes: &[u8]) -> Result<(), Closed> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(Closed),
        Err(e) => {
            error(&format!("cannot write to standard output: {e}"));
            Err(Closed)
        }
    }
}

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

/// Prints diagnostics to standard error, one line each.
pub(crate) fn diagnostics(diagnostics: &[Diagnostic]) {
    let mut err = io::stderr().lock();
    for d in diagnostics {
        let _ = writeln!(err, "{}", one_line(&d.to_string()));
    }
}

/// Prints an error line to standard error. Errors may quote what was typed or read, so
/// credentials in URLs are redacted.
pub(crate) fn error(message: &str) {
    let message = crate::annotations::validate::redact_text(message);
    let _ = writeln!(io::stderr().lock(), "error: {}", one_line(&message));
}

/// Prints a report to standard error (when standard output carries a document).
pub(crate) fn report(text: &str) {
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

/// Prints a note to standard error.
pub(crate) fn note(message: &str) {
    let _ = writeln!(io::stderr().lock(), "note: {}", one_line(message));
}

/// Whether standard output is a terminal (text tables for people, data for pipes).
pub(crate) fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    io::stdout().is_terminal()
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
