//! `completions` and `man`: both made from the same clap definition as the parser.

use super::{print, Outcome};
use crate::cli::{self, ManCmd};
use crate::error::Error;

pub(crate) fn completions(shell: clap_complete::Shell) -> Result<Outcome, Error> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cli::command(), BIN, &mut buf);
    if shell == clap_complete::Shell::Bash {
        buf = fix_bash(&String::from_utf8_lossy(&buf)).into_bytes();
    }
    print(&buf)
}

const BIN: &str = "oci-stamp";

/// clap_complete's bash script (4.6.12 and before, clap-rs/clap#6421) names the state of a
/// hyphenated binary two ways: the loop that reads the words arrives at
/// `oci__stamp__subcmd__collect`, while the `case` arms that complete a subcommand's options
/// are labelled `oci__subcmd__stamp__subcmd__collect`, so nothing after a subcommand ever
/// completed. The arms are relabelled the way the loop spells the state.
fn fix_bash(script: &str) -> String {
    let wrong = BIN.replace('-', "__subcmd__");
    let right = BIN.replace('-', "__");
    script.replace(&format!("{wrong}__"), &format!("{right}__"))
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
