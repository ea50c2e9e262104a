//! The build's Dockerfile as a source: `base.name` and `base.digest` from the target stage's
//! `FROM` (followed through the stages it names), its OCI `LABEL`s as a source when asked
//! (`--from-dockerfile-labels`), and the labels that disagree with what was collected.
//!
//! Reading the text is [`super::dockerfile`]'s; this module takes it to facts. A registry
//! lookup (`--resolve-base`) is not done here: collection may not reach into the targets,
//! so the command layer hands in a [`ResolveDigest`] function.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::annotations::spec;

use super::dockerfile::{self, Analysis, AnalysisError, Root};
use super::{CollectOptions, Collected, Context, Fact, Origin, Source};
use crate::annotations::url::redact_text;
use crate::annotations::{self, reference, Diagnostic, LABEL_SCHEMA, OCI_PREFIX};
use crate::error::Error;

/// Looks an image reference (fully qualified) up in its registry: the digest of what its tag
/// names (the index, for a multi-platform image), or why not.
pub(crate) type ResolveDigest<'a> = &'a dyn Fn(&str) -> Result<String, String>;

/// The Dockerfile options, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `--dockerfile` / `OCI_STAMP_DOCKERFILE`; else `Dockerfile` in `--repo`, when it exists.
    pub(crate) path: Option<(PathBuf, Origin)>,
    /// `--target`: the stage the build makes (default: the last).
    pub(crate) target: Option<String>,
    /// `--build-arg NAME=VALUE`, as buildx gets them.
    pub(crate) build_args: BTreeMap<String, String>,
    /// `--resolve-base`: look the base's tag up in its registry for `base.digest`.
    pub(crate) resolve_base: bool,
    /// `--from-dockerfile-labels`: the Dockerfile's OCI labels are a source.
    pub(crate) labels_source: bool,
    /// The build gets every entry as `--label` too (`flags`/`exec --labels`), which overrides a
    /// Dockerfile's LABEL of the same key.
    pub(crate) labels_passed: bool,
}

/// The Dockerfile as read: what it is called in messages, and what it says (or why not).
pub(crate) struct Loaded {
    pub(crate) name: String,
    pub(crate) analysis: Result<Analysis, String>,
}

/// Reads the Dockerfile, when there is one: a named one must exist; the default is used only
/// when it does. A `--target` no stage has is a usage error, as it is for buildx.
pub(crate) fn load(opts: &CollectOptions) -> Result<Option<Loaded>, Error> {
    let o = &opts.dockerfile;
    let (path, name) = match &o.path {
        Some((p, _)) => (p.clone(), p.display().to_string()),
        None => {
            let p = opts.repo.join("Dockerfile");
            if !p.is_file() {
                if let Some(t) = &o.target {
                    return Err(Error::Usage(format!(
                        "--target `{t}` names a stage, but there is no Dockerfile ({} does not exist; name one with --dockerfile)",
                        p.display()
                    )));
                }
                return Ok(None);
            }
            (p, "Dockerfile".to_string())
        }
    };
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let Ok(text) = String::from_utf8(bytes) else {
        return Ok(Some(Loaded {
            name,
            analysis: Err("not UTF-8 text".into()),
        }));
    };
    let analysis = match dockerfile::parse(&text) {
        Err(e) => Err(e.to_string()),
        Ok(df) => match dockerfile::analyse(&df, o.target.as_deref(), &o.build_args) {
            Ok(a) => Ok(a),
            Err(AnalysisError::Parse(e)) => Err(e.to_string()),
            Err(AnalysisError::NoTarget { target, stages }) => {
                return Err(Error::Usage(format!(
                    "--target `{target}`: {name} has no stage of that name ({})",
                    if stages.is_empty() {
                        "its stages have no names".to_string()
                    } else {
                        format!("its stages: {}", stages.join(", "))
                    }
                )))
            }
        },
    };
    Ok(Some(Loaded { name, analysis }))
}

