//! oci-stamp: collect a checkout's provenance, validate it as OCI image annotations, and
//! print it for the build or write it into what already exists.
//!
//! The modules follow the data flow: [`collect`] gathers facts from flags, git, CI and
//! project files; [`annotations`] validates them into an ordered map with levels; [`emit`]
//! renders that map. [`cli`] holds the raw arguments and [`output`] does all printing.

mod annotations;
mod cli;
mod collect;
mod emit;
mod error;
pub(crate) mod output;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::annotations::validate::{self, has_errors};
use crate::annotations::{kubernetes, Annotations, Diagnostic, Levels};
use crate::cli::{Cli, CollectArgs, CollectFormat, Command, DiagnosticFormat};
use crate::collect::{AnnotationArg, CollectOptions, Env, Origin};
use crate::error::Error;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: a validation or policy failure; every problem was listed.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: a usage or operational error.
pub const EXIT_ERROR: u8 = 2;

/// What a command ended with, before it becomes an exit status.
enum Outcome {
    Ok,
    Invalid,
}

/// Runs the command line of this process.
pub fn run() -> ExitCode {
    collect::git::allow_any_owner();
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let sub = matches.subcommand().map(|(_, m)| m);
    let env = Env::from_process();
    let result = match cli.command {
        Command::Collect(cmd) => {
            let sub = sub.expect("collect has its matches");
            resolve(&cmd.collect, sub, &env).and_then(|opts| {
                run_collect(&opts, &env, cmd.format, cmd.explain, &cmd.level)
            })
        }
        Command::Validate(cmd) => run_validate(&cmd),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "oci-stamp", &mut buf);
            Ok(print(&buf))
        }
        Command::Man => {
            let mut buf = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut buf) {
                Ok(()) => Ok(print(&buf)),
                Err(e) => Err(Error::Usage(format!("cannot render the man page: {e}"))),
            }
        }
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::from(EXIT_OK),
        Ok(Outcome::Invalid) => ExitCode::from(EXIT_INVALID),
        Err(e) => {
            output::error(&e.to_string());
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Prints a result; a closed standard output is not an error.
fn print(bytes: &[u8]) -> Outcome {
    let _ = output::stdout(bytes);
    Outcome::Ok
}

fn origin(m: &ArgMatches, id: &str, flag: &'static str, var: &'static str) -> Origin {
    match m.value_source(id) {
        Some(ValueSource::EnvVariable) => Origin::Env(var),
        _ => Origin::Flag(flag),
    }
}

/// Raw COLLECT arguments → the options collection runs with.
fn resolve(args: &CollectArgs, m: &ArgMatches, env: &Env) -> Result<CollectOptions, Error> {
    let mut annotations: Vec<(AnnotationArg, Origin)> = args
        .annotation
        .iter()
        .map(|a| (a.clone(), Origin::Flag("--annotation")))
        .collect();
    if annotations.is_empty() {
        if let Some(list) = env.get("OCI_STAMP_ANNOTATION") {
            for line in list.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)) {
                if line.trim().is_empty() {
                    continue;
                }
                let arg: AnnotationArg = line
                    .parse()
                    .map_err(|e| Error::Usage(format!("OCI_STAMP_ANNOTATION: {e}")))?;
                annotations.push((arg, Origin::Env("OCI_STAMP_ANNOTATION")));
            }
        }
    }
    let namespace = match args.namespace.as_deref().map(|n| n.trim_end_matches('.')) {
        Some(ns) => {
            let probe = format!("{ns}.branch");
            if let Some(d) = validate::check_key(&probe).filter(|_| ns.is_empty() || !probe.contains('.') || ns.contains(['=', ' ', ':']) || ns.starts_with("org.opencontainers")) {
                return Err(Error::Usage(format!("--namespace `{ns}`: {}", d.message)));
            }
            if ns.is_empty() || !ns.contains('.') && validate::check_key(&probe).is_some() {
                return Err(Error::Usage(format!("--namespace `{ns}` is not a reverse-domain prefix such as `com.example`")));
            }
            Some(ns.to_string())
        }
        None => None,
    };
    Ok(CollectOptions {
        repo: args.repo.clone(),
        annotations,
        annotation_file: args.annotation_file.clone(),
        created: args
            .created
            .clone()
            .map(|c| (c, origin(m, "created", "--created", "OCI_STAMP_CREATED"))),
        licenses: args
            .licenses
            .clone()
            .map(|l| (l, origin(m, "licenses", "--licenses", "OCI_STAMP_LICENSES"))),
        namespace,
        label_schema: args.label_schema,
        no_detect: args.no_detect,
        require: args
            .require
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        require_clean: args.require_clean,
    })
}

/// Collects and validates; diagnostics are printed, and `None` returned when any is an error.
fn collect_valid(
    opts: &CollectOptions,
    env: &Env,
    levels: &Levels,
) -> Result<(collect::Collected, Annotations, Vec<Diagnostic>), Error> {
    let collected = collect::collect(opts, env)?;
    let annotations = collected.annotations();
    let mut diagnostics = collected.diagnostics.clone();
    diagnostics.extend(validate::validate(&annotations, levels));
    Ok((collected, annotations, diagnostics))
}

fn run_collect(
    opts: &CollectOptions,
    env: &Env,
    format: Option<CollectFormat>,
    explain: bool,
    levels: &Levels,
) -> Result<Outcome, Error> {
    let (collected, annotations, diagnostics) = collect_valid(opts, env, levels)?;
    output::diagnostics(&diagnostics);
    if has_errors(&diagnostics) {
        return Ok(Outcome::Invalid);
    }
    let format = format.unwrap_or(if output::stdout_is_terminal() {
        CollectFormat::Text
    } else {
        CollectFormat::Json
    });
    let explained = explain.then_some(&collected);
    let text = match format {
        CollectFormat::Text => emit::formats::text(&annotations, explained),
        CollectFormat::Json => emit::formats::json(&annotations, explained, &diagnostics),
    };
    Ok(print(text.as_bytes()))
}

fn run_validate(cmd: &cli::ValidateCmd) -> Result<Outcome, Error> {
    let mut args: Vec<AnnotationArg> = cmd.annotation.clone();
    if let Some(path) = &cmd.annotation_file {
        args.extend(collect::read_annotation_file(path)?);
    }
    if args.is_empty() {
        return Err(Error::Usage(
            "nothing to validate: give -a KEY=VALUE or --annotation-file FILE".into(),
        ));
    }
    let mut diagnostics = Vec::new();
    let mut set = Annotations::default();
    for a in &args {
        if set.get(&a.key).is_some() {
            diagnostics.push(
                Diagnostic::error("duplicate-key", &a.key, format!("`{}` is given more than once", a.key))
                    .hint("annotation keys are unique; keep one"),
            );
        }
        set.insert(a.key.clone(), a.value.clone(), a.levels.clone());
    }
    diagnostics.extend(validate::validate(&set, &Levels::manifest()));
    if cmd.kubernetes {
        let map = set.to_map();
        diagnostics.extend(kubernetes::check_map(
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }
    let outcome = if has_errors(&diagnostics) { Outcome::Invalid } else { Outcome::Ok };
    match cmd.format {
        DiagnosticFormat::Text => output::diagnostics(&diagnostics),
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(&diagnostics).unwrap_or_default();
            s.push('\n');
            let _ = output::stdout(s.as_bytes());
        }
    }
    Ok(outcome)
}
