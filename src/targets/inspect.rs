//! Reading what a target carries, place by place, the way `annotate` addresses it: each
//! annotation map with its level (and platform) in an image, or its object in Kubernetes
//! YAML. `verify` compares these with what it expects; `validate` reads registries through
//! here. Nothing is ever written.
//!
//! The image walk goes where the stamping walk ([`super::layout::Plan`]) goes: from a
//! layout's `index.json` entries (narrowed to one `ref.name` for `DIR:REF`) or a registry
//! reference down through indexes, skipping attestations and artifacts (signatures, SBOMs),
//! which `annotate` leaves alone too.

use std::path::Path;

use super::layout::{self, Source};
use super::oci::{self, DocKind};
use super::{Found, Target};
use crate::annotations::levels::{LevelKind, Platform};
use crate::annotations::Diagnostic;
use crate::error::Error;
use crate::json_edit::{self, Kind, Node};

/// Where an annotation map sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// A level of an image, and the platform it is for (when known).
    Level(LevelKind, Option<Platform>),
    /// A Kubernetes object's `metadata.annotations` (`kind`), or its pod template's.
    Object { kind: String, pod_template: bool },
    /// A layer or config descriptor: validated, never stamped.
    Other,
}

impl Place {
    /// `manifest linux/amd64`, `index`, `Deployment pod template`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Place::Level(kind, Some(p)) => format!("{} {p}", kind.as_str()),
            Place::Level(kind, None) => kind.as_str().to_string(),
            Place::Object {
                kind,
                pod_template: true,
            } => format!("{kind} pod template"),
            Place::Object { kind, .. } => kind.clone(),
            Place::Other => "descriptor".into(),
        }
    }
}

/// One annotation map and its place.
pub(crate) struct Placed {
    pub(crate) place: Place,
    /// A short name for tables: `manifest linux/amd64 sha256:0123456789ab`, `Deployment/web`.
    pub(crate) label: String,
    pub(crate) found: Found,
}

/// A digest cut to 12 hex digits, for tables.
fn short(digest: &str) -> String {
    let alg = digest
        .split_once(':')
        .map_or(0, |(a, _)| a.chars().count() + 1);
    digest.chars().take(alg + 12).collect()
}

fn placed(place: Place, digest: &str, location: String, pairs: Vec<(String, String)>) -> Placed {
    let index_descriptor = matches!(place, Place::Level(LevelKind::IndexDescriptor, _));
    Placed {
        label: format!("{} {}", place.describe(), short(digest))
            .trim_end()
            .to_string(),
        place,
        found: Found {
            location,
            pairs,
            index_descriptor,
        },
    }
}

/// The image walk over a [`Source`]: every map at every level it reaches.
pub(crate) struct Walk<'a, S: Source + ?Sized> {
    source: &'a S,
    pub(crate) maps: Vec<Placed>,
    pub(crate) findings: Vec<Diagnostic>,
    seen: std::collections::BTreeSet<String>,
}

impl<'a, S: Source + ?Sized> Walk<'a, S> {
    pub(crate) fn new(source: &'a S) -> Self {
        Walk {
            source,
            maps: Vec::new(),
            findings: Vec::new(),
            seen: Default::default(),
        }
    }

