//! Entry points for the fuzz targets in `fuzz/` and their replay on stable in the tests:
//! thin wrappers over the crate's own validators, parsers, writers and renderers, taking and
//! returning plain strings. Not a stable API; nothing else of the crate is public.

use crate::annotations::levels::LevelError;
use crate::annotations::spdx;
use crate::annotations::{kubernetes, validate, Annotations, Diagnostic, Levels, Valid};
use crate::collect::{time, worktree, AnnotationArg};
use crate::emit::{self, flags, Format};
use crate::targets::{self, kube, oci::Stamp};

fn lines(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics.iter().map(ToString::to_string).collect()
}

/// Every finding about one annotation: the OCI key and value rules, then the Kubernetes
/// key rules, one rendered line each.
pub fn validate_pair(key: &str, value: &str) -> Vec<String> {
    let mut found: Vec<Diagnostic> = validate::check_key(key).into_iter().collect();
    found.extend(validate::check_value(key, value));
    found.extend(kubernetes::check_key(key));
    lines(&found)
}

/// Entry paths and the cached root tree's object name.
pub type GitIndex = (Vec<Vec<u8>>, Option<Vec<u8>>);

/// A git index file (SHA-1 names) as the dirty check reads it: the entries' paths and
/// the cached root tree, or `None` when it is left to libgit2.
pub fn parse_git_index(bytes: &[u8]) -> Option<GitIndex> {
    let index = worktree::parse(bytes, 20, (0, 0))?;
    let paths = index
        .entries
        .iter()
        .map(|e| index.path(e).to_vec())
        .collect();
    Some((paths, index.root_tree.clone()))
}

/// A URL (or text that is almost one) with its credentials replaced by `***`.
pub fn redact_url(value: &str) -> String {
    validate::redact_url(value)
}

fn parse(levels: &str) -> Result<Levels, String> {
    levels.parse().map_err(|e: LevelError| e.to_string())
}

/// A `--level` list, parsed and shown again.
pub fn parse_levels(s: &str) -> Result<String, String> {
    parse(s).map(|l| l.to_string())
}

/// A `-a [LEVELS:]KEY=VALUE` argument: its levels (shown again), key and value.
pub fn parse_annotation_arg(s: &str) -> Result<(Option<String>, String, String), String> {
    let a: AnnotationArg = s.parse()?;
    Ok((a.levels.map(|l| l.to_string()), a.key, a.value))
}

/// A `--created` value: `auto`, `now`, `commit`, or the date-time it names, in UTC.
pub fn parse_created(s: &str) -> Result<String, String> {
    Ok(match s.parse::<time::CreatedSpec>()? {
        time::CreatedSpec::Auto => "auto".into(),
        time::CreatedSpec::Now => "now".into(),
        time::CreatedSpec::Commit => "commit".into(),
        time::CreatedSpec::At(t, _) => time::format_rfc3339(&t),
    })
}

/// The check `created` values pass: strict RFC 3339, within 0000–9999 in UTC.
pub fn check_rfc3339(s: &str) -> Result<(), String> {
    crate::annotations::time::parse_created(s).map(|_| ())
}

/// `SOURCE_DATE_EPOCH` and `@EPOCH`, as the date-time they name.
pub fn parse_epoch(s: &str) -> Result<String, String> {
    time::parse_epoch(s).map(|t| time::format_rfc3339(&t))
}

/// The strict SPDX check of `licenses` (the refusal rendered).
pub fn check_license(s: &str) -> Result<(), String> {
    spdx::check_expression("org.opencontainers.image.licenses", s).map_err(|d| d.to_string())
}

/// What a project file's license declaration becomes: the strict expression, and the
/// original when it had to be canonicalised.
pub fn canonicalise_license(s: &str) -> Result<(String, Option<String>), String> {
    spdx::canonicalise_declared(s)
}

