//! The process: read the environment once, resolve the command line into a
//! [`Config`](crate::config::Config), run the command, and turn what it ended with into the
//! exit status. Errors are printed here, once.

use std::process::ExitCode;

use crate::annotations::validate;
use crate::commands::{self, Outcome};
use crate::config::Config;
use crate::env::Env;
use crate::output;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: a validation or policy failure; every problem was listed.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: a usage or operational error.
pub const EXIT_ERROR: u8 = 2;

/// Runs the command line of this process.
pub fn run() -> ExitCode {
    crate::collect::git::configure_libgit2();
    let env = Env::from_process();
    let config = match Config::from_args(std::env::args_os(), &env) {
        Ok(config) => config,
        Err(crate::config::ConfigError::Clap(e)) => clap_exit(e),
        Err(crate::config::ConfigError::Other(e)) => {
            output::error(&e.to_string());
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let ran = commands::run(&config, &env);
    // A failed write to standard output is exit 2 even where a caller could not pass the
    // error on (the report of a run that stopped on another error).
    let ran = match (ran, output::stdout_failure()) {
        (Ok(_), Some(failed)) => Err(failed),
        (ran, _) => ran,
    };
    match ran {
        Ok(Outcome::Ok) => ExitCode::from(EXIT_OK),
        Ok(Outcome::Invalid) => ExitCode::from(EXIT_INVALID),
        Ok(Outcome::Code(code)) => ExitCode::from(code),
        Err(e) => {
            output::error(&e.to_string());
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Ends the process on a command-line error. clap quotes the value it refused, so a
/// credential in it (`-a bogus:source=https://user:TOKEN@…`) is redacted first; help and
/// version go out as clap prints them.
fn clap_exit(e: clap::Error) -> ! {
    if !e.use_stderr() {
        e.exit();
    }
    output::report(&validate::redact_text(&e.render().to_string()));
    std::process::exit(e.exit_code());
}
