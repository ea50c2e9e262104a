//! Helm charts: the annotations go into `Chart.yaml`'s top-level `annotations:` map, edited
//! in place as Kubernetes YAML is (comments, order and quoting kept; values double-quoted,
//! since Helm reads the map as strings).
//!
//! `helm push` to an OCI registry writes the chart's manifest annotations from its fields
//! (`name` → title, `version`, `description`, `home` → url, `sources[0]` → source,
//! `maintainers` → authors, the time of the push → created) and then copies the
//! `annotations:` map over them, except `org.opencontainers.image.title` and
//! `org.opencontainers.image.version`, which stay the chart's name and version. Those two
//! are therefore not written here (with a warning); every other key, `created` included,
//! reaches the manifest.
//!
//! A chart is recognised by content: one YAML document, a mapping with `apiVersion: v2`,
//! `name` and `version`, and no `kind`.

use std::path::Path;

use crate::annotations::spec;
use yaml_edit::{Mapping, YamlFile};

use super::kube::{keep_missing_final_newline, key_scalar, settled, value_scalar};
use super::oci::Stamp;
use super::Found;
use super::{layout, parent_dir, read_text, Outcome};
use crate::annotations::Diagnostic;
use crate::atomic;
use crate::error::Error;

/// The keys `helm push` sets from the chart itself, whatever its annotations say.
pub(crate) const HELM_OWN: &[&str] = &[spec::ANNOTATION_TITLE, spec::ANNOTATION_VERSION];

/// Chart.yaml files are small; a larger YAML file is not looked at as a chart.
const MAX_CHART: u64 = 1024 * 1024;

fn scalar(m: &Mapping, key: &str) -> Option<String> {
    m.get(key)?.as_scalar().map(|s| s.as_string())
}

/// The chart's top-level mapping, when `text` is a Chart.yaml.
fn chart_root(file: &YamlFile) -> Option<Mapping> {
    let mut docs = file.documents();
    let (Some(doc), None) = (docs.next(), docs.next()) else {
        return None;
    };
    let root = doc.as_mapping()?;
    let is_chart = scalar(&root, "apiVersion").as_deref() == Some("v2")
        && scalar(&root, "name").is_some()
        && scalar(&root, "version").is_some()
        && root.get("kind").is_none();
    is_chart.then_some(root)
}

/// Whether the text is a Helm chart's `Chart.yaml`.
pub(crate) fn is_chart(text: &str) -> bool {
    if !(text.contains("apiVersion") && text.contains("version") && text.contains("name")) {
        return false;
    }
    let parsed = YamlFile::parse(text);
    parsed.ok() && chart_root(&parsed.tree()).is_some()
}

/// Whether the file at `path` is a `.yaml`/`.yml` Chart.yaml (read only when small).
pub(crate) fn is_chart_file(path: &Path) -> bool {
    let yaml = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"));
    yaml && std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_CHART)
        && std::fs::read_to_string(path).is_ok_and(|t| is_chart(&t))
}

