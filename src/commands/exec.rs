//! `exec`: run the build command with the arguments appended, without a shell.

use super::flags::tool_arguments;
use super::Outcome;
use crate::cli::ExecCmd;
use crate::collect::CollectOptions;
use crate::env::Env;
use crate::error::Error;
use crate::output;

pub(crate) fn run(opts: &CollectOptions, env: &Env, cmd: &ExecCmd) -> Result<Outcome, Error> {
    let Some(args) = tool_arguments(opts, env, &cmd.tool)? else {
        return Ok(Outcome::Invalid);
    };
    let (program, rest) = cmd
        .command
        .split_first()
        .ok_or_else(|| Error::Usage("exec needs a command after `--`".into()))?;
    let mut command = std::process::Command::new(program);
    command.args(rest).args(&args);
    let shown = program.to_string_lossy();
    // On Unix the command replaces this process, as `env` and `nice` do: a signal sent to
    // the pid a Makefile or CI runner started reaches the build itself, and the parent sees
    // the command's own status (a shell shows a signal as 128+n).
    #[cfg(unix)]
    let status: std::io::Result<std::process::ExitStatus> = {
        use std::os::unix::process::CommandExt;
        Err(command.exec())
    };
    #[cfg(not(unix))]
    let status = command.status();
    match status {
        Ok(status) => Ok(Outcome::Code(exit_code_of(status))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            output::error(&format!("cannot run `{shown}`: command not found"));
            Ok(Outcome::Code(127))
        }
        Err(e) => {
            output::error(&format!("cannot run `{shown}`: {e}"));
            Ok(Outcome::Code(126))
        }
    }
}

/// A child's exit status as a shell reports it: its code, or 128+n for signal n.
#[cfg_attr(unix, allow(dead_code))]
fn exit_code_of(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}
