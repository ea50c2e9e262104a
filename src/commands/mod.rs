//! The commands: one short file each. What they share sits here: the outcome a command ends
//! with, and collect-then-validate, which every command that collects runs first.

mod annotate;
mod collect;
mod docs;
mod exec;
mod flags;
mod validate;
pub(crate) mod verify;

use crate::annotations::validate::has_errors;
use crate::annotations::{validate as rules, Diagnostic, Levels, Valid};
use crate::cli::Command;
use crate::collect::CollectOptions;
use crate::config::Config;
use crate::env::Env;
use crate::error::Error;
use crate::output;

/// What a command ended with, before it becomes an exit status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Invalid,
    /// `exec`: the child's status.
    Code(u8),
}

/// Runs the configured command.
pub(crate) fn run(config: &Config, env: &Env) -> Result<Outcome, Error> {
    let opts = || {
        config
            .collect
            .as_ref()
            .ok_or_else(|| Error::Usage("this command collects nothing".into()))
    };
    match &config.command {
        Command::Collect(cmd) => collect::run(opts()?, env, cmd),
        Command::Flags(cmd) => flags::run(opts()?, env, cmd),
        Command::Exec(cmd) => exec::run(opts()?, env, cmd),
        Command::Annotate(cmd) => annotate::run(opts()?, env, cmd),
        Command::Validate(cmd) => validate::run(cmd, env),
        Command::Verify(cmd) => verify::run(opts()?, env, cmd),
        Command::Completions { shell } => docs::completions(*shell),
        Command::Man(cmd) => docs::man(cmd),
    }
}

/// Collects and validates, printing the diagnostics: the valid set and every finding, or
/// `None` when any finding is an error.
pub(crate) fn collect_valid(
    opts: &CollectOptions,
    env: &Env,
    levels: &Levels,
) -> Result<Option<(Valid, Vec<Diagnostic>)>, Error> {
    // --resolve-base: collection may not reach into the targets, so the registry lookup is
    // handed in from here.
    let lookup = |reference: &str| {
        let registry = crate::targets::registry::Options {
            tag: None,
            insecure: opts.registry_insecure,
            ca_files: opts.registry_ca_files.clone(),
            env,
        };
        crate::targets::registry::manifest_digest(reference, &registry).map_err(|e| match e {
            crate::error::Error::Registry { message, .. } => message,
            other => other.to_string(),
        })
    };
    let collected = if opts.dockerfile.resolve_base {
        crate::collect::collect_with(opts, env, Some(&lookup))?
    } else {
        crate::collect::collect(opts, env)?
    };
    let mut diagnostics = collected.diagnostics.clone();
    let (valid, findings) = rules::validate(&collected.annotations(), levels);
    diagnostics.extend(findings);
    output::diagnostics(&diagnostics);
    match valid {
        Some(valid) if !has_errors(&diagnostics) => Ok(Some((valid, diagnostics))),
        _ => Ok(None),
    }
}

/// Prints a result; a closed standard output is not an error, any other failed write is.
pub(crate) fn print(bytes: &[u8]) -> Result<Outcome, Error> {
    output::stdout(bytes)?;
    Ok(Outcome::Ok)
}
