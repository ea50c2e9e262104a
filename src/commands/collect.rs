//! `collect`: the annotations of a checkout, in one of the output formats.

use super::{collect_valid, print, Outcome};
use crate::cli::CollectCmd;
use crate::collect::CollectOptions;
use crate::emit::{self, Format};
use crate::env::Env;
use crate::error::Error;
use crate::output;

pub(crate) fn run(opts: &CollectOptions, env: &Env, cmd: &CollectCmd) -> Result<Outcome, Error> {
    let Some((annotations, diagnostics)) = collect_valid(opts, env, &cmd.levels.level)? else {
        return Ok(Outcome::Invalid);
    };
    let format = cmd.format.unwrap_or(if output::stdout_is_terminal() {
        Format::Text
    } else {
        Format::Json
    });
    let rendered = emit::render(
        format,
        &annotations,
        cmd.explain,
        &diagnostics,
        &cmd.bake_target,
    );
    match rendered {
        Ok(r) => {
            output::diagnostics(&r.warnings);
            print(r.text.as_bytes())
        }
        Err(refusals) => {
            output::diagnostics(&refusals);
            Ok(Outcome::Invalid)
        }
    }
}
