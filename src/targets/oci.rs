//! What OCI documents are: media types, the kinds of document oci-stamp will and will not
//! write, descriptors as the layout walk sees them, and which annotations go where.

use sha2::{Digest as _, Sha256};

use crate::annotations::levels::{LevelKind, Platform};
use crate::annotations::{Levels, Valid};
use crate::json_edit::Node;

pub(crate) const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const OCI_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub(crate) const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const DOCKER_SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
pub(crate) const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub(crate) const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

/// The kinds of JSON document an image is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DocKind {
    Manifest,
    Index,
    DockerManifest,
    DockerList,
    DockerSchema1,
    Other,
}

impl DocKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            DocKind::Manifest => "manifest",
            DocKind::Index => "index",
            DocKind::DockerManifest => "Docker schema 2 manifest",
            DocKind::DockerList => "Docker manifest list",
            DocKind::DockerSchema1 => "Docker schema 1 manifest",
            DocKind::Other => "document",
        }
    }

    pub(crate) fn is_docker(self) -> bool {
        matches!(
            self,
            DocKind::DockerManifest | DocKind::DockerList | DocKind::DockerSchema1
        )
    }
}

fn kind_of_media_type(mt: &str) -> Option<DocKind> {
    match mt {
        OCI_MANIFEST => Some(DocKind::Manifest),
        OCI_INDEX => Some(DocKind::Index),
        DOCKER_MANIFEST => Some(DocKind::DockerManifest),
        DOCKER_LIST => Some(DocKind::DockerList),
        m if DOCKER_SCHEMA1.contains(&m) => Some(DocKind::DockerSchema1),
        _ => None,
    }
}

/// Whether a descriptor's media type says it points at a manifest or index (of any schema).
pub(crate) fn is_manifest_media_type(mt: Option<&str>) -> bool {
    mt.is_none_or(|m| {
        kind_of_media_type(m).is_some() || m == "application/vnd.oci.descriptor.v1+json"
    })
}

/// A document's kind: its own `mediaType`, else the descriptor's, else its shape.
pub(crate) fn doc_kind(root: &Node, descriptor_media_type: Option<&str>) -> DocKind {
    if let Some(k) = root.get_str("mediaType").and_then(kind_of_media_type) {
        return k;
    }
    if root.get("signatures").is_some() || root.get("fsLayers").is_some() {
        return DocKind::DockerSchema1;
    }
    if let Some(k) = descriptor_media_type.and_then(kind_of_media_type) {
        return k;
    }
    if root.get("manifests").is_some() {
        DocKind::Index
    } else if root.get("config").is_some() || root.get("layers").is_some() {
        DocKind::Manifest
    } else {
        DocKind::Other
    }
}

/// A manifest that describes something other than a runnable image: it has a `subject`
/// (a signature, an SBOM, an attestation about another manifest) or a non-image config.
pub(crate) fn is_artifact(root: &Node) -> bool {
    root.get("subject").is_some()
        || root
            .get("config")
            .and_then(|c| c.get_str("mediaType"))
            .is_some_and(|mt| {
                mt != OCI_IMAGE_CONFIG && mt != "application/vnd.docker.container.image.v1+json"
            })
}

/// `ALG:<hex>` of a hash.
fn hex_digest(alg: &str, hash: &[u8]) -> String {
    let mut s = String::with_capacity(alg.len() + 1 + 2 * hash.len());
    s.push_str(alg);
    s.push(':');
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// `sha256:<hex>` of some bytes.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    hex_digest("sha256", &Sha256::digest(bytes))
}

/// The digest of `bytes` in the algorithm `digest` names (`sha256`, `sha512`), to check
/// content against it; `None` for an algorithm the image-spec does not register.
pub(crate) fn digest_like(digest: &str, bytes: &[u8]) -> Option<String> {
    match digest.split_once(':')?.0 {
        "sha256" => Some(sha256_digest(bytes)),
        "sha512" => Some(hex_digest("sha512", &sha2::Sha512::digest(bytes))),
        _ => None,
    }
}

/// Standard base64 with padding (RFC 4648 §4), as a descriptor's `data` holds content.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The platform a descriptor names.
pub(crate) fn descriptor_platform(desc: &Node) -> Option<Platform> {
    let p = desc.get("platform")?;
    Some(Platform {
        os: p.get_str("os")?.to_string(),
        arch: p.get_str("architecture")?.to_string(),
        variant: p.get_str("variant").map(str::to_string),
    })
}

