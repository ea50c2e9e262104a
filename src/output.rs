//! The one place that prints. Standard output carries results only; diagnostics, notes and
//! errors go to standard error, one line each. A closed standard output (`| head`: the
//! reader went away) ends the run quietly with success; any other failed write (a full disk,
//! `> /dev/full`, an I/O error) is an error, exit 2, so a recipe that writes the result to a
//! file never installs one cut off mid-value.

use std::io::{self, Write};
use std::sync::Mutex;

use crate::annotations::Diagnostic;
use crate::error::Error;
pub(crate) use crate::escape::one_line;

/// Why a write to standard output failed (other than a closed pipe) during this run, if one
/// did: the exit status holds it even where a caller could not pass the error on.
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Writes a result to standard output. A closed pipe is `Ok` (the reader has what it
/// wanted); any other failure is [`Error::Stdout`].
pub(crate) fn stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            *FAILED
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
            Err(Error::Stdout(e))
        }
    }
}

/// The failed write to standard output of this run, if there was one.
pub(crate) fn stdout_failure() -> Option<Error> {
    let failed = FAILED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    failed.map(|why| Error::Stdout(std::io::Error::other(why)))
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
