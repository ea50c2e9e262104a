//! `verify`: do the targets carry what `collect` gives here? The annotations of every target
//! (read by the same target code `annotate` writes with) are compared with the expected set,
//! place by place; the target's own annotations are validated too. Nothing is written.
//!
//! Which places must carry a key: in an image, every place `annotate` would stamp with the
//! entry's levels (its own, else `--level`, default `manifest`: every image manifest, one per
//! platform), attestations and artifacts excepted; in Kubernetes YAML, every object (of the
//! `--kind`s given), and with `--pod-template` the pod templates too.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{collect_valid, Outcome};
use crate::annotations::validate::{self as rules, has_errors, redact_text};
use crate::annotations::{self, kubernetes, Annotations, Diagnostic, Valid};
use crate::cli::{DiagnosticFormat, VerifyCmd};
use crate::collect::ancestry::{History, Relation};
use crate::collect::{self, CollectOptions};
use crate::env::Env;
use crate::error::Error;
use crate::output;
use crate::run::EXIT_ERROR;
use crate::targets::inspect::{self, Place, Placed};
use crate::targets::{self, oci::Stamp, Target};

/// The keys compared unless `--keys` says otherwise.
const DEFAULT_KEYS: &[&str] = &["revision", "source", "version"];

/// What one comparison found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Verdict {
    Match,
    /// `--ancestor`: the found revision is an ancestor of the expected one.
    Ancestor,
    Missing,
    Mismatch,
    RevisionUnknown,
}

impl Verdict {
    fn ok(self) -> bool {
        matches!(self, Verdict::Match | Verdict::Ancestor)
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Match => "ok",
            Verdict::Ancestor => "ancestor",
            Verdict::Missing => "missing",
            Verdict::Mismatch => "differs",
            Verdict::RevisionUnknown => "unknown revision",
        }
    }
}

/// One key at one place.
#[derive(Debug, Serialize)]
struct Check {
    location: String,
    place: String,
    key: String,
    expected: String,
    found: Option<String>,
    result: Verdict,
}

/// What was found in one target.
#[derive(Debug, Serialize)]
struct TargetReport {
    target: String,
    /// Why the target could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    checks: Vec<Check>,
    findings: Vec<Diagnostic>,
    #[serde(skip)]
    labels: Vec<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    targets: &'a [TargetReport],
    findings: &'a [Diagnostic],
}

/// The name of a target in messages.
fn target_name(t: &Target) -> String {
    match t {
        Target::Layout {
            dir,
            reference: Some(r),
        } => format!("{}:{r}", dir.display()),
        Target::Layout { dir, .. } => dir.display().to_string(),
        Target::File(p) | Target::Yaml(p) | Target::Chart(p) => p.display().to_string(),
        Target::Stdin => "-".into(),
        Target::Registry(r) => r.given.clone(),
    }
}

/// The expected set: collected here, or (`--no-collect`) only what `-a` and the annotation
/// file give. `None` when it is invalid (the findings are printed).
fn expectations(opts: &CollectOptions, env: &Env, cmd: &VerifyCmd) -> Result<Option<Valid>, Error> {
    let levels = &cmd.levels.level;
    if !cmd.no_collect {
        // `--require` is about what the targets carry, not about what is collected here.
        let opts = CollectOptions {
            require: Vec::new(),
            ..opts.clone()
        };
        return Ok(collect_valid(&opts, env, levels)?.map(|(valid, _)| valid));
    }
    let mut args: Vec<collect::AnnotationArg> =
        opts.annotations.iter().map(|(a, _)| a.clone()).collect();
    if let Some(path) = &opts.annotation_file {
        args.extend(collect::read_annotation_file(path)?);
    }
    let mut draft = Annotations::default();
    for a in args {
        draft.insert(a.key, a.value, a.levels);
    }
    let (valid, diagnostics) = rules::validate(&draft, levels);
    output::diagnostics(&diagnostics);
    Ok(valid.filter(|_| !has_errors(&diagnostics)))
}

