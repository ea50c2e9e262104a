//! Images in a registry: `docker://REGISTRY/REPO:TAG` (or `@sha256:…`). The manifest is
//! fetched (OCI and Docker media types), stamped by the same planning walk as a layout,
//! and written back: changed child manifests by digest first, then the top manifest or
//! index under the tag, last, so a failure anywhere leaves the tag where it was. Config and
//! layer blobs are never fetched (except an image config, when a platform has to be read
//! from it) and never uploaded.
//!
//! The distribution calls are [`client`]'s own, over ureq's blocking HTTP and rustls with
//! ring. Manifests are pushed as the exact bytes that were edited, so the digests printed
//! are the digests stored. Credentials come from [`super::auth`]; none ever reaches a
//! message.

#[cfg(feature = "registry")]
mod client;

use std::path::PathBuf;

use serde::Serialize;

use super::oci::Stamp;
use super::Outcome;
use crate::env::Env;
use crate::error::Error;

/// The prefix that makes a TARGET a registry reference.
pub(crate) const SCHEME: &str = "docker://";

/// A registry TARGET: what was given, and the reference it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistryTarget {
    pub(crate) given: String,
    #[cfg(feature = "registry")]
    reference: crate::annotations::reference::ImageReference,
}

impl RegistryTarget {
    /// Parses `docker://[REGISTRY/]REPO[:TAG][@DIGEST]` (Docker Hub and `:latest` as
    /// Docker fills them in).
    #[cfg(feature = "registry")]
    pub(crate) fn parse(arg: &str) -> Result<Self, Error> {
        let rest = arg.strip_prefix(SCHEME).unwrap_or(arg);
        let refused = |e: &dyn std::fmt::Display| {
            Error::Usage(format!(
                "`{}` is not an image reference (REGISTRY/REPOSITORY:TAG or @sha256:…): {e}",
                arg.escape_debug()
            ))
        };
        let reference =
            crate::annotations::reference::ImageReference::parse(rest).map_err(|e| refused(&e))?;
        if let Some(d) = &reference.digest {
            crate::annotations::reference::check_digest(d)
                .map_err(|e| Error::Usage(format!("`{}`: the digest {e}", arg.escape_debug())))?;
        }
        Ok(RegistryTarget {
            given: arg.to_string(),
            reference,
        })
    }

    /// Without the `registry` feature there is no registry client: refused.
    #[cfg(not(feature = "registry"))]
    pub(crate) fn parse(arg: &str) -> Result<Self, Error> {
        Err(Error::Usage(format!(
            "`{}`: this oci-stamp was built without registry support (the `registry` feature)",
            arg.escape_debug()
        )))
    }
}

/// How to reach registries, from the command line.
#[cfg_attr(not(feature = "registry"), allow(dead_code))]
pub(crate) struct Options<'a> {
    /// Write the result under this tag instead of the target's own.
    pub(crate) tag: Option<String>,
    /// Allow plain HTTP (after HTTPS fails) for registries not on loopback.
    pub(crate) insecure: bool,
    /// More CA certificates (PEM) to trust.
    pub(crate) ca_files: Vec<PathBuf>,
    pub(crate) env: &'a Env,
}

/// Whether `tag` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(crate) fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The tag a registry target's result went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Tagged {
    /// `REGISTRY/REPOSITORY:TAG`.
    pub(crate) reference: String,
    pub(crate) digest: String,
}

/// Stamps the image at a registry reference.
pub(crate) fn annotate(
    target: &RegistryTarget,
    stamp: &Stamp,
    opts: &Options,
    dry_run: bool,
) -> Result<Outcome, Error> {
    #[cfg(feature = "registry")]
    return client::annotate(target, &target.reference, stamp, opts, dry_run);
    #[cfg(not(feature = "registry"))]
    {
        let _ = (stamp, opts, dry_run);
        Err(Error::Usage(format!(
            "{}: this oci-stamp was built without registry support",
            target.given
        )))
    }
}

/// The digest of what an image reference (`REGISTRY/REPO:TAG`) names in its registry: the
/// index digest for a multi-platform image. For `--resolve-base`, via the command layer.
pub(crate) fn manifest_digest(reference: &str, opts: &Options) -> Result<String, Error> {
    let target = RegistryTarget::parse(reference)?;
    #[cfg(feature = "registry")]
    return client::manifest_digest(&target, &target.reference, opts);
    #[cfg(not(feature = "registry"))]
    {
        let _ = (target, opts);
        unreachable!("RegistryTarget::parse refuses without the registry feature")
    }
}

/// Reads the annotations of the image at a registry reference (the index and every
/// platform's manifest); writes nothing.
pub(crate) fn read(
    target: &RegistryTarget,
    opts: &Options,
) -> Result<
    (
        Vec<super::inspect::Placed>,
        Vec<crate::annotations::Diagnostic>,
    ),
    Error,
> {
    #[cfg(feature = "registry")]
    return client::read(target, &target.reference, opts);
    #[cfg(not(feature = "registry"))]
    {
        let _ = opts;
        Err(Error::Usage(format!(
            "{}: this oci-stamp was built without registry support",
            target.given
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert!(valid_tag("v1.2.3_rc-1") && valid_tag("_x"));
        assert!(!valid_tag("-x") && !valid_tag("") && !valid_tag("a/b"));
        assert!(!valid_tag(&"a".repeat(129)));
    }

    #[cfg(feature = "registry")]
    #[test]
    fn references() {
        let t = RegistryTarget::parse("docker://127.0.0.1:5000/app/web:1.0").unwrap();
        assert_eq!(t.reference.registry, "127.0.0.1:5000");
        assert_eq!(t.reference.repository, "app/web");
        assert_eq!(t.reference.tag.as_deref(), Some("1.0"));
        let hub = RegistryTarget::parse("docker://alpine").unwrap();
        assert_eq!(hub.reference.registry, "docker.io");
        assert_eq!(hub.reference.repository, "library/alpine");
        let d = format!("docker://localhost/app@sha256:{}", "a".repeat(64));
        assert!(RegistryTarget::parse(&d)
            .unwrap()
            .reference
            .digest
            .is_some());
        let v6 = RegistryTarget::parse("docker://[::1]:5000/x:1").unwrap();
        assert_eq!(v6.reference.registry, "[::1]:5000");
        assert!(RegistryTarget::parse("docker://UPPER/Case:x").is_err());
        assert!(RegistryTarget::parse("docker://[nope]:5000/x:1").is_err());
    }
}