    fn parse(&self, digest: &str, media_type: Option<&str>) -> Result<Node, Error> {
        let bytes = self.source.manifest(digest, media_type)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| layout::bad(&self.source.location(digest), "not UTF-8 JSON"))?;
        json_edit::parse(&text)
            .map_err(|e| layout::bad(&self.source.location(digest), e.to_string()))
    }

    /// The platform of a manifest: its descriptor's, else its config's.
    fn platform_of(&self, desc_platform: Option<Platform>, root: &Node) -> Option<Platform> {
        desc_platform.or_else(|| {
            let digest = root.get("config")?.get_str("digest")?;
            let bytes = self.source.blob(digest).ok()?;
            let config = json_edit::parse(std::str::from_utf8(&bytes).ok()?).ok()?;
            Some(Platform {
                os: config.get_str("os")?.to_string(),
                arch: config.get_str("architecture")?.to_string(),
                variant: config.get_str("variant").map(str::to_string),
            })
        })
    }

    /// Reads the document behind `desc` and everything below it.
    pub(crate) fn visit(&mut self, desc: &Node, depth: usize) -> Result<(), Error> {
        let Some(digest) = desc.get_str("digest") else {
            return Err(layout::bad(
                self.source.name(),
                "a descriptor has no digest",
            ));
        };
        if !self.seen.insert(digest.to_string()) {
            return Ok(());
        }
        if depth > 16 {
            return Err(layout::bad(
                self.source.name(),
                format!("indexes nested deeper than 16 levels at {digest}"),
            ));
        }
        let root = self.parse(digest, desc.get_str("mediaType"))?;
        let kind = oci::doc_kind(&root, desc.get_str("mediaType"));
        let platform = oci::descriptor_platform(desc);
        let at = format!("{} {}", self.source.name().display(), digest);
        match kind {
            DocKind::Index | DocKind::DockerList => {
                if root.get("subject").is_some() {
                    return Ok(());
                }
                let own = super::manifest::pairs(&root, &at, &mut self.findings);
                self.maps.push(placed(
                    Place::Level(LevelKind::Index, platform),
                    digest,
                    format!("{at} (index)"),
                    own,
                ));
                for child in root.get("manifests").map(Node::items).unwrap_or_default() {
                    if oci::is_attestation(child)
                        || !oci::is_manifest_media_type(child.get_str("mediaType"))
                    {
                        continue;
                    }
                    if child.get_str("mediaType") != Some(oci::OCI_INDEX) {
                        let d = child.get_str("digest").unwrap_or("?");
                        let location = format!("{at} → descriptor {}", d);
                        let p = super::manifest::pairs(child, &location, &mut self.findings);
                        self.maps.push(placed(
                            Place::Level(
                                LevelKind::ManifestDescriptor,
                                oci::descriptor_platform(child),
                            ),
                            d,
                            location,
                            p,
                        ));
                    }
                    self.visit(child, depth + 1)?;
                }
            }
            DocKind::Manifest | DocKind::DockerManifest | DocKind::DockerSchema1 => {
                if kind == DocKind::Manifest && oci::is_artifact(&root) {
                    return Ok(());
                }
                let own = super::manifest::pairs(&root, &at, &mut self.findings);
                let platform = self.platform_of(platform, &root);
                self.maps.push(placed(
                    Place::Level(LevelKind::Manifest, platform),
                    digest,
                    format!("{at} (manifest)"),
                    own,
                ));
                for child in root
                    .get("layers")
                    .map(Node::items)
                    .unwrap_or_default()
                    .iter()
                    .chain(root.get("config"))
                {
                    let d = child.get_str("digest").unwrap_or("?");
                    let location = format!("{at} → descriptor {}", d);
                    let p = super::manifest::pairs(child, &location, &mut self.findings);
                    self.maps.push(placed(Place::Other, d, location, p));
                }
            }
            DocKind::Other => {}
        }
        Ok(())
    }
}

/// Every map of a layout: its `index.json` entries (those whose `ref.name` is `reference`,
/// when one is given) and what they reach.
fn layout_maps(
    dir: &Path,
    reference: Option<&str>,
) -> Result<(Vec<Placed>, Vec<Diagnostic>), Error> {
    let index_path = dir.join("index.json");
    let text = std::fs::read_to_string(&index_path).map_err(|e| Error::io(&index_path, e))?;
    let index = json_edit::parse(&text).map_err(|e| layout::bad(&index_path, e.to_string()))?;
    let entries = index.get("manifests").map(Node::items).unwrap_or_default();
    let ref_name = |e: &Node| {
        e.get("annotations")
            .and_then(|a| a.get_str(crate::annotations::spec::ANNOTATION_REF_NAME))
            .map(str::to_string)
    };
    let selected: Vec<&Node> = entries
        .iter()
        .filter(|e| reference.is_none_or(|r| ref_name(e).as_deref() == Some(r)))
        .collect();
    if let (Some(r), true) = (reference, selected.is_empty()) {
        let names: Vec<String> = entries.iter().filter_map(ref_name).collect();
        return Err(layout::bad(
            &index_path,
            format!(
                "no entry has ref.name `{r}`{}",
                if names.is_empty() {
                    " (no entry has a ref.name)".to_string()
                } else {
                    format!("; there are: {}", names.join(", "))
                }
            ),
        ));
    }
    let source = layout::LayoutSource::new(dir);
    let mut walk = Walk::new(&source);
    let mut findings = Vec::new();
    let own = super::manifest::pairs(&index, &index_path.display().to_string(), &mut findings);
    walk.maps.push(placed(
        Place::Other,
        "index.json",
        index_path.display().to_string(),
        own,
    ));
    for entry in selected {
        let d = entry.get_str("digest").unwrap_or("?");
        let location = format!("{} → descriptor {}", index_path.display(), d);
        let p = super::manifest::pairs(entry, &location, &mut findings);
        walk.maps.push(placed(
            Place::Level(LevelKind::IndexDescriptor, oci::descriptor_platform(entry)),
            d,
            location,
            p,
        ));
        if oci::is_manifest_media_type(entry.get_str("mediaType")) {
            walk.visit(entry, 0)?;
        }
    }
    findings.append(&mut walk.findings);
    Ok((walk.maps, findings))
}

