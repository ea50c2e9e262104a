//! Standard input, read at most once per run. Two readers of one stream would each see part of
//! it (or nothing), so the second use is refused by name; a closed or empty standard input
//! where a document is expected is an error naming standard input, never an empty document.

use std::io::Read;
use std::path::Path;
use std::sync::Mutex;

use crate::error::Error;

/// Who read standard input already, if anyone.
static TAKEN_BY: Mutex<Option<String>> = Mutex::new(None);

/// All of standard input as UTF-8 text, for `what` (`--annotation-file -`, the target `-`).
pub(crate) fn read_text(what: &str) -> Result<String, Error> {
    {
        let mut taken = TAKEN_BY
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(first) = taken.as_ref() {
            return Err(Error::Usage(format!(
                "standard input is read once, by {first}; {what} cannot read it too (give one of them a file)"
            )));
        }
        *taken = Some(what.to_string());
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(Path::new("-"), e))?;
    if bytes.is_empty() {
        return Err(Error::BadInput {
            path: "-".into(),
            message: format!("standard input (for {what}) is empty or closed; nothing to read"),
        });
    }
    String::from_utf8(bytes).map_err(|_| Error::BadInput {
        path: "-".into(),
        message: "standard input is not UTF-8 text".into(),
    })
}
