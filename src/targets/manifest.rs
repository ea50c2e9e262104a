//! Manifest and index JSON documents, as files or on standard input: every annotation map
//! they hold (and, inside a layout, their blobs' maps) is read here, and annotations are
//! stamped here, editing the text in place so everything else stays byte for byte.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::oci::{self, DocKind, Stamp};
use super::Found;
use crate::annotations::levels::LevelKind;
use crate::annotations::Diagnostic;
use crate::error::Error;
use crate::json_edit::{self, Kind, Node};

/// The largest manifest or index accepted: what registries take (distribution's limit).
pub(crate) const MAX_DOCUMENT: usize = 4 * 1024 * 1024;

/// Stamps one manifest or index document held in memory; returns the new text, or `None`
/// when nothing changes, and the refusals.
pub(crate) fn annotate_document(
    name: &str,
    text: &str,
    stamp: &Stamp,
) -> Result<(Option<String>, Vec<Diagnostic>), Error> {
    if text.len() > MAX_DOCUMENT {
        return Err(Error::BadInput {
            path: PathBuf::from(name),
            message: format!(
                "{} bytes is no manifest or index: registries take at most 4 MiB",
                text.len()
            ),
        });
    }
    let root = json_edit::parse(text).map_err(|e| Error::BadInput {
        path: PathBuf::from(name),
        message: e.to_string(),
    })?;
    let kind = oci::doc_kind(&root, None);
    let mut edits = Vec::new();
    let mut refusals = Vec::new();
    let refuse = |level: LevelKind, why: &str| {
        Diagnostic::error(
            "level-not-found",
            "",
            format!("{name}: nothing at level `{}`: {why}", level.as_str()),
        )
        .hint("annotate the OCI layout the document belongs to, or choose another --level")
    };
    if kind.is_docker() {
        refusals.push(
            Diagnostic::error(
                "docker-media-type",
                "",
                format!("{name}: a {} cannot carry annotations: the Docker schema has no annotations field, and registries may drop them", kind.name()),
            )
            .hint("convert the image to OCI first (`skopeo copy --format oci …`)"),
        );
        return Ok((None, refusals));
    }
    for level in stamp.kinds() {
        match (kind, level) {
            (DocKind::Manifest, LevelKind::Manifest) => {
                let pairs = stamp.pairs(level, None);
                if pairs.is_empty() {
                    refusals.push(refuse(
                        level,
                        "a lone manifest file has no platform to match",
                    ));
                }
                edits.extend(json_edit::set_annotations(text, &root, &root, &pairs));
            }
            (DocKind::Index, LevelKind::Index) => {
                edits.extend(json_edit::set_annotations(
                    text,
                    &root,
                    &root,
                    &stamp.pairs(level, None),
                ));
            }
            (DocKind::Index, LevelKind::ManifestDescriptor) => {
                let mut matched = false;
                for child in root.get("manifests").map(Node::items).unwrap_or_default() {
                    if oci::is_attestation(child)
                        || child.get_str("mediaType") == Some(oci::OCI_INDEX)
                        || !matches!(child.kind, json_edit::Kind::Object(_))
                    {
                        continue;
                    }
                    let pairs = stamp.pairs(level, oci::descriptor_platform(child).as_ref());
                    matched |= !pairs.is_empty();
                    edits.extend(json_edit::set_annotations(text, &root, child, &pairs));
                }
                if !matched {
                    refusals.push(refuse(
                        level,
                        "the index lists no manifest descriptor that matches",
                    ));
                }
            }
            (DocKind::Index, LevelKind::Manifest) => {
                refusals.push(refuse(level, "this is an index; its manifests are separate blobs (use --level index or manifest-descriptor here)"));
            }
            (DocKind::Manifest, _) => refusals.push(refuse(level, "this is a single manifest")),
            (DocKind::Index, _) => refusals.push(refuse(
                level,
                "index.json descriptors exist only in a layout",
            )),
            _ => refusals.push(refuse(level, "this is not an OCI manifest or index")),
        }
    }
    if !refusals.is_empty() || edits.is_empty() {
        return Ok((None, refusals));
    }
    Ok((Some(json_edit::apply(text, edits)), refusals))
}

/// Every annotation map of one document (a file or standard input), and the structural
/// findings met on the way.
pub(crate) fn annotation_maps(
    name: &str,
    text: &str,
) -> Result<(Vec<Found>, Vec<Diagnostic>), Error> {
    let root = json_edit::parse(text).map_err(|e| Error::BadInput {
        path: name.into(),
        message: e.to_string(),
    })?;
    let (mut out, mut findings) = (Vec::new(), Vec::new());
    walk(
        None,
        name,
        text,
        &root,
        None,
        &mut BTreeSet::new(),
        &mut out,
        &mut findings,
    );
    Ok((out, findings))
}

/// The annotations of a JSON node (`annotations`), with findings for what is not a string map.
pub(super) fn pairs(
    node: &Node,
    location: &str,
    findings: &mut Vec<Diagnostic>,
) -> Vec<(String, String)> {
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
#[allow(clippy::too_many_arguments)] // the document, where it is, and the walk's state
pub(super) fn walk(
    dir: Option<&Path>,
    name: &str,
    text: &str,
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
        // What `annotate` refuses, `validate` reports: a blob that is no regular file or
        // over 4 MiB, content that does not match its digest or its descriptor's size, and
        // JSON that is no manifest or index.
        let read = super::layout::blob_path(dir, digest).map(|p| {
            let bytes = super::layout::read_regular(
                &p,
                MAX_DOCUMENT as u64,
                "manifest or index (registries take at most 4 MiB)",
            )
            .map_err(|e| e.to_string())?;
            if let Some(actual) = oci::digest_like(digest, &bytes).filter(|a| a != digest) {
                return Err(format!(
                    "content does not match its digest (it hashes to {actual})"
                ));
            }
            let declared = super::layout::declared_size(text, child)
                .map_err(|why| format!("its descriptor {why}"))?;
            if declared != bytes.len() as u64 {
                return Err(format!(
                    "is {} bytes, but its descriptor says {declared}",
                    bytes.len()
                ));
            }
            String::from_utf8(bytes).map_err(|_| "not UTF-8 JSON".to_string())
        });
        let read = read.map(|r| {
            r.and_then(|text| {
                let doc = json_edit::parse(&text).map_err(|e| e.to_string())?;
                let kind = oci::doc_kind(&doc, child.get_str("mediaType"));
                match super::layout::not_a_document(&doc, kind) {
                    Some(why) => Err(why),
                    None => Ok((text, doc)),
                }
            })
        });
        match read {
            Ok(Ok((text, doc))) => walk(
                Some(dir),
                &format!("{} blob {digest}", dir.display()),
                &text,
                &doc,
                child.get_str("mediaType"),
                seen,
                out,
                findings,
            ),
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