/// The keys to compare, and findings about keys that have nothing to compare with.
fn selected_keys(cmd: &VerifyCmd, expected: &Valid) -> (Vec<String>, Vec<Diagnostic>) {
    let have: Vec<String> = expected
        .iter()
        .filter(|(_, e)| !e.value.is_empty())
        .map(|(k, _)| k.to_string())
        .collect();
    let given: Vec<&str> = cmd
        .keys
        .iter()
        .map(|k| k.trim())
        .filter(|k| !k.is_empty())
        .collect();
    let (keys, explicit): (Vec<String>, bool) = if given.contains(&"all") {
        (have.clone(), true)
    } else if !given.is_empty() {
        (
            given.iter().map(|k| annotations::expand_key(k)).collect(),
            true,
        )
    } else if cmd.no_collect {
        (have.clone(), true)
    } else {
        (
            DEFAULT_KEYS
                .iter()
                .map(|k| annotations::expand_key(k))
                .collect(),
            false,
        )
    };
    let mut findings = Vec::new();
    let mut out = Vec::new();
    for key in keys {
        if out.contains(&key) {
            continue;
        }
        if have.contains(&key) {
            out.push(key);
            continue;
        }
        let message = format!(
            "`{key}` has no expected value here (not collected, not given with -a), so it is not compared"
        );
        let hint = "give the value with -a KEY=VALUE, or leave the key out of --keys";
        findings.push(if explicit {
            Diagnostic::error("not-expected", &key, message).hint(hint)
        } else {
            Diagnostic::warning("not-expected", &key, message).hint(hint)
        });
    }
    (out, findings)
}

/// What the run compares with, and how.
struct Verifier<'a> {
    cmd: &'a VerifyCmd,
    stamp: Stamp,
    keys: Vec<String>,
    /// Each compared key's levels, for messages.
    levels: BTreeMap<String, String>,
    require: Vec<String>,
    history: Option<History>,
    kinds: Vec<String>,
}

