//! Kubernetes manifests: the annotations go into `metadata.annotations` of every object in a
//! YAML stream (and of the items of `…List` kinds), optionally of workloads' pod templates.
//!
//! Editing is lossless (yaml-edit keeps comments, blank lines, key order, quoting, anchors,
//! block scalars, separators, CRLF and a missing final newline); only the annotation entries
//! change, and each value is written double-quoted so `y`, `1_000`, `null` or a date stay
//! strings. The Kubernetes key rules and the 256 KiB limit are checked per object before
//! anything is written.

use yaml_edit::{Mapping, ScalarValue, YamlFile};

use crate::annotations::{kubernetes, Diagnostic};

/// Which objects, and which parts of them, get the annotations.
#[derive(Debug, Clone, Default)]
pub(crate) struct KubeOptions {
    /// Also stamp `spec.template.metadata` (and CronJob's job template's pod template).
    pub(crate) pod_template: bool,
    /// Only these kinds (case-insensitive); all when empty.
    pub(crate) kinds: Vec<String>,
}

/// Workload kinds and the path to their pod template's metadata.
const POD_TEMPLATES: &[(&str, &[&str])] = &[
    ("Deployment", &["spec", "template"]),
    ("StatefulSet", &["spec", "template"]),
    ("DaemonSet", &["spec", "template"]),
    ("ReplicaSet", &["spec", "template"]),
    ("Job", &["spec", "template"]),
    ("ReplicationController", &["spec", "template"]),
    ("CronJob", &["spec", "jobTemplate", "spec", "template"]),
];

/// The result of stamping one YAML text.
#[derive(Debug)]
pub(crate) struct KubeResult {
    /// The new text, when anything changed.
    pub(crate) text: Option<String>,
    /// `kind/name` of every object that changed.
    pub(crate) changed: Vec<String>,
    pub(crate) refusals: Vec<Diagnostic>,
    /// Objects seen (to tell "no Kubernetes object here" from "already stamped").
    pub(crate) objects: usize,
}

fn string_of(m: &Mapping, key: &str) -> Option<String> {
    m.get(key)?.as_scalar().map(|s| s.as_string())
}

/// The annotations already on a metadata mapping.
fn existing(meta: &Mapping) -> Vec<(String, String)> {
    let Some(ann) = meta.get_mapping("annotations") else {
        return Vec::new();
    };
    ann.iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_scalar()?.as_string(),
                v.as_scalar().map(|s| s.as_string()).unwrap_or_default(),
            ))
        })
        .collect()
}

/// The entries of `meta.annotations` whose value is a string to every YAML reader: quoted or
/// a block scalar. kubectl reads YAML 1.1, where a plain `y`, `no` or `1_000` is not a
/// string, so an equal plain value still has to be rewritten.
fn settled(meta: &Mapping) -> Vec<(String, String)> {
    let Some(ann) = meta.get_mapping("annotations") else {
        return Vec::new();
    };
    ann.iter()
        .filter_map(|(k, v)| {
            let v = v.as_scalar().filter(|s| s.is_quoted() || s.is_block())?;
            Some((k.as_scalar()?.as_string(), v.as_string()))
        })
        .collect()
}

/// A key as written: quoted when a YAML 1.1 reader (kubectl) would take it plain for a bool,
/// null or number (`y`, `off`, `1_000`, `0x1F`), which yaml-edit, going by YAML 1.2, writes
/// plain.
fn key_scalar(key: &str) -> ScalarValue {
    const WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    if WORDS.contains(&key.to_ascii_lowercase().as_str())
        || key.starts_with(|c: char| c.is_ascii_digit())
    {
        ScalarValue::single_quoted(key)
    } else {
        ScalarValue::string(key)
    }
}

