//! The annotation keys the OCI image spec (v1.1, `annotations.md`) predefines.

pub(crate) const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
pub(crate) const ANNOTATION_AUTHORS: &str = "org.opencontainers.image.authors";
pub(crate) const ANNOTATION_URL: &str = "org.opencontainers.image.url";
pub(crate) const ANNOTATION_DOCUMENTATION: &str = "org.opencontainers.image.documentation";
pub(crate) const ANNOTATION_SOURCE: &str = "org.opencontainers.image.source";
pub(crate) const ANNOTATION_VERSION: &str = "org.opencontainers.image.version";
pub(crate) const ANNOTATION_REVISION: &str = "org.opencontainers.image.revision";
pub(crate) const ANNOTATION_VENDOR: &str = "org.opencontainers.image.vendor";
pub(crate) const ANNOTATION_LICENSES: &str = "org.opencontainers.image.licenses";
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
pub(crate) const ANNOTATION_TITLE: &str = "org.opencontainers.image.title";
pub(crate) const ANNOTATION_DESCRIPTION: &str = "org.opencontainers.image.description";
pub(crate) const ANNOTATION_BASE_IMAGE_DIGEST: &str = "org.opencontainers.image.base.digest";
pub(crate) const ANNOTATION_BASE_IMAGE_NAME: &str = "org.opencontainers.image.base.name";