impl Verifier<'_> {
    /// Whether objects of `kind` are checked (`--kind`).
    fn kind_selected(&self, kind: &str) -> bool {
        self.kinds.is_empty() || self.kinds.iter().any(|k| k.eq_ignore_ascii_case(kind))
    }

    /// The pairs `place` must carry.
    fn expected<'s>(&'s self, place: &Place) -> Vec<(&'s str, &'s str)> {
        let pairs = match place {
            Place::Level(kind, platform) => self.stamp.pairs(*kind, platform.as_ref()),
            Place::Object { kind, pod_template } => {
                if (*pod_template && !self.cmd.kube.pod_template) || !self.kind_selected(kind) {
                    Vec::new()
                } else {
                    self.stamp.all_pairs()
                }
            }
            Place::Other => Vec::new(),
        };
        pairs
            .into_iter()
            .filter(|(k, _)| self.keys.iter().any(|s| s == k))
            .collect()
    }

    /// Whether `--require` applies at `place`: the run's levels in an image, the objects
    /// checked in YAML.
    fn required_at(&self, place: &Place) -> bool {
        match place {
            Place::Level(kind, platform) => self.cmd.levels.level.iter().any(|l| {
                l.kind == *kind
                    && l.platform.as_ref().is_none_or(|want| {
                        platform.as_ref().is_some_and(|p| {
                            p.os == want.os
                                && p.arch == want.arch
                                && want
                                    .variant
                                    .as_ref()
                                    .is_none_or(|v| p.variant.as_ref() == Some(v))
                        })
                    })
            }),
            Place::Object { kind, pod_template } => {
                (!*pod_template || self.cmd.kube.pod_template) && self.kind_selected(kind)
            }
            Place::Other => false,
        }
    }

    /// Compares one found value with the expected one.
    fn verdict(&self, key: &str, expected: &str, found: Option<&str>) -> Verdict {
        let Some(found) = found else {
            return Verdict::Missing;
        };
        if found == expected {
            return Verdict::Match;
        }
        if key != crate::annotations::spec::ANNOTATION_REVISION {
            return Verdict::Mismatch;
        }
        match self.history.as_ref().map(|h| h.relation(found, expected)) {
            Some(Relation::Unknown) => Verdict::RevisionUnknown,
            Some(Relation::Ancestor) if self.cmd.ancestor => Verdict::Ancestor,
            Some(Relation::Same) => Verdict::Match,
            _ => Verdict::Mismatch,
        }
    }

    fn finding(&self, check: &Check) -> Option<Diagnostic> {
        let key = &check.key;
        let expected = &check.expected;
        let found = check.found.as_deref().map(redact_text).unwrap_or_default();
        let d = match check.result {
            Verdict::Match | Verdict::Ancestor => return None,
            Verdict::Missing => Diagnostic::error(
                "annotation-missing",
                key,
                format!(
                    "{}: `{key}` is missing; expected `{expected}`",
                    check.place
                ),
            )
            .hint("stamp it (`oci-stamp annotate`, or the build's --annotation flags)"),
            Verdict::Mismatch if self.cmd.ancestor && key == crate::annotations::spec::ANNOTATION_REVISION => {
                Diagnostic::error(
                    "annotation-mismatch",
                    key,
                    format!(
                        "{}: `{key}` is `{found}`, which is neither `{expected}` nor one of its ancestors",
                        check.place
                    ),
                )
                .hint("the image was built from another branch's history")
            }
            Verdict::Mismatch => Diagnostic::error(
                "annotation-mismatch",
                key,
                format!(
                    "{}: `{key}` is `{found}`; expected `{expected}`",
                    check.place
                ),
            )
            .hint("the target was built from something else, or stamped before a change"),
            Verdict::RevisionUnknown => Diagnostic::error(
                "revision-unknown",
                key,
                format!(
                    "{}: `{key}` is `{found}`, which is no commit of this repository (expected `{expected}`)",
                    check.place
                ),
            )
            .hint("fetch the full history (a shallow clone may lack it), or the image was built elsewhere"),
        };
        Some(d.at(check.location.clone()))
    }

    /// Verifies one target's maps.
    fn target(
        &self,
        name: String,
        maps: Vec<Placed>,
        mut findings: Vec<Diagnostic>,
    ) -> TargetReport {
        let mut checks = Vec::new();
        let mut labels = Vec::new();
        let mut covered: BTreeSet<&str> = BTreeSet::new();
        let yaml = maps.iter().any(|m| matches!(m.place, Place::Object { .. }))
            || (maps.is_empty() && !name.ends_with(".json"));
        for m in &maps {
            let found = &m.found;
            if !found.pairs.is_empty() {
                let pairs = found.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                for d in rules::validate_map(pairs.clone()) {
                    findings.push(d.at(&found.location));
                }
                let ref_name = crate::annotations::spec::ANNOTATION_REF_NAME;
                if !found.index_descriptor && found.pairs.iter().any(|(k, _)| k == ref_name) {
                    findings.push(rules::ref_name_level(ref_name, None).at(&found.location));
                }
                if self.cmd.kubernetes {
                    for d in kubernetes::check_map(pairs) {
                        findings.push(d.at(&found.location));
                    }
                }
            }
            let value_of = |key: &str| {
                found
                    .pairs
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.as_str())
            };
            for (key, expected) in self.expected(&m.place) {
                covered.insert(key);
                let found_value = value_of(key);
                let check = Check {
                    location: found.location.clone(),
                    place: m.place.describe(),
                    key: key.to_string(),
                    expected: expected.to_string(),
                    found: found_value.map(str::to_string),
                    result: self.verdict(key, expected, found_value),
                };
                findings.extend(self.finding(&check));
                checks.push(check);
                labels.push(m.label.clone());
            }
            if self.required_at(&m.place) {
                for key in &self.require {
                    if value_of(key).is_none() {
                        findings.push(
                            Diagnostic::error(
                                "missing-required",
                                key,
                                format!("{}: `{key}` is required and missing", m.place.describe()),
                            )
                            .at(&found.location),
                        );
                    }
                }
            }
        }
        for key in &self.keys {
            if covered.contains(key.as_str()) {
                continue;
            }
            let levels = self.levels.get(key).cloned().unwrap_or_default();
            findings.push(if yaml {
                Diagnostic::error(
                    "no-objects",
                    key,
                    format!(
                        "{name}: no Kubernetes object (of the kinds asked for) to carry `{key}`"
                    ),
                )
            } else {
                Diagnostic::error(
                    "level-not-found",
                    key,
                    format!("{name}: nothing at level `{levels}` to carry `{key}`"),
                )
                .hint(
                    "give the levels the image was stamped at with --level, or -a LEVELS:KEY=VALUE",
                )
            });
        }
        TargetReport {
            target: name,
            error: None,
            checks,
            findings,
            labels,
        }
    }
}