/// What stamping one Chart.yaml text gives.
#[derive(Debug, Default)]
pub(crate) struct ChartResult {
    /// The new text, when anything changed.
    pub(crate) text: Option<String>,
    pub(crate) refusals: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Sets `pairs` (but [`HELM_OWN`]) in the chart's `annotations:`.
pub(crate) fn annotate(
    name: &str,
    text: &str,
    pairs: &[(&str, &str)],
) -> Result<ChartResult, String> {
    let parsed = YamlFile::parse(text);
    if !parsed.ok() {
        let first = parsed.errors().into_iter().next().unwrap_or_default();
        return Err(format!("not valid YAML: {first}"));
    }
    let file = parsed.tree();
    let root = chart_root(&file).ok_or_else(|| {
        "not a Helm chart's Chart.yaml (apiVersion v2, name, version)".to_string()
    })?;
    let mut result = ChartResult::default();
    let skipped: Vec<&str> = pairs
        .iter()
        .map(|(k, _)| *k)
        .filter(|k| HELM_OWN.contains(k))
        .collect();
    if !skipped.is_empty() {
        result.warnings.push(
            Diagnostic::warning(
                "chart-own-key",
                skipped[0],
                format!(
                    "{name}: {} not written into the chart's annotations: `helm push` sets {} from the chart's name and version",
                    skipped.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(" and "),
                    if skipped.len() == 1 { "it" } else { "them" }
                ),
            )
            .hint("set the chart's `name` and `version` fields instead"),
        );
    }
    let pairs: Vec<&(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| !HELM_OWN.contains(k))
        .collect();
    match root.get("annotations") {
        None => {}
        Some(v) if v.is_mapping() => {}
        Some(v)
            if v.as_scalar()
                .is_some_and(|s| s.as_string().is_empty() || s.as_string() == "null") => {}
        Some(_) => {
            result.refusals.push(
                Diagnostic::error(
                    "chart-annotations",
                    "",
                    format!("{name}: the chart's `annotations` is not a mapping"),
                )
                .hint("make `annotations:` a mapping of strings (Helm reads it as one)"),
            );
            return Ok(result);
        }
    }
    let have = settled(&root);
    let todo: Vec<&&(&str, &str)> = pairs
        .iter()
        .filter(|(k, v)| !have.iter().any(|(hk, hv)| hk == k && hv == v))
        .collect();
    if todo.is_empty() {
        return Ok(result);
    }
    let ann = match root.get_mapping("annotations") {
        Some(a) => a,
        None => {
            root.set("annotations", Mapping::new());
            root.get_mapping("annotations")
                .ok_or_else(|| format!("{name}: could not add `annotations`"))?
        }
    };
    for (k, v) in todo {
        match value_scalar(v) {
            Some(s) => ann.set(key_scalar(k), s),
            None => {
                return Err(format!(
                    "{name}: the value of `{k}` cannot be written as YAML"
                ))
            }
        }
    }
    let mut out = file.to_string();
    keep_missing_final_newline(text, &mut out);
    // An entry added at the very end can take the final line break with it.
    if text.ends_with('\n') && !out.ends_with('\n') {
        out.push_str(if text.ends_with("\r\n") { "\r\n" } else { "\n" });
    }
    // What was written must read back as the same chart.
    if !is_chart(&out) {
        return Err(format!(
            "{name}: the edited file would not read back as a chart"
        ));
    }
    result.text = (out != text).then_some(out);
    Ok(result)
}

/// Annotates the chart at `path` (the file is replaced, under the directory's lock).
pub(crate) fn annotate_file(path: &Path, stamp: &Stamp, dry_run: bool) -> Result<Outcome, Error> {
    let _lock = layout::lock(parent_dir(path), !dry_run)?;
    if !dry_run {
        atomic::remove_stale(parent_dir(path));
    }
    let text = read_text(path)?;
    let shown = path.display().to_string();
    let result =
        annotate(&shown, &text, &stamp.all_pairs()).map_err(|message| Error::BadInput {
            path: path.to_path_buf(),
            message,
        })?;
    let mut outcome = Outcome::refused(path, result.refusals);
    outcome.warnings = result.warnings;
    outcome.rewrite_file(path, "chart", &text, result.text, dry_run)?;
    Ok(outcome)
}

/// The chart's annotations, for `validate TARGET`.
pub(crate) fn annotation_maps(name: &str, text: &str) -> Result<Vec<Found>, String> {
    let parsed = YamlFile::parse(text);
    let root =
        chart_root(&parsed.tree()).ok_or_else(|| "not a Helm chart's Chart.yaml".to_string())?;
    let pairs = root
        .get_mapping("annotations")
        .map(|a| {
            a.iter()
                .filter_map(|(k, v)| Some((k.as_scalar()?.as_string(), v.as_scalar()?.as_string())))
                .collect()
        })
        .unwrap_or_default();
    Ok(vec![Found {
        location: format!("{name}: chart annotations"),
        pairs,
        index_descriptor: false,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHART: &str = "# the web chart\napiVersion: v2\nname: web  # its name\nversion: 1.2.0\n\
                         appVersion: \"3.0\"\ndependencies:\n  - name: redis\n    version: 18.x\n";

    #[test]
    fn charts_are_recognised_by_content() {
        assert!(is_chart(CHART));
        assert!(!is_chart("apiVersion: v1\nname: web\nversion: 1.0.0\n"));
        assert!(!is_chart(
            "apiVersion: v2\nkind: Pod\nmetadata:\n  name: x\nversion: 1\n"
        ));
        assert!(!is_chart("apiVersion: v2\nname: web\n"));
        assert!(!is_chart(
            "apiVersion: v2\nname: a\nversion: 1\n---\nname: b\n"
        ));
    }

    #[test]
    fn annotations_are_added_and_comments_kept() {
        let pairs = [
            (spec::ANNOTATION_REVISION, "abc123"),
            (spec::ANNOTATION_VERSION, "9.9.9"),
            (spec::ANNOTATION_LICENSES, "MIT"),
        ];
        let r = annotate("Chart.yaml", CHART, &pairs).unwrap();
        let out = r.text.unwrap();
        assert!(out.starts_with("# the web chart\n"), "{out}");
        assert!(out.ends_with("\"MIT\"\n"), "{out}");
        assert!(out.contains("name: web  # its name\n"), "{out}");
        assert!(
            out.contains("org.opencontainers.image.revision: \"abc123\""),
            "{out}"
        );
        assert!(!out.contains("9.9.9"), "{out}");
        assert_eq!(r.warnings[0].code, "chart-own-key");
        // a second run changes nothing
        let again = annotate("Chart.yaml", &out, &pairs).unwrap();
        assert_eq!(again.text, None);
        // an existing map is extended, its entries kept
        let with = format!("{CHART}annotations:\n  category: Web  # kept\n");
        let out = annotate("Chart.yaml", &with, &pairs).unwrap().text.unwrap();
        assert!(out.contains("  category: Web  # kept\n"), "{out}");
        assert!(
            out.contains("  org.opencontainers.image.licenses: \"MIT\""),
            "{out}"
        );
        // annotations that are not a mapping are refused
        let bad = format!("{CHART}annotations: [a]\n");
        let r = annotate("Chart.yaml", &bad, &pairs).unwrap();
        assert_eq!(r.refusals[0].code, "chart-annotations");
        assert_eq!(r.text, None);
    }
}
