//! `collect`: the annotations of a checkout, in one of the output formats.

use super::{collect_valid, print, Outcome};
use crate::annotations::Diagnostic;
use crate::atomic;
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
    // The standard output's rendering first, then each `--write` file's: all of them, or
    // (when any is refused) none.
    let targets =
        std::iter::once((format, None)).chain(cmd.write.iter().map(|(f, p)| (*f, Some(p))));
    let mut outputs = Vec::new();
    let mut warnings: Vec<Diagnostic> = Vec::new();
    let mut refusals: Vec<Diagnostic> = Vec::new();
    for (format, path) in targets {
        match emit::render(
            format,
            &annotations,
            cmd.explain,
            &diagnostics,
            &cmd.bake_target,
        ) {
            Ok(r) => {
                for w in r.warnings {
                    if !warnings.contains(&w) {
                        warnings.push(w);
                    }
                }
                outputs.push((path, r.text));
            }
            Err(refused) => {
                for d in refused {
                    if !refusals.contains(&d) {
                        refusals.push(d);
                    }
                }
            }
        }
    }
    if !refusals.is_empty() {
        output::diagnostics(&refusals);
        return Ok(Outcome::Invalid);
    }
    output::diagnostics(&warnings);
    let mut stdout = String::new();
    for (path, text) in outputs {
        match path {
            Some(path) => atomic::replace_output(path, text.as_bytes())?,
            None => stdout = text,
        }
    }
    print(stdout.as_bytes())
}
