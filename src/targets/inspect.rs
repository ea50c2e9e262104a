//! What a target already holds: every annotation map in a manifest, index or layout, with
//! where it sits, for `validate TARGET`. Annotations found here never make `annotate` fail;
//! `validate` reports them as findings.

use std::collections::BTreeSet;
use std::path::Path;

use super::oci::{self, DocKind};
use super::Target;
use crate::annotations::Diagnostic;
use crate::error::Error;
use crate::json_edit::{self, Kind, Node};

/// One annotation map and where it was found.
pub(crate) struct Found {
    pub(crate) location: String,
    pub(crate) pairs: Vec<(String, String)>,
    /// Whether this map is on an `index.json` descriptor (where `ref.name` belongs).
    pub(crate) index_descriptor: bool,
}

fn pairs(node: &Node, location: &str, findings: &mut Vec<Diagnostic>) -> Vec<(String, String)> {
    let Some(ann) = node.get("annotations") else {
        return Vec::new();
    };
    match &ann.kind {
        Kind::Object(members) => members
            .iter()
            .filter_map(|m| match m.value.str() {
                Some(v) => Some((m.key.clone(), v.to_string())),
                None => {
                    findings.push(Diagnostic::error(
                        "value-not-string",
                        &m.key,
                        format!("{location}: the value of `{}` is not a string", m.key),
                    ));
                    None
                }
            })
            .collect(),
        Kind::Null => Vec::new(),
        _ => {
            findings.push(Diagnostic::error(
                "annotations-not-object",
                "",
                format!("{location}: `annotations` is not an object"),
            ));
            Vec::new()
        }
    }
}

/// Walks a document: its own map and its descriptors' maps, recursing into a layout's blobs.
fn walk(
    dir: Option<&Path>,
    name: &str,
    root: &Node,
    desc_media_type: Option<&str>,
    seen: &mut BTreeSet<String>,
    out: &mut Vec<Found>,
    findings: &mut Vec<Diagnostic>,
) {
    let kind = oci::doc_kind(root, desc_media_type);
    let own = pairs(root, name, findings);
    if kind.is_docker() && !own.is_empty() {
        findings.push(
            Diagnostic::warning(
                "docker-annotations",
                "",
                format!(
                    "{name}: a {} carries annotations, which its schema does not define",
                    kind.name()
                ),
            )
            .hint("registries and tools may drop them; use OCI media types"),
        );
    }
    out.push(Found {
        location: name.to_string(),
        pairs: own,
        index_descriptor: false,
    });
    let children: Vec<&Node> = root
        .get("manifests")
        .map(Node::items)
        .unwrap_or_default()
        .iter()
        .chain(root.get("layers").map(Node::items).unwrap_or_default())
        .chain(root.get("config"))
        .collect();
    for child in children {
        let digest = child.get_str("digest").unwrap_or("?");
        let location = format!("{name} → descriptor {digest}");
        let p = pairs(child, &location, findings);
        out.push(Found {
            location,
            pairs: p,
            index_descriptor: false,
        });
        let Some(dir) = dir else { continue };
        if kind != DocKind::Index && kind != DocKind::DockerList
            || !oci::is_manifest_media_type(child.get_str("mediaType"))
        {
            continue;
        }
        if !seen.insert(digest.to_string()) {
            continue;
        }
        match super::layout::blob_path(dir, digest).map(|p| std::fs::read_to_string(&p)) {
            Ok(Ok(text)) => match json_edit::parse(&text) {
                Ok(doc) => walk(
                    Some(dir),
                    &format!("{} blob {digest}", dir.display()),
                    &doc,
                    child.get_str("mediaType"),
                    seen,
                    out,
                    findings,
                ),
                Err(e) => findings.push(Diagnostic::error(
                    "unreadable-blob",
                    "",
                    format!("{}: blob {digest}: {e}", dir.display()),
                )),
            },
            Ok(Err(e)) => findings.push(Diagnostic::error(
                "unreadable-blob",
                "",
                format!("{}: blob {digest}: {e}", dir.display()),
            )),
            Err(e) => findings.push(Diagnostic::error(
                "invalid-digest",
                "",
                format!("{}: {e}", dir.display()),
            )),
        }
    }
}

/// Every annotation map in a target, and the structural findings met on the way.
pub(crate) fn annotation_maps(target: &Target) -> Result<(Vec<Found>, Vec<Diagnostic>), Error> {
    let mut out = Vec::new();
    let mut findings = Vec::new();
    let mut seen = BTreeSet::new();
    let (name, text, dir) = match target {
        Target::Layout { dir, .. } => {
            let p = dir.join("index.json");
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?,
                Some(dir.as_path()),
            )
        }
        Target::File(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?,
            None,
        ),
        Target::Chart(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            let maps = super::helm::annotation_maps(&p.display().to_string(), &text)
                .map_err(|message| Error::BadInput {
                    path: p.clone(),
                    message,
                })?;
            return Ok((maps, findings));
        }
        Target::Yaml(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
            let maps = super::kube::annotation_maps(&p.display().to_string(), &text).map_err(
                |message| Error::BadInput {
                    path: p.clone(),
                    message,
                },
            )?;
            return Ok((maps, findings));
        }
        Target::Registry(r) => {
            return Err(Error::Usage(format!(
                "{}: validate does not read registries; `annotate --dry-run` shows what would change there",
                r.given
            )))
        }
        Target::Stdin => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| Error::io(Path::new("-"), e))?;
            ("-".to_string(), s, None)
        }
    };
    let root = json_edit::parse(&text).map_err(|e| Error::BadInput {
        path: name.clone().into(),
        message: e.to_string(),
    })?;
    walk(dir, &name, &root, None, &mut seen, &mut out, &mut findings);
    if dir.is_some() {
        // index.json's own descriptors are where ref.name belongs.
        for f in out
            .iter_mut()
            .filter(|f| f.location.starts_with(&format!("{name} → descriptor")))
        {
            f.index_descriptor = true;
        }
    }
    Ok((out, findings))
}