/// Sets `pairs` in `meta.annotations`; returns whether anything changed, or the refusals.
fn stamp_metadata(
    meta: &Mapping,
    pairs: &[(&str, &str)],
    object: &str,
) -> Result<bool, Vec<Diagnostic>> {
    let have = existing(meta);
    let mut refusals: Vec<Diagnostic> = pairs
        .iter()
        .filter_map(|(k, _)| kubernetes::check_key(k))
        .map(|d| d.at(object))
        .collect();
    let mut merged: Vec<(String, String)> = have.clone();
    for (k, v) in pairs {
        match merged.iter_mut().find(|(hk, _)| hk == k) {
            Some(entry) => entry.1 = (*v).to_string(),
            None => merged.push(((*k).to_string(), (*v).to_string())),
        }
    }
    let size = kubernetes::total_size(merged.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if size > kubernetes::TOTAL_LIMIT {
        refusals.push(
            Diagnostic::error(
                "kubernetes-size",
                "",
                format!("{object}: its annotations would total {size} bytes, over the Kubernetes limit of {}", kubernetes::TOTAL_LIMIT),
            )
            .hint("shorten or drop large values, or remove large existing annotations"),
        );
    }
    if !refusals.is_empty() {
        return Err(refusals);
    }
    let settled = settled(meta);
    let todo: Vec<&(&str, &str)> = pairs
        .iter()
        .filter(|(k, v)| !settled.iter().any(|(hk, hv)| hk == k && hv == v))
        .collect();
    if todo.is_empty() {
        return Ok(false);
    }
    let ann = match meta.get_mapping("annotations") {
        Some(a) => a,
        None => {
            meta.set("annotations", Mapping::new());
            meta.get_mapping("annotations").ok_or_else(|| {
                vec![Diagnostic::error(
                    "yaml-edit",
                    "",
                    format!("{object}: could not add metadata.annotations"),
                )]
            })?
        }
    };
    for (k, v) in todo {
        ann.set(key_scalar(k), ScalarValue::double_quoted(*v));
    }
    Ok(true)
}

fn walk_path(m: &Mapping, path: &[&str]) -> Option<Mapping> {
    let mut cur = m.clone();
    for key in path {
        cur = cur.get_mapping(*key)?;
    }
    Some(cur)
}

/// The kind of a Kubernetes object (a mapping with `apiVersion` and `kind`). A `…List` is
/// handed item by item to `each_item` and gives `None`, as does anything that is not an
/// object.
fn object_kind(obj: &Mapping, each_item: &mut dyn FnMut(&Mapping)) -> Option<String> {
    let (Some(_), Some(kind)) = (string_of(obj, "apiVersion"), string_of(obj, "kind")) else {
        return None;
    };
    if kind.ends_with("List") {
        if let Some(items) = obj.get_sequence("items") {
            for item in items.values() {
                if let Some(m) = item.as_mapping() {
                    each_item(m);
                }
            }
        }
        return None;
    }
    Some(kind)
}

/// Stamps one object mapping.
fn stamp_object(
    obj: &Mapping,
    pairs: &[(&str, &str)],
    opts: &KubeOptions,
    result: &mut KubeResult,
) {
    let Some(kind) = object_kind(obj, &mut |item| stamp_object(item, pairs, opts, result)) else {
        return;
    };
    result.objects += 1;
    if !opts.kinds.is_empty() && !opts.kinds.iter().any(|k| k.eq_ignore_ascii_case(&kind)) {
        return;
    }
    let meta = match obj.get_mapping("metadata") {
        Some(m) => m,
        None => {
            obj.set("metadata", Mapping::new());
            let Some(m) = obj.get_mapping("metadata") else {
                return;
            };
            m
        }
    };
    let name = string_of(&meta, "name")
        .or_else(|| string_of(&meta, "generateName"))
        .unwrap_or_else(|| "(unnamed)".into());
    let object = format!("{kind}/{name}");
    let mut changed = false;
    match stamp_metadata(&meta, pairs, &object) {
        Ok(c) => changed |= c,
        Err(r) => result.refusals.extend(r),
    }
    if opts.pod_template {
        if let Some((_, path)) = POD_TEMPLATES.iter().find(|(k, _)| *k == kind) {
            if let Some(template) = walk_path(obj, path) {
                let tmeta = match template.get_mapping("metadata") {
                    Some(m) => Some(m),
                    None => {
                        template.set("metadata", Mapping::new());
                        template.get_mapping("metadata")
                    }
                };
                if let Some(tmeta) = tmeta {
                    match stamp_metadata(&tmeta, pairs, &format!("{object} pod template")) {
                        Ok(c) => changed |= c,
                        Err(r) => result.refusals.extend(r),
                    }
                }
            }
        }
    }
    if changed {
        result.changed.push(object);
    }
}

/// Stamps every Kubernetes object in `text`. `Err` is a file that does not parse (with the
/// line), or a Helm template.
pub(crate) fn annotate(
    text: &str,
    pairs: &[(&str, &str)],
    opts: &KubeOptions,
) -> Result<KubeResult, String> {
    if let Some(line) = text.lines().position(|l| l.contains("{{")) {
        return Err(format!(
            "line {}: `{{{{` — this looks like a Helm or Go template, not YAML; render it first (`helm template … | oci-stamp annotate -`)",
            line + 1
        ));
    }
    let parsed = YamlFile::parse(text);
    if !parsed.ok() {
        let first = parsed.errors().into_iter().next().unwrap_or_default();
        return Err(format!("not valid YAML: {first}"));
    }
    let file = parsed.tree();
    let mut result = KubeResult {
        text: None,
        changed: Vec::new(),
        refusals: Vec::new(),
        objects: 0,
    };
    for doc in file.documents() {
        if let Some(obj) = doc.as_mapping() {
            stamp_object(&obj, pairs, opts, &mut result);
        }
    }
    if result.refusals.is_empty() && !result.changed.is_empty() {
        let mut out = file.to_string();
        // Entries added at the very end bring a line break the text did not end with.
        if !text.ends_with('\n') {
            if let Some(cut) = out.strip_suffix('\n') {
                out.truncate(cut.strip_suffix('\r').unwrap_or(cut).len());
            }
        }
        if out != text {
            result.text = Some(out);
        }
    }
    Ok(result)
}

/// Every object's `metadata.annotations` (and pod templates'), for `validate TARGET`.
pub(crate) fn annotation_maps(
    name: &str,
    text: &str,
) -> Result<Vec<super::inspect::Found>, String> {
    let parsed = YamlFile::parse(text);
    if !parsed.ok() {
        let first = parsed.errors().into_iter().next().unwrap_or_default();
        return Err(format!("not valid YAML: {first}"));
    }
    let mut out = Vec::new();
    fn visit(obj: &Mapping, name: &str, out: &mut Vec<super::inspect::Found>) {
        let Some(kind) = object_kind(obj, &mut |item| visit(item, name, out)) else {
            return;
        };
        let Some(meta) = obj.get_mapping("metadata") else {
            return;
        };
        let object = format!(
            "{kind}/{}",
            string_of(&meta, "name").unwrap_or_else(|| "(unnamed)".into())
        );
        out.push(super::inspect::Found {
            location: format!("{name}: {object}"),
            pairs: existing(&meta),
            index_descriptor: false,
        });
        if let Some((_, path)) = POD_TEMPLATES.iter().find(|(k, _)| *k == kind) {
            if let Some(tmeta) = walk_path(obj, path).and_then(|t| t.get_mapping("metadata")) {
                out.push(super::inspect::Found {
                    location: format!("{name}: {object} pod template"),
                    pairs: existing(&tmeta),
                    index_descriptor: false,
                });
            }
        }
    }
    for doc in parsed.tree().documents() {
        if let Some(obj) = doc.as_mapping() {
            visit(&obj, name, &mut out);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: &[(&str, &str)] = &[
        ("org.opencontainers.image.revision", "abc"),
        ("com.example/x", "no"),
    ];

    #[test]
    fn stamps_every_object_and_keeps_the_rest() {
        let text = "# c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # n\ndata: {k: v}\n---\nfoo: bar\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations:\n    keep: 'x'\n";
        let r = annotate(text, PAIRS, &KubeOptions::default()).unwrap();
        let out = r.text.unwrap();
        assert_eq!(r.changed, ["ConfigMap/a", "Service/s"]);
        assert!(
            out.starts_with("# c\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # n\n"),
            "{out}"
        );
        assert!(out.contains("  annotations:\n    org.opencontainers.image.revision: \"abc\"\n    com.example/x: \"no\"\n"), "{out}");
        assert!(out.contains("---\nfoo: bar\n---\n"));
        assert!(out.contains("    keep: 'x'\n"));
        // a second run changes nothing
        let again = annotate(&out, PAIRS, &KubeOptions::default()).unwrap();
        assert!(again.text.is_none() && again.changed.is_empty());
    }

    #[test]
    fn lists_kinds_and_pod_templates() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: Secret\n  metadata:\n    name: b\n";
        let r = annotate(
            list,
            PAIRS,
            &KubeOptions {
                kinds: vec!["secret".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(r.changed, ["Secret/b"]);
        let cron = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: []\n";
        let r = annotate(
            cron,
            PAIRS,
            &KubeOptions {
                pod_template: true,
                ..Default::default()
            },
        )
        .unwrap();
        let out = r.text.unwrap();
        assert!(out.contains("      template:\n        spec:\n          containers: []\n        metadata:\n          annotations:\n") || out.contains("        metadata:\n          annotations:"), "{out}");
    }

    #[test]
    fn refusals() {
        assert!(annotate(
            "metadata:\n  name: {{ .Values.x }}\n",
            PAIRS,
            &KubeOptions::default()
        )
        .unwrap_err()
        .contains("Helm"));
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";
        let r = annotate(text, &[("Bad Key", "v")], &KubeOptions::default()).unwrap();
        assert_eq!(r.refusals[0].code, "kubernetes-key");
        assert!(r.refusals[0].to_string().contains("ConfigMap/a"));
        assert!(r.text.is_none());
        let big = "x".repeat(kubernetes::TOTAL_LIMIT);
        let r = annotate(text, &[("k", big.as_str())], &KubeOptions::default()).unwrap();
        assert_eq!(r.refusals[0].code, "kubernetes-size");
    }
}
