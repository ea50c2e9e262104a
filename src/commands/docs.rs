//! `completions` and `man`: both made from the same clap definition as the parser.

use super::{print, Outcome};
use crate::cli::{self, ManCmd};
use crate::error::Error;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Outcome, Error> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), "oci-stamp", &mut buf);
    print(&buf)
}

/// The root page on standard output, or with `--out DIR` every page: `oci-stamp.1` and one
/// per command (`oci-stamp-collect.1`, …), which the root page's list of commands names.
pub(crate) fn man(cmd: &ManCmd) -> Result<Outcome, Error> {
    match &cmd.out {
        None => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(cli::command())
                .render(&mut buf)
                .map_err(|e| Error::Usage(format!("cannot render the man page: {e}")))?;
            print(&buf)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            clap_mangen::generate_to(cli::command(), dir).map_err(|e| Error::io(dir, e))?;
            Ok(Outcome::Ok)
        }
    }
}