/// Whether a buildx attestation manifest (SBOM, provenance) sits behind this descriptor.
pub(crate) fn is_attestation(desc: &Node) -> bool {
    desc.get("annotations")
        .and_then(|a| a.get_str(REFERENCE_TYPE))
        == Some("attestation-manifest")
}

/// An architecture as containerd and buildx normalise it (`aarch64` is `arm64`, `x86_64`
/// is `amd64`), with the variant an alias implies (`armhf` is `arm` v7).
fn normal_arch(arch: &str) -> (String, Option<&'static str>) {
    let arch = arch.to_ascii_lowercase();
    match arch.as_str() {
        "aarch64" => ("arm64".into(), None),
        "x86_64" | "x86-64" => ("amd64".into(), None),
        "i386" | "i486" | "i586" | "i686" => ("386".into(), None),
        "armhf" => ("arm".into(), Some("v7")),
        "armel" => ("arm".into(), Some("v6")),
        _ => (arch, None),
    }
}

/// A variant as containerd compares it: `8` is `v8`, and no variant is the architecture's
/// default (`arm64` v8, `arm` v7, `amd64` v1).
fn normal_variant(arch: &str, variant: Option<&str>) -> Option<String> {
    let v = variant.map(|v| {
        let v = v.to_ascii_lowercase();
        match v.strip_prefix('v') {
            Some(_) => v,
            None if v.chars().next().is_some_and(|c| c.is_ascii_digit()) => format!("v{v}"),
            None => v,
        }
    });
    let v = match v.as_deref() {
        Some("v8.0") if arch == "arm64" => Some("v8".to_string()),
        _ => v,
    };
    v.or(match arch {
        "arm64" => Some("v8".into()),
        "arm" => Some("v7".into()),
        "amd64" => Some("v1".into()),
        _ => None,
    })
}

/// Whether `wanted` (from `manifest[os/arch/variant]`) selects `actual`. Architectures and
/// variants compare as buildx compares them (`linux/arm64/v8` selects an `arm64` manifest
/// that names no variant, `linux/aarch64` selects `arm64`); a wanted platform without a
/// variant selects every variant.
fn platform_matches(wanted: &Platform, actual: Option<&Platform>) -> bool {
    let Some(actual) = actual else {
        return false;
    };
    let (wanted_arch, wanted_implied) = normal_arch(&wanted.arch);
    let (actual_arch, actual_implied) = normal_arch(&actual.arch);
    if !wanted.os.eq_ignore_ascii_case(&actual.os) || wanted_arch != actual_arch {
        return false;
    }
    let Some(wanted_variant) = wanted.variant.as_deref().or(wanted_implied) else {
        return true;
    };
    normal_variant(&wanted_arch, Some(wanted_variant))
        == normal_variant(&actual_arch, actual.variant.as_deref().or(actual_implied))
}

/// The annotations and the levels each goes to, as the writers apply them.
pub(crate) struct Stamp {
    entries: Vec<(String, String, Levels)>,
}

impl Stamp {
    pub(crate) fn new(annotations: &Valid) -> Self {
        Stamp {
            entries: annotations
                .iter()
                .filter(|(_, e)| !e.value.is_empty())
                .map(|(k, e)| (k.to_string(), e.value.clone(), e.levels.clone()))
                .collect(),
        }
    }