/// The valid set of `pairs` at `levels`, or the rendered refusals.
fn valid(pairs: &[(&str, &str)], levels: &Levels) -> Result<Valid, Vec<String>> {
    let mut draft = Annotations::default();
    for (k, v) in pairs {
        draft.insert((*k).to_string(), (*v).to_string(), None);
    }
    match validate::validate(&draft, levels) {
        (Some(valid), _) => Ok(valid),
        (None, diagnostics) => Err(lines(&diagnostics)),
    }
}

/// `annotate` on a manifest or index JSON text (as for a file or `-`): the new text
/// (`None` when nothing changes) and the refusals, or the error.
pub fn annotate_json(
    text: &str,
    pairs: &[(&str, &str)],
    levels: &str,
) -> Result<(Option<String>, Vec<String>), String> {
    let levels: Levels = levels.parse().map_err(|e: LevelError| e.to_string())?;
    let stamp = Stamp::new(&valid(pairs, &levels).map_err(|e| e.join("\n"))?);
    let (new, refusals) = targets::manifest::annotate_document("fuzz.json", text, &stamp)
        .map_err(|e| e.to_string())?;
    Ok((new, lines(&refusals)))
}

/// What [`annotate_yaml`] did: the new text (`None` when nothing changes), the objects
/// changed, the refusals.
pub type YamlStamped = (Option<String>, Vec<String>, Vec<String>);

/// Annotation maps by where they were found.
pub type Found = Vec<(String, Vec<(String, String)>)>;

/// `annotate` on a Kubernetes YAML text, or the error.
pub fn annotate_yaml(
    text: &str,
    pairs: &[(&str, &str)],
    pod_template: bool,
) -> Result<YamlStamped, String> {
    let opts = kube::KubeOptions {
        pod_template,
        kinds: Vec::new(),
    };
    let r = kube::annotate(text, pairs, &opts)?;
    Ok((r.text, r.changed, lines(&r.refusals)))
}

/// The annotations of every object (and pod template) in a YAML text, as `validate`
/// reads them: location and pairs.
pub fn yaml_annotations(text: &str) -> Result<Found, String> {
    Ok(kube::annotation_maps("fuzz.yaml", text)?
        .0
        .into_iter()
        .map(|f| (f.location, f.pairs))
        .collect())
}

/// The output formats [`render`] knows.
pub const FORMATS: &[&str] = &[
    "text",
    "json",
    "env",
    "make",
    "dotenv",
    "bake",
    "oras",
    "labels",
    "annotations",
    "github",
    "flags-shell",
    "flags-null",
    "flags-json",
    "flags-podman",
];

/// Renders `pairs` (every entry at `levels`) in one of [`FORMATS`]: the bytes, or the
/// refusals (the rules' or the format's).
pub fn render(format: &str, pairs: &[(&str, &str)], levels: &str) -> Result<Vec<u8>, Vec<String>> {
    use clap::ValueEnum as _;
    let levels: Levels = levels
        .parse()
        .map_err(|e: LevelError| vec![e.to_string()])?;
    let a = valid(pairs, &levels)?;
    let args = |tool, labels| {
        flags::arguments(&a, tool, labels)
            .map(|(args, _)| args)
            .map_err(|d| lines(&d))
    };
    let text = match format {
        "flags-shell" => flags::render_shell(&args(flags::Tool::Buildx, true)?),
        "flags-null" => return Ok(flags::render_null(&args(flags::Tool::Buildx, true)?)),
        "flags-json" => flags::render_json(&args(flags::Tool::Buildx, true)?),
        "flags-podman" => return Ok(flags::render_null(&args(flags::Tool::Podman, false)?)),
        other => {
            let format = Format::from_str(other, false)
                .map_err(|_| vec![format!("unknown format `{other}`")])?;
            emit::render(format, &a, false, &[], emit::bake::DEFAULT_TARGET)
                .map_err(|d| lines(&d))?
                .text
        }
    };
    Ok(text.into_bytes())
}