/// `base.name` and `base.digest` from the target stage's base image.
pub(crate) fn base(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    let Some(loaded) = &cx.dockerfile else {
        return Ok(());
    };
    let a = match &loaded.analysis {
        Ok(a) => a,
        Err(e) => {
            c.diagnostics.push(
                Diagnostic::warning(
                    "dockerfile-invalid",
                    "",
                    format!("{} cannot be read as a Dockerfile: {}; no base image or labels from it", loaded.name, redact_text(e)),
                )
                .hint("fix the Dockerfile (the build would fail too), or name another with --dockerfile"),
            );
            return Ok(());
        }
    };
    let b = &a.base;
    let at = format!("{}:{} {}", loaded.name, b.line, redact_text(&b.from));
    let left_out = |c: &mut Collected, why: String, hint: String| {
        c.diagnostics.push(
            Diagnostic::warning(
                "base-unresolved",
                spec::ANNOTATION_BASE_IMAGE_NAME,
                format!("cannot tell the base image from {at}: {why}; base.name and base.digest left out"),
            )
            .hint(hint),
        );
    };
    let given = match &b.root {
        Root::Scratch => return Ok(()),
        Root::Unresolved(u) => {
            let hint = match &u.var {
                Some(v) => format!("pass the build's value to oci-stamp too (--build-arg {v}=…), or set -a base.name=…"),
                None => "set -a base.name=… (and base.digest)".to_string(),
            };
            left_out(c, redact_text(&u.message), hint);
            return Ok(());
        }
        Root::Image(n) => n,
    };
    let full = match reference::normalise_image_reference(given) {
        Ok(f) => f,
        Err(e) => {
            left_out(c, redact_text(&e), "set -a base.name=…".into());
            return Ok(());
        }
    };
    let mut notes = Vec::new();
    if &full != given {
        notes.push(format!("qualified from `{given}`"));
    }
    if b.chain.len() > 1 {
        notes.push(format!("stage {}", b.chain.join(" ← ")));
    }
    notes.extend(b.args.iter().cloned());
    let note = |extra: Option<&str>| {
        let mut n = notes.clone();
        n.extend(extra.map(str::to_string));
        (!n.is_empty()).then(|| redact_text(&n.join("; ")))
    };
    let source = Source::Dockerfile(at.clone());
    c.offer_fact(
        spec::ANNOTATION_BASE_IMAGE_NAME,
        Fact {
            value: full.clone(),
            source: source.clone(),
            note: note(None),
            levels: None,
        },
    );
    // A digest belongs to this base only while base.name names no other image.
    if c.value(spec::ANNOTATION_BASE_IMAGE_NAME)
        .is_some_and(|v| v != full)
        || c.decided(spec::ANNOTATION_BASE_IMAGE_DIGEST)
    {
        return Ok(());
    }
    if let Some(d) = reference::reference_digest(&full) {
        c.offer_fact(
            spec::ANNOTATION_BASE_IMAGE_DIGEST,
            Fact {
                value: d.to_string(),
                source,
                note: note(Some("the digest FROM pins")),
                levels: None,
            },
        );
        return Ok(());
    }
    if !cx.opts.dockerfile.resolve_base {
        return Ok(());
    }
    let Some(resolve) = cx.resolve else {
        c.diagnostics.push(Diagnostic::warning(
            "base-lookup-failed",
            spec::ANNOTATION_BASE_IMAGE_DIGEST,
            "--resolve-base: this oci-stamp was built without registry support (the `registry` feature); base.digest left out",
        ));
        return Ok(());
    };
    match resolve(&full) {
        Ok(d) => {
            c.offer_fact(
                spec::ANNOTATION_BASE_IMAGE_DIGEST,
                Fact {
                    value: d,
                    source,
                    note: note(Some(
                        "--resolve-base: the digest the registry has for the tag",
                    )),
                    levels: None,
                },
            );
        }
        Err(e) => c.diagnostics.push(
            Diagnostic::warning(
                "base-lookup-failed",
                spec::ANNOTATION_BASE_IMAGE_DIGEST,
                format!(
                    "--resolve-base: cannot look `{full}` up: {}; base.digest left out",
                    redact_text(&e)
                ),
            )
            .hint(
                "check the registry and its credentials; --require base.digest makes this an error",
            ),
        ),
    }
    Ok(())
}

/// The predefined key a label sets: its own (`org.opencontainers.image.*`), or the one a
/// legacy `org.label-schema.*` label stands for (the image-spec's table); else `None`.
fn oci_key(label: &str) -> Option<String> {
    if label.starts_with(OCI_PREFIX) {
        return Some(label.to_string());
    }
    LABEL_SCHEMA
        .iter()
        .find(|(legacy, _)| *legacy == label)
        .and_then(|(_, short)| annotations::full_key(short))
        .map(str::to_string)
}