pub(crate) fn run(opts: &CollectOptions, env: &Env, cmd: &VerifyCmd) -> Result<Outcome, Error> {
    let mut targets: Vec<Target> = Vec::new();
    for t in &cmd.targets {
        targets.extend(targets::parse_targets(t)?);
    }
    let stdin_uses = targets.iter().filter(|t| **t == Target::Stdin).count()
        + usize::from(opts.annotation_file.as_deref() == Some(std::path::Path::new("-")));
    if stdin_uses > 1 {
        return Err(Error::Usage(
            "standard input can be read once: give `-` as one target, or as --annotation-file, not both".into(),
        ));
    }
    let history = match History::discover(&opts.repo) {
        Ok(h) => h,
        Err(e) if cmd.ancestor => return Err(e),
        Err(_) => None,
    };
    if cmd.ancestor && history.is_none() {
        return Err(Error::Usage(format!(
            "--ancestor looks the found revision up in the git repository, and {} is in none (give it with -C DIR)",
            opts.repo.display()
        )));
    }
    let Some(expected) = expectations(opts, env, cmd)? else {
        return Ok(Outcome::Invalid);
    };
    let (keys, run_findings) = selected_keys(cmd, &expected);
    let verifier = Verifier {
        cmd,
        stamp: Stamp::new(&expected),
        levels: expected
            .iter()
            .map(|(k, e)| (k.to_string(), e.levels.to_string()))
            .collect(),
        keys,
        require: opts
            .require
            .iter()
            .map(|k| match opts.namespace.as_deref() {
                Some(ns) if collect::EXTENSIONS.contains(&k.as_str()) => format!("{ns}.{k}"),
                _ => annotations::expand_key(k),
            })
            .collect(),
        history,
        kinds: cmd
            .kube
            .kind
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
    };
    let registry = targets::registry::Options {
        tag: None,
        insecure: opts.registry_insecure,
        ca_files: opts.registry_ca_files.clone(),
        env,
    };
    let mut reports = Vec::new();
    let mut unreadable = false;
    for target in &targets {
        let name = target_name(target);
        match inspect::placed_maps(target, &registry) {
            Ok((maps, findings)) => reports.push(verifier.target(name, maps, findings)),
            Err(e) => {
                unreadable = true;
                reports.push(TargetReport {
                    target: name,
                    error: Some(redact_text(&e.to_string())),
                    checks: Vec::new(),
                    findings: Vec::new(),
                    labels: Vec::new(),
                });
            }
        }
    }
    let failed = has_errors(&run_findings) || reports.iter().any(|r| has_errors(&r.findings));
    let github = env.get("GITHUB_ACTIONS") == Some("true");
    let print_findings = |findings: &[Diagnostic]| {
        if github {
            output::report(&workflow_commands(findings));
        } else {
            output::diagnostics(findings);
        }
    };
    print_findings(&run_findings);
    for r in &reports {
        print_findings(&r.findings);
        if let Some(e) = &r.error {
            if github {
                output::report(&format!(
                    "::error title=oci-stamp verify::{}\n",
                    escape_data(e)
                ));
            } else {
                output::error(e);
            }
        }
    }
    match cmd.format {
        DiagnosticFormat::Text => {
            output::stdout(render_text(&reports).as_bytes())?;
        }
        DiagnosticFormat::Json => {
            let report = Report {
                ok: !failed && !unreadable,
                targets: &reports,
                findings: &run_findings,
            };
            let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
            s.push('\n');
            output::stdout(s.as_bytes())?;
        }
    }
    Ok(if unreadable {
        Outcome::Code(EXIT_ERROR)
    } else if failed {
        Outcome::Invalid
    } else {
        Outcome::Ok
    })
}