    /// The pairs for `kind` at a place of `platform` (platform-narrowed levels need a match).
    pub(crate) fn pairs(&self, kind: LevelKind, platform: Option<&Platform>) -> Vec<(&str, &str)> {
        self.entries
            .iter()
            .filter(|(_, _, levels)| {
                levels.iter().any(|l| {
                    l.kind == kind
                        && l.platform
                            .as_ref()
                            .is_none_or(|p| platform_matches(p, platform))
                })
            })
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Every pair, whatever its levels (for Kubernetes objects, which have none).
    pub(crate) fn all_pairs(&self) -> Vec<(&str, &str)> {
        self.entries
            .iter()
            .map(|(k, v, _)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// The level kinds asked for by any entry.
    pub(crate) fn kinds(&self) -> Vec<LevelKind> {
        let mut kinds: Vec<LevelKind> = self
            .entries
            .iter()
            .flat_map(|(_, _, l)| l.iter().map(|l| l.kind))
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// Whether `kind` with a platform narrowing is asked for (then platforms must be known).
    pub(crate) fn narrows(&self, kind: LevelKind) -> bool {
        self.entries
            .iter()
            .any(|(_, _, l)| l.iter().any(|l| l.kind == kind && l.platform.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_edit::parse;

    #[test]
    fn kinds_from_media_type_descriptor_and_shape() {
        let k = |s: &str, d: Option<&str>| doc_kind(&parse(s).unwrap(), d);
        assert_eq!(
            k(
                r#"{"mediaType":"application/vnd.oci.image.index.v1+json"}"#,
                None
            ),
            DocKind::Index
        );
        assert_eq!(k(r#"{"manifests":[]}"#, None), DocKind::Index);
        assert_eq!(
            k(r#"{"layers":[]}"#, Some(DOCKER_MANIFEST)),
            DocKind::DockerManifest
        );
        assert_eq!(
            k(r#"{"schemaVersion":1,"fsLayers":[]}"#, None),
            DocKind::DockerSchema1
        );
        assert_eq!(k(r#"{"config":{},"layers":[]}"#, None), DocKind::Manifest);
    }

    #[test]
    fn platforms_match_as_buildx_normalises_them() {
        let p = |os: &str, arch: &str, variant: Option<&str>| Platform {
            os: os.into(),
            arch: arch.into(),
            variant: variant.map(str::to_string),
        };
        let matches = |w: &Platform, a: &Platform| platform_matches(w, Some(a));
        let arm64 = p("linux", "arm64", None);
        let arm64_v8 = p("linux", "arm64", Some("v8"));
        assert!(matches(&arm64_v8, &arm64));
        assert!(matches(&arm64, &arm64_v8));
        assert!(matches(&p("linux", "arm64", Some("8")), &arm64_v8));
        assert!(matches(&p("linux", "aarch64", None), &arm64));
        assert!(!matches(&p("linux", "arm64", Some("v9")), &arm64));
        assert!(matches(
            &p("linux", "x86_64", None),
            &p("linux", "amd64", None)
        ));
        assert!(matches(
            &p("linux", "amd64", Some("v1")),
            &p("linux", "amd64", None)
        ));
        assert!(!matches(
            &p("linux", "amd64", Some("v3")),
            &p("linux", "amd64", None)
        ));
        // arm: no variant is v7; a wanted platform without a variant selects them all.
        let arm_v6 = p("linux", "arm", Some("v6"));
        assert!(matches(&p("linux", "arm", None), &arm_v6));
        assert!(matches(
            &p("linux", "arm", Some("v7")),
            &p("linux", "arm", None)
        ));
        assert!(!matches(&p("linux", "arm", Some("v7")), &arm_v6));
        assert!(matches(
            &p("linux", "armhf", None),
            &p("linux", "arm", Some("v7"))
        ));
        assert!(!matches(&p("linux", "armhf", None), &arm_v6));
        assert!(!matches(
            &p("windows", "amd64", None),
            &p("linux", "amd64", None)
        ));
        assert!(!platform_matches(&arm64, None));
    }

    #[test]
    fn base64_as_rfc_4648() {
        for (raw, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(raw.as_bytes()), encoded);
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn digests_in_the_named_algorithm() {
        assert_eq!(
            digest_like("sha256:x", b"").as_deref(),
            Some(sha256_digest(b"").as_str())
        );
        assert_eq!(
            digest_like("sha512:x", b"abc").as_deref(),
            Some("sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        );
        assert_eq!(digest_like("md5:x", b""), None);
    }

    #[test]
    fn sha256_of_empty() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn stamp_pairs_follow_levels_and_platforms() {
        let mut a = crate::annotations::Annotations::default();
        a.insert("k.all".into(), "1".into(), None);
        a.insert(
            "k.arm".into(),
            "2".into(),
            Some("manifest[linux/arm64]".parse().unwrap()),
        );
        a.insert(
            "k.idx".into(),
            "3".into(),
            Some("index,manifest-descriptor".parse().unwrap()),
        );
        let s = Stamp::new(&Valid::from_draft(&a, &Levels::manifest()));
        let arm = Platform {
            os: "linux".into(),
            arch: "arm64".into(),
            variant: Some("v8".into()),
        };
        let amd = Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        };
        assert_eq!(
            s.pairs(LevelKind::Manifest, Some(&arm)),
            [("k.all", "1"), ("k.arm", "2")]
        );
        assert_eq!(s.pairs(LevelKind::Manifest, Some(&amd)), [("k.all", "1")]);
        assert_eq!(s.pairs(LevelKind::Index, None), [("k.idx", "3")]);
        assert_eq!(
            s.kinds(),
            [
                LevelKind::Manifest,
                LevelKind::Index,
                LevelKind::ManifestDescriptor
            ]
        );
    }
}