fn label_source(name: &str, l: &dockerfile::Label) -> Source {
    Source::Dockerfile(format!("{name}:{} LABEL {}", l.line, l.key))
}

/// The labels in the order they are offered: the OCI keys before the legacy ones.
fn oci_labels(a: &Analysis) -> Vec<(String, &dockerfile::Label)> {
    let mut v: Vec<(String, &dockerfile::Label)> = a
        .labels
        .values()
        .filter_map(|l| oci_key(&l.key).map(|k| (k, l)))
        .collect();
    v.sort_by_key(|(_, l)| !l.key.starts_with(OCI_PREFIX));
    v
}

/// `--from-dockerfile-labels`: the Dockerfile's OCI (and legacy label-schema) labels.
pub(crate) fn labels(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    let (Some(loaded), true) = (&cx.dockerfile, cx.opts.dockerfile.labels_source) else {
        return Ok(());
    };
    let Ok(a) = &loaded.analysis else {
        return Ok(());
    };
    for (key, l) in oci_labels(a) {
        match &l.value {
            Ok(v) => {
                c.offer_fact(
                    &key,
                    Fact {
                        value: v.clone(),
                        source: label_source(&loaded.name, l),
                        note: (key != l.key).then(|| format!("the legacy label, read as `{key}`")),
                        levels: None,
                    },
                );
            }
            Err(u) if !c.decided(&key) => c.diagnostics.push(
                Diagnostic::warning(
                    "label-unresolved",
                    &key,
                    format!(
                        "{}:{} LABEL {}: {}; no value from it",
                        loaded.name,
                        l.line,
                        l.key,
                        redact_text(&u.message)
                    ),
                )
                .hint(match &u.var {
                    Some(v) => {
                        format!("pass the build's value to oci-stamp too (--build-arg {v}=…)")
                    }
                    None => "give the value with -a".to_string(),
                }),
            ),
            Err(_) => {}
        }
    }
    Ok(())
}

/// A label that sets a collected key to another value: the image would say two things.
pub(crate) fn conflicts(cx: &Context<'_>, c: &mut Collected) {
    let Some(Loaded {
        name,
        analysis: Ok(a),
    }) = &cx.dockerfile
    else {
        return;
    };
    let o = &cx.opts.dockerfile;
    let mut found = Vec::new();
    for (key, l) in oci_labels(a) {
        let Ok(label_value) = &l.value else { continue };
        let Some(fact) = c.facts().find(|(k, _)| *k == key).map(|(_, f)| f.clone()) else {
            continue;
        };
        if &fact.value == label_value || fact.source == label_source(name, l) {
            continue;
        }
        // `--labels` passes every entry as --label, which overrides the Dockerfile's LABEL
        // of the same key (a legacy key is passed only with --label-schema).
        let overridden = o.labels_passed && (l.key == key || cx.opts.label_schema);
        let (lv, fv) = (redact_text(label_value), redact_text(&fact.value));
        let ending = if overridden {
            format!("the build's --label overrides it, so label and annotation both say `{fv}`")
        } else {
            format!("the image would carry the label `{lv}` and the annotation `{fv}` (a LABEL does not reach the annotations)")
        };
        let about = if l.key == key {
            String::new()
        } else {
            format!(" (the legacy name of `{key}`)")
        };
        found.push(
            Diagnostic::warning(
                "label-conflict",
                &key,
                format!(
                    "{name}:{} LABEL sets `{}`{about} to `{lv}`, but oci-stamp collected `{fv}` from {}; {ending}",
                    l.line, l.key, fact.source
                ),
            )
            .hint(if overridden {
                "drop the LABEL from the Dockerfile: the --label oci-stamp passes sets it".to_string()
            } else if o.labels_passed {
                "add --label-schema, so that the legacy key is passed as --label too, or drop the LABEL".to_string()
            } else {
                "drop the LABEL and pass oci-stamp's values as labels too (flags/exec --labels), or make them agree".to_string()
            }),
        );
    }
    c.diagnostics.extend(found);
}