/// A table per target: where, key, expected, found, result.
fn render_text(reports: &[TargetReport]) -> String {
    let mut out = String::new();
    for r in reports {
        let target = r.target.escape_debug().to_string();
        if r.error.is_some() {
            out.push_str(&format!("{target}: cannot be read\n"));
            continue;
        }
        let bad = r.checks.iter().filter(|c| !c.result.ok()).count();
        let errors = r.findings.iter().filter(|d| d.is_error()).count();
        out.push_str(&format!(
            "{target}: {} check(s), {}\n",
            r.checks.len(),
            if errors == 0 {
                "all match".to_string()
            } else {
                format!("{errors} finding(s), {bad} of them in the table")
            }
        ));
        if r.checks.is_empty() {
            continue;
        }
        let short_key = |k: &str| annotations::short_name(k).unwrap_or(k).to_string();
        let cell = |v: &str| redact_text(v).escape_debug().to_string();
        let rows: Vec<[String; 5]> = r
            .checks
            .iter()
            .zip(&r.labels)
            .map(|(c, label)| {
                [
                    label.escape_debug().to_string(),
                    short_key(&c.key),
                    cell(&c.expected),
                    c.found.as_deref().map_or_else(|| "-".to_string(), cell),
                    c.result.as_str().to_string(),
                ]
            })
            .collect();
        let header = ["WHERE", "KEY", "EXPECTED", "FOUND", "RESULT"].map(String::from);
        let mut widths = [0usize; 5];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::from(" ");
            for (i, (w, c)) in widths.iter().zip(row).enumerate() {
                line.push(' ');
                if i == 4 {
                    line.push_str(c);
                } else {
                    line.push_str(&format!("{c:<w$}", w = *w));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// A workflow command's message, escaped as the runner unescapes it.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// `::error …::` and `::warning …::` workflow commands, one per finding, for a GitHub
/// runner to show as annotations.
fn workflow_commands(findings: &[Diagnostic]) -> String {
    let data = escape_data;
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for d in findings {
        let level = if d.is_error() { "error" } else { "warning" };
        let title = format!("oci-stamp verify: {}", d.code);
        let mut message = String::new();
        if let Some(loc) = &d.location {
            message.push_str(loc);
            message.push_str(": ");
        }
        message.push_str(&d.message);
        if let Some(h) = &d.hint {
            message.push_str(" — ");
            message.push_str(h);
        }
        out.push_str(&format!(
            "::{level} title={}::{}\n",
            property(&title),
            data(&redact_text(&message))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_commands_escape_what_would_end_them() {
        let d = Diagnostic::error("annotation-mismatch", "k", "a\nb%c::d").at("x");
        let s = workflow_commands(&[d]);
        assert_eq!(
            s,
            "::error title=oci-stamp verify%3A annotation-mismatch::x: a%0Ab%25c::d\n"
        );
    }
}
