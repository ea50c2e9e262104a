//! `validate`: check annotations given on the command line or already in targets.

use super::Outcome;
use crate::annotations::validate::{self as rules, has_errors};
use crate::annotations::{kubernetes, Annotations, Diagnostic, Levels};
use crate::cli::{DiagnosticFormat, ValidateCmd};
use crate::collect::{self, AnnotationArg, CollectOptions};
use crate::env::Env;
use crate::error::Error;
use crate::output;
use crate::targets;

pub(crate) fn run(cmd: &ValidateCmd, env: &Env) -> Result<Outcome, Error> {
    let mut args: Vec<AnnotationArg> = cmd.annotation.clone();
    if let Some(path) = &cmd.annotation_file {
        args.extend(collect::read_annotation_file(path)?);
    }
    if args.is_empty() && cmd.targets.is_empty() {
        return checkout(cmd, env);
    }
    let mut diagnostics = Vec::new();
    let mut targets = Vec::new();
    for t in &cmd.targets {
        targets.extend(targets::parse_targets(t)?);
    }
    let registry = targets::registry::Options {
        tag: None,
        insecure: cmd.registry.insecure,
        ca_files: cmd.registry.ca_file.clone(),
        env,
    };
    for target in &targets {
        let (maps, findings) = targets::annotation_maps(target, &registry)?;
        diagnostics.extend(findings);
        for found in maps.iter().filter(|f| !f.pairs.is_empty()) {
            let pairs = found.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            for d in rules::validate_map(pairs.clone()) {
                diagnostics.push(d.at(&found.location));
            }
            let ref_name = crate::annotations::spec::ANNOTATION_REF_NAME;
            if !found.index_descriptor && found.pairs.iter().any(|(k, _)| k == ref_name) {
                diagnostics.push(rules::ref_name_level(ref_name, None).at(&found.location));
            }
            if cmd.kubernetes {
                for d in kubernetes::check_map(pairs) {
                    diagnostics.push(d.at(&found.location));
                }
            }
        }
    }
    let mut set = Annotations::default();
    for a in &args {
        if set.get(&a.key).is_some() {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-key",
                    &a.key,
                    format!("`{}` is given more than once", a.key),
                )
                .hint("annotation keys are unique; keep one"),
            );
        }
        set.insert(a.key.clone(), a.value.clone(), a.levels.clone());
    }
    diagnostics.extend(rules::validate(&set, &Levels::manifest()).1);
    if cmd.kubernetes {
        let map = set.to_map();
        diagnostics.extend(kubernetes::check_map(
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }
    let outcome = if has_errors(&diagnostics) {
        Outcome::Invalid
    } else {
        Outcome::Ok
    };
    match cmd.format {
        DiagnosticFormat::Text => output::diagnostics(&diagnostics),
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(&diagnostics).unwrap_or_default();
            s.push('\n');
            output::stdout(s.as_bytes())?;
        }
    }
    Ok(outcome)
}

/// No annotations and no target given: the checkout's collection, validated as `collect`
/// would validate it, with the findings printed and a one-line summary.
fn checkout(cmd: &ValidateCmd, env: &Env) -> Result<Outcome, Error> {
    let opts = CollectOptions {
        repo: cmd.repo.clone(),
        ..CollectOptions::default()
    };
    let collected = collect::collect(&opts, env)?;
    let mut diagnostics = collected.diagnostics.clone();
    let draft = collected.annotations();
    diagnostics.extend(rules::validate(&draft, &Levels::manifest()).1);
    if cmd.kubernetes {
        let map = draft.to_map();
        diagnostics.extend(kubernetes::check_map(
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }
    let invalid = has_errors(&diagnostics);
    match cmd.format {
        DiagnosticFormat::Text => {
            output::diagnostics(&diagnostics);
            if !invalid {
                let n = draft.to_map().len();
                let summary = format!(
                    "{}: {n} annotation{} collected, all valid\n",
                    cmd.repo.display(),
                    if n == 1 { "" } else { "s" }
                );
                output::stdout(summary.as_bytes())?;
            }
        }
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(&diagnostics).unwrap_or_default();
            s.push('\n');
            output::stdout(s.as_bytes())?;
        }
    }
    Ok(if invalid {
        Outcome::Invalid
    } else {
        Outcome::Ok
    })
}
