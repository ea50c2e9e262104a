//! `annotate`: write the annotations into what already exists.

use super::{collect_valid, Outcome};
use crate::cli::{AnnotateCmd, DiagnosticFormat};
use crate::collect::CollectOptions;
use crate::env::Env;
use crate::error::Error;
use crate::output;
use crate::targets;

pub(crate) fn run(opts: &CollectOptions, env: &Env, cmd: &AnnotateCmd) -> Result<Outcome, Error> {
    let mut targets: Vec<targets::Target> = Vec::new();
    for t in &cmd.targets {
        targets.extend(targets::parse_targets(t)?);
    }
    let kinds: Vec<String> = cmd.kube.kind.iter().map(|k| k.trim().to_string()).collect();
    if kinds.iter().any(String::is_empty) {
        return Err(Error::Usage(format!(
            "--kind `{}` holds an empty kind; give kinds separated by commas (`Deployment,StatefulSet`)",
            cmd.kube.kind.join(",").escape_debug()
        )));
    }
    let kube = targets::kube::KubeOptions {
        pod_template: cmd.kube.pod_template,
        kinds,
    };
    if targets
        .iter()
        .filter(|t| **t == targets::Target::Stdin)
        .count()
        > 1
    {
        return Err(Error::Usage(
            "`-` (standard input) can be given once".into(),
        ));
    }
    if opts.annotation_file.as_deref() == Some(std::path::Path::new("-"))
        && targets.contains(&targets::Target::Stdin)
    {
        return Err(Error::Usage(
            "standard input can feed `--annotation-file -` or the target `-`, not both; give one of them a file".into(),
        ));
    }
    if let Some(tag) = &cmd.tag {
        if !targets::registry::valid_tag(tag) {
            return Err(Error::Usage(format!(
                "--tag `{}` is not a tag ([A-Za-z0-9_][A-Za-z0-9_.-], at most 128 characters)",
                tag.escape_debug()
            )));
        }
        if !targets
            .iter()
            .any(|t| matches!(t, targets::Target::Registry(_)))
        {
            return Err(Error::Usage(
                "--tag applies to registry targets (docker://…) only".into(),
            ));
        }
    }
    if cmd.gc
        && !targets
            .iter()
            .any(|t| matches!(t, targets::Target::Layout { .. }))
    {
        return Err(Error::Usage(
            "--gc applies to OCI image layouts only (a registry removes unreferenced blobs itself; files have no blobs)".into(),
        ));
    }
    let Some((annotations, _)) = collect_valid(opts, env, &cmd.levels.level)? else {
        return Ok(Outcome::Invalid);
    };
    let stamp = targets::oci::Stamp::new(&annotations);
    let registry = targets::registry::Options {
        tag: cmd.tag.clone(),
        insecure: opts.registry_insecure,
        ca_files: opts.registry_ca_files.clone(),
        env,
    };
    // Kubernetes YAML: every file read, checked and planned before the first is written;
    // when one is refused, none changes (and no other target is written either).
    let mut plan = targets::plan_kube(&targets, &stamp, &kube, cmd.dry_run)?;
    let several = plan.len() > 1;
    const NONE_WRITTEN: &str =
        "nothing was written: the Kubernetes YAML targets of a run are all written, or none is";
    if !plan.errors.is_empty() {
        let mut errors = std::mem::take(&mut plan.errors);
        let last = errors.pop();
        for e in &errors {
            output::error(&e.to_string());
        }
        if let Some(last) = last {
            if several {
                output::note(NONE_WRITTEN);
            }
            return Err(last);
        }
    }
    if plan.refused() {
        for outcome in plan.outcomes() {
            output::diagnostics(&outcome.warnings);
            output::diagnostics(&outcome.refusals);
        }
        if several {
            output::note(NONE_WRITTEN);
        }
        return Ok(Outcome::Invalid);
    }
    if let Some(unknown) = kube
        .kinds
        .iter()
        .find(|k| !plan.kinds.iter().any(|seen| seen.eq_ignore_ascii_case(k)))
    {
        let seen = if plan.kinds.is_empty() {
            "none".to_string()
        } else {
            plan.kinds.join(", ")
        };
        return Err(Error::Usage(format!(
            "--kind `{}` matches no object in the Kubernetes YAML targets (the kinds there: {seen})",
            unknown.escape_debug()
        )));
    }
    let mut outcomes = Vec::new();
    let mut document = None;
    let mut invalid = false;
    for (at, target) in targets.iter().enumerate() {
        let done = match plan.write(at, target, cmd.dry_run) {
            Some(done) => done,
            None => targets::annotate(target, &stamp, &kube, &registry, cmd.dry_run, cmd.gc),
        };
        let (outcome, doc) = match done {
            Ok(done) => done,
            Err(e) => {
                // The targets before this one are written: say so before the error
                // that stops the run (to standard error when stdout holds a document).
                if !outcomes.is_empty() {
                    let report = report(&outcomes, cmd);
                    if document.is_some() {
                        output::report(&report);
                    } else if let Err(out) = output::stdout(report.as_bytes()) {
                        output::error(&out.to_string());
                    }
                }
                return Err(e);
            }
        };
        output::diagnostics(&outcome.warnings);
        output::diagnostics(&outcome.refusals);
        invalid |= !outcome.refusals.is_empty();
        if doc.is_some() {
            document = doc;
        }
        outcomes.push(outcome);
    }
    let report = report(&outcomes, cmd);
    match document {
        // stdin → stdout: the document is the result; the report goes to standard error.
        Some(doc) => {
            // The report goes out even when the document could not: it says what was done.
            let written = output::stdout(doc.as_bytes());
            output::report(&report);
            written?;
        }
        None => output::stdout(report.as_bytes())?,
    }
    Ok(if invalid {
        Outcome::Invalid
    } else {
        Outcome::Ok
    })
}

/// What `annotate` did to each target, as `--format` asks.
fn report(outcomes: &[targets::Outcome], cmd: &AnnotateCmd) -> String {
    match cmd.format {
        DiagnosticFormat::Text => targets::render_text(outcomes, cmd.dry_run),
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(outcomes).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}
