//! The one place that prints. Standard output carries results only; diagnostics, notes and
//! errors go to standard error, one line each. A closed standard output (`| head`) ends the
//! run quietly with success.

use std::io::{self, Write};

use crate::annotations::Diagnostic;
pub(crate) use crate::escape::one_line;

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
