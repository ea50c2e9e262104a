//! `flags`: the build tool's arguments, as shell words, JSON or NUL-separated items.

use super::{collect_valid, print, Outcome};
use crate::cli::{FlagsCmd, FlagsFormat, ToolArgs};
use crate::collect::CollectOptions;
use crate::emit::flags;
use crate::env::Env;
use crate::error::Error;
use crate::output;

pub(crate) fn run(opts: &CollectOptions, env: &Env, cmd: &FlagsCmd) -> Result<Outcome, Error> {
    let Some(args) = tool_arguments(opts, env, &cmd.tool)? else {
        return Ok(Outcome::Invalid);
    };
    if cmd.null {
        return print(&flags::render_null(&args));
    }
    match cmd.format {
        FlagsFormat::Json => print(flags::render_json(&args).as_bytes()),
        FlagsFormat::Shell => {
            if args.iter().any(|a| a.contains('\n')) {
                output::note("a value spans lines: `eval` keeps it, but make's $(shell …) turns the line break into a space; use `oci-stamp exec` there");
            }
            print(flags::render_shell(&args).as_bytes())
        }
    }
}

/// The build-tool arguments for a valid collection, or `None` (diagnostics printed).
pub(crate) fn tool_arguments(
    opts: &CollectOptions,
    env: &Env,
    tool: &ToolArgs,
) -> Result<Option<Vec<String>>, Error> {
    let Some((annotations, _)) = collect_valid(opts, env, &tool.levels.level)? else {
        return Ok(None);
    };
    match flags::arguments(&annotations, tool.tool, tool.labels) {
        Ok((args, warnings)) => {
            output::diagnostics(&warnings);
            Ok(Some(args))
        }
        Err(refusals) => {
            output::diagnostics(&refusals);
            Ok(None)
        }
    }
}