/// Every map of one manifest or index document (a file, or standard input).
fn document_maps(name: &str, text: &str) -> Result<(Vec<Placed>, Vec<Diagnostic>), Error> {
    let root = json_edit::parse(text).map_err(|e| layout::bad(Path::new(name), e.to_string()))?;
    let mut findings = Vec::new();
    let mut maps = Vec::new();
    let own = super::manifest::pairs(&root, name, &mut findings);
    match oci::doc_kind(&root, None) {
        DocKind::Index | DocKind::DockerList => {
            maps.push(placed(
                Place::Level(LevelKind::Index, None),
                "",
                name.into(),
                own,
            ));
            for child in root.get("manifests").map(Node::items).unwrap_or_default() {
                if oci::is_attestation(child)
                    || child.get_str("mediaType") == Some(oci::OCI_INDEX)
                    || !matches!(child.kind, Kind::Object(_))
                {
                    continue;
                }
                let d = child.get_str("digest").unwrap_or("?");
                let location = format!("{name} → descriptor {}", d);
                let p = super::manifest::pairs(child, &location, &mut findings);
                maps.push(placed(
                    Place::Level(
                        LevelKind::ManifestDescriptor,
                        oci::descriptor_platform(child),
                    ),
                    d,
                    location,
                    p,
                ));
            }
        }
        DocKind::Manifest | DocKind::DockerManifest | DocKind::DockerSchema1 => {
            maps.push(placed(
                Place::Level(LevelKind::Manifest, None),
                "",
                name.into(),
                own,
            ));
        }
        DocKind::Other => maps.push(placed(Place::Other, "", name.into(), own)),
    }
    Ok((maps, findings))
}

/// Every object map of a Kubernetes YAML text.
fn yaml_maps(name: &str, text: &str) -> Result<(Vec<Placed>, Vec<Diagnostic>), Error> {
    let (maps, findings) =
        super::kube::annotation_maps(name, text).map_err(|message| Error::BadInput {
            path: name.into(),
            message,
        })?;
    let prefix = format!("{name}: ");
    let maps = maps
        .into_iter()
        .map(|found| {
            // `NAME: Kind/name` or `NAME: Kind/name pod template`, as kube::annotation_maps
            // names them.
            let object = found.location.strip_prefix(&prefix).unwrap_or_default();
            let (object, pod_template) = match object.strip_suffix(" pod template") {
                Some(o) => (o, true),
                None => (object, false),
            };
            let kind = object
                .split_once('/')
                .map_or(object, |(k, _)| k)
                .to_string();
            let label = found
                .location
                .strip_prefix(&prefix)
                .unwrap_or(&found.location)
                .to_string();
            Placed {
                place: Place::Object { kind, pod_template },
                label,
                found,
            }
        })
        .collect();
    Ok((maps, findings))
}

/// A Helm chart's one map: placed as an object of kind `Chart`.
fn chart_maps(name: &str, text: &str) -> Result<(Vec<Placed>, Vec<Diagnostic>), Error> {
    let maps = super::helm::annotation_maps(name, text).map_err(|message| Error::BadInput {
        path: name.into(),
        message,
    })?;
    let placed = maps
        .into_iter()
        .map(|found| Placed {
            place: Place::Object {
                kind: "Chart".into(),
                pod_template: false,
            },
            label: "Chart.yaml".into(),
            found,
        })
        .collect();
    Ok((placed, Vec::new()))
}

/// Every annotation map of a target, placed; the structural findings met on the way.
pub(crate) fn placed_maps(
    target: &Target,
    registry: &super::registry::Options,
) -> Result<(Vec<Placed>, Vec<Diagnostic>), Error> {
    match target {
        Target::Layout { dir, reference } => layout_maps(dir, reference.as_deref()),
        Target::File(p) => document_maps(&p.display().to_string(), &super::read_text(p)?),
        Target::Yaml(p) => yaml_maps(&p.display().to_string(), &super::read_text(p)?),
        Target::Chart(p) => chart_maps(&p.display().to_string(), &super::read_text(p)?),
        Target::Registry(r) => super::registry::read(r, registry),
        Target::Stdin => {
            let text = crate::stdin::read_text("the target `-`")?;
            if super::is_oci_json(&text) {
                document_maps("-", &text)
            } else {
                yaml_maps("-", &text)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_objects_are_placed_by_kind() {
        let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    a.b/c: \"1\"\nspec:\n  template:\n    metadata:\n      labels: {app: web}\n";
        let (maps, _) = yaml_maps("x: y.yaml", text).unwrap();
        let places: Vec<Place> = maps.into_iter().map(|m| m.place).collect();
        assert_eq!(
            places,
            [
                Place::Object {
                    kind: "Deployment".into(),
                    pod_template: false
                },
                Place::Object {
                    kind: "Deployment".into(),
                    pod_template: true
                }
            ]
        );
    }

    #[test]
    fn an_index_document_has_its_level_and_its_descriptors() {
        let text = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","annotations":{"k.x":"1"},"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aaaa","size":1,"platform":{"os":"linux","architecture":"arm64"}}]}"#;
        let (maps, findings) = document_maps("i.json", text).unwrap();
        assert!(findings.is_empty());
        assert_eq!(maps[0].place, Place::Level(LevelKind::Index, None));
        assert_eq!(maps[0].found.pairs, [("k.x".to_string(), "1".to_string())]);
        assert_eq!(maps[1].place.describe(), "manifest-descriptor linux/arm64");
    }
}
