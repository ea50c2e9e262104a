//! OCI image layouts: stamp the manifests, indexes and descriptors an `index.json` reaches,
//! write each changed blob under its new digest, update every descriptor that pointed at it
//! up to `index.json`, and write `index.json` last.
//!
//! The work is planned completely before anything is written: a refusal anywhere (a Docker
//! media type, a corrupt blob, a level the image does not have) writes nothing. The layout is
//! locked (`flock` on its directory) for the whole read–modify–write, so concurrent runs
//! apply one after the other instead of losing each other's change.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use super::oci::{self, DocKind, Stamp};
use super::{Change, Outcome};
use crate::annotations::levels::{LevelKind, Platform};
use crate::annotations::reference::check_digest;
use crate::annotations::Diagnostic;
use crate::error::Error;
use crate::json_edit::{self, Edit, Node};

/// Where the documents of an image come from: a layout's blob files, or a registry. The
/// planning walk is the same for both, so levels, attestations, Docker refusals and the
/// "level not found" errors behave alike wherever the image is.
pub(crate) trait Source {
    /// The name of the target in messages (`./layout`, `docker://host/repo:tag`).
    fn name(&self) -> &Path;
    /// The manifest or index `digest` (bytes verified against it); `media_type` is the
    /// descriptor's, when it names one.
    fn manifest(&self, digest: &str, media_type: Option<&str>) -> Result<Vec<u8>, Error>;
    /// The blob `digest` (an image config), verified against it.
    fn blob(&self, digest: &str) -> Result<Vec<u8>, Error>;
    /// Where the document `digest` sits, for messages about its content.
    fn location(&self, digest: &str) -> PathBuf;
}

/// A new manifest or index the plan made: where it goes and what it is.
pub(crate) struct NewDocument {
    pub(crate) digest: String,
    /// What a registry is told it is (a layout does not record it).
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    pub(crate) media_type: &'static str,
    pub(crate) bytes: Vec<u8>,
}

/// The image being stamped, and everything the plan has decided so far.
pub(crate) struct Plan<'a, S: Source> {
    pub(crate) source: &'a S,
    pub(crate) stamp: &'a Stamp,
    /// New documents, each after the documents it names (children before their index).
    pub(crate) documents: Vec<NewDocument>,
    pub(crate) changes: Vec<Change>,
    pub(crate) refusals: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Level kinds that found a place to go (whether or not anything changed there).
    pub(crate) matched: BTreeSet<LevelKind>,
    /// Digests already planned: old → new (or None when unchanged).
    done: BTreeMap<String, Option<(String, u64)>>,
    skipped_artifacts: usize,
    /// Documents with a `subject` (signatures, SBOMs) met so far: digest → subject digest.
    subjects: BTreeMap<String, String>,
    /// The size the descriptor about to be visited declares, when its document is known.
    expected_size: Option<u64>,
}

/// The blob files of an OCI image layout.
pub(crate) struct LayoutSource<'a> {
    dir: &'a Path,
}

impl<'a> LayoutSource<'a> {
    pub(crate) fn new(dir: &'a Path) -> Self {
        LayoutSource { dir }
    }
}

impl Source for LayoutSource<'_> {
    fn name(&self) -> &Path {
        self.dir
    }

    fn manifest(&self, digest: &str, _media_type: Option<&str>) -> Result<Vec<u8>, Error> {
        self.blob(digest)
    }

    fn location(&self, digest: &str) -> PathBuf {
        blob_path(self.dir, digest).unwrap_or_default()
    }

    fn blob(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let path = blob_path(self.dir, digest).map_err(|m| bad(self.dir, m))?;
        // Only manifests, indexes and configs are read through here: a descriptor that names
        // a layer (or anything past the registries' 4 MiB), or a blob that is a device or a
        // FIFO, is refused before it is read into memory.
        let bytes = read_regular(
            &path,
            super::manifest::MAX_DOCUMENT as u64,
            "manifest or index (registries take at most 4 MiB)",
        )?;
        if let Some(actual) = oci::digest_like(digest, &bytes).filter(|a| a != digest) {
            return Err(bad(
                &path,
                format!(
                    "content does not match its digest (it hashes to {actual}); not rewriting it"
                ),
            ));
        }
        Ok(bytes)
    }
}

/// The largest `index.json` read (it lists a layout's images; no layout comes near it).
const MAX_INDEX_JSON: u64 = 64 * 1024 * 1024;

/// Reads a file of a layout (a blob, `index.json`, `oci-layout`) that must be a regular file
/// of at most `limit` bytes. The file is opened without blocking (a FIFO opens at once and
/// is refused), its type and size are those of the open file (a link to `/dev/zero` is a
/// character device), and no more than `limit` bytes are read whatever its size says.
pub(crate) fn read_regular(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>, Error> {
    use std::io::Read as _;
    #[cfg(unix)]
    let file = {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        File::from(
            rustix::fs::open(path, flags, Mode::empty())
                .map_err(|e| Error::io(path, std::io::Error::from(e)))?,
        )
    };
    #[cfg(not(unix))]
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(bad(
            path,
            format!(
                "is {}, not a regular file; only regular files are read as {what}",
                file_kind(&meta.file_type())
            ),
        ));
    }
    let too_big = |size: u64| {
        bad(
            path,
            format!("{size} bytes is no {what}: at most {limit} bytes are read"),
        )
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// What a file that is not a regular file is, in words.
pub(crate) fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else {
        "a special file"
    }
}

/// Checks what makes a directory a layout before anything of it is read or written:
/// `oci-layout` is a JSON object whose `imageLayoutVersion` is one this reads (`1.0.0`,
/// `1.0.x`), and `index.json` is a regular file, not a symbolic link (a run would write a
/// new `index.json` in its place and leave the one it pointed to as it was).
pub(crate) fn check_layout(dir: &Path) -> Result<(), Error> {
    let marker = dir.join("oci-layout");
    let bytes = read_regular(&marker, 64 * 1024, "an `oci-layout` file")?;
    let version = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| json_edit::parse(t).ok())
        .filter(|n| matches!(n.kind, json_edit::Kind::Object(_)))
        .ok_or_else(|| {
            bad(
                &marker,
                "is not a JSON object (`{\"imageLayoutVersion\": \"1.0.0\"}`)",
            )
        })?
        .get_str("imageLayoutVersion")
        .map(str::to_string);
    match version.as_deref() {
        Some(v)
            if v.strip_prefix("1.0.")
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())) => {}
        Some(v) => {
            return Err(bad(
                &marker,
                format!(
                    "imageLayoutVersion `{}` is not one this reads (1.0.0)",
                    v.escape_debug()
                ),
            ))
        }
        None => return Err(bad(&marker, "has no string `imageLayoutVersion`")),
    }
    let index = dir.join("index.json");
    if std::fs::symlink_metadata(&index).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(bad(
            &index,
            "is a symbolic link; a run would replace the link, not the file it points to — copy the file into the layout",
        ));
    }
    Ok(())
}

/// `index.json` of a layout, read as [`read_regular`] reads.
fn read_index(path: &Path) -> Result<String, Error> {
    let bytes = read_regular(path, MAX_INDEX_JSON, "an index.json")?;
    String::from_utf8(bytes).map_err(|_| bad(path, "not UTF-8 JSON"))
}

/// The `size` a descriptor declares: a non-negative integer (not a string, a float or a
/// negative number), which `text` (the document holding it) spells.
pub(crate) fn declared_size(text: &str, desc: &Node) -> Result<u64, String> {
    let Some(size) = desc.get("size") else {
        return Err("has no `size`".into());
    };
    let spelled = text.get(size.span.clone()).unwrap_or("");
    match size.kind {
        json_edit::Kind::Number if spelled.bytes().all(|b| b.is_ascii_digit()) => spelled
            .parse()
            .map_err(|_| format!("size `{spelled}` is out of range")),
        json_edit::Kind::Number => Err(format!(
            "size `{}` is not a non-negative integer",
            spelled.escape_debug()
        )),
        _ => Err(format!(
            "size `{}` is not a number",
            spelled.chars().take(40).collect::<String>().escape_debug()
        )),
    }
}

pub(crate) fn bad(path: &Path, message: impl Into<String>) -> Error {
    Error::BadInput {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// The file of a blob, from a digest that passed the digest grammar (so no `..`, no `/`).
pub(crate) fn blob_path(dir: &Path, digest: &str) -> Result<PathBuf, String> {
    check_digest(digest)
        .map_err(|e| format!("descriptor digest `{}`: {e}", digest.escape_debug()))?;
    let (alg, hex) = digest.split_once(':').unwrap_or_default();
    Ok(dir.join("blobs").join(alg).join(hex))
}

/// Why a document reached as a manifest or index is not one: not a JSON object (`null`,
/// `[]`, a string, a number), or an object without `schemaVersion: 2` (`{}`), which both
/// require; `None` when it is one (or a Docker document, refused where it is met).
pub(crate) fn not_a_document(root: &Node, kind: DocKind) -> Option<String> {
    let what = match &root.kind {
        json_edit::Kind::Object(_) => None,
        json_edit::Kind::Array(_) => Some("an array"),
        json_edit::Kind::String(_) => Some("a string"),
        json_edit::Kind::Number => Some("a number"),
        json_edit::Kind::Bool(_) => Some("a boolean"),
        json_edit::Kind::Null => Some("null"),
    };
    if let Some(what) = what {
        return Some(format!("is JSON {what}, not a manifest or index"));
    }
    if kind.is_docker() || kind == DocKind::DockerSchema1 {
        return None;
    }
    let version_two = root
        .get("schemaVersion")
        .is_some_and(|v| v.kind == json_edit::Kind::Number);
    (!version_two || kind == DocKind::Other).then(|| {
        "is a JSON object without `schemaVersion` 2 and a `config` or `manifests`: not a manifest or index".to_string()
    })
}

/// Parses a document's bytes as JSON text.
fn parse_document(
    source: &impl Source,
    digest: &str,
    bytes: Vec<u8>,
) -> Result<(String, Node), Error> {
    let text =
        String::from_utf8(bytes).map_err(|_| bad(&source.location(digest), "not UTF-8 JSON"))?;
    let root = json_edit::parse(&text).map_err(|e| bad(&source.location(digest), e.to_string()))?;
    Ok((text, root))
}

impl<'a, S: Source> Plan<'a, S> {
    pub(crate) fn new(source: &'a S, stamp: &'a Stamp) -> Self {
        Plan {
            source,
            stamp,
            documents: Vec::new(),
            changes: Vec::new(),
            refusals: Vec::new(),
            warnings: Vec::new(),
            matched: BTreeSet::new(),
            done: BTreeMap::new(),
            skipped_artifacts: 0,
            subjects: BTreeMap::new(),
            expected_size: None,
        }
    }

    fn parse_manifest(
        &self,
        digest: &str,
        media_type: Option<&str>,
    ) -> Result<(String, Node), Error> {
        let bytes = self.source.manifest(digest, media_type)?;
        parse_document(self.source, digest, bytes)
    }

    /// The platform of a manifest: from its descriptor, else from its config blob.
    fn platform_of(&self, desc_platform: Option<Platform>, root: &Node) -> Option<Platform> {
        desc_platform.or_else(|| {
            let digest = root.get("config")?.get_str("digest")?;
            let bytes = self.source.blob(digest).ok()?;
            let (_, config) = parse_document(self.source, digest, bytes).ok()?;
            Some(Platform {
                os: config.get_str("os")?.to_string(),
                arch: config.get_str("architecture")?.to_string(),
                variant: config.get_str("variant").map(str::to_string),
            })
        })
    }

    fn refuse_docker(&mut self, kind: DocKind, digest: &str, level: &str) {
        self.refusals.push(
            Diagnostic::error(
                "docker-media-type",
                "",
                format!(
                    "{}: {} {digest} cannot carry annotations at `{level}`: the Docker schema has no annotations field, and registries may drop them",
                    self.source.name().display(),
                    kind.name()
                ),
            )
            .hint("convert the image to OCI first (`skopeo copy --format oci …`)"),
        );
    }

    /// Plans the stamping of the document behind one descriptor; returns its new digest and
    /// size when it changes.
    pub(crate) fn visit(
        &mut self,
        desc: &Node,
        depth: usize,
    ) -> Result<Option<(String, u64)>, Error> {
        let Some(digest) = desc.get_str("digest") else {
            return Err(bad(self.source.name(), "a descriptor has no digest"));
        };
        if let Some(done) = self.done.get(digest) {
            return Ok(done.clone());
        }
        if depth > 16 {
            return Err(bad(
                self.source.name(),
                format!("indexes nested deeper than 16 levels at {digest}"),
            ));
        }
        let expected = self.expected_size.take();
        let (text, root) = self.parse_manifest(digest, desc.get_str("mediaType"))?;
        let location = self.source.location(digest);
        if let Some(size) = expected.filter(|&size| size != text.len() as u64) {
            return Err(bad(
                &location,
                format!(
                    "is {} bytes, but its descriptor says {size}; not rewriting it",
                    text.len()
                ),
            ));
        }
        let kind = oci::doc_kind(&root, desc.get_str("mediaType"));
        if let Some(why) = not_a_document(&root, kind) {
            return Err(bad(&location, why));
        }
        let platform = oci::descriptor_platform(desc);
        let mut edits: Vec<Edit> = Vec::new();
        let mut shown_platform = platform.as_ref().map(ToString::to_string);
        match kind {
            DocKind::Index => {
                if root.get("subject").is_some() {
                    self.note_subject(digest, &root);
                    self.skipped_artifacts += 1;
                    self.done.insert(digest.to_string(), None);
                    return Ok(None);
                }
                let mut changed: Vec<(String, String)> = Vec::new();
                for child in root.get("manifests").map(Node::items).unwrap_or_default() {
                    if oci::is_attestation(child)
                        || !oci::is_manifest_media_type(child.get_str("mediaType"))
                    {
                        continue;
                    }
                    let old = child.get_str("digest").unwrap_or_default().to_string();
                    let declared = declared_size(&text, child)
                        .map_err(|why| bad(&location, format!("the descriptor of {old} {why}")))?;
                    self.expected_size = Some(declared);
                    if let Some((new, size)) = self.visit(child, depth + 1)? {
                        edits.extend(self.repoint(&text, child, &new, size));
                        changed.push((old, new));
                    }
                    let child_is_index = child.get_str("mediaType") == Some(oci::OCI_INDEX);
                    if !child_is_index {
                        let pairs = self.stamp.pairs(
                            LevelKind::ManifestDescriptor,
                            oci::descriptor_platform(child).as_ref(),
                        );
                        if !pairs.is_empty() {
                            self.matched.insert(LevelKind::ManifestDescriptor);
                            edits.extend(json_edit::set_annotations(&text, &root, child, &pairs));
                        }
                    }
                }
                // Keep buildx attestations pointing at the platform manifest they describe.
                for child in root.get("manifests").map(Node::items).unwrap_or_default() {
                    let Some(ann) = child.get("annotations") else {
                        continue;
                    };
                    if let Some(points_at) = ann.get_str(oci::REFERENCE_DIGEST) {
                        if let Some((_, new)) = changed.iter().find(|(old, _)| old == points_at) {
                            edits.extend(json_edit::set_string(ann, oci::REFERENCE_DIGEST, new));
                        }
                    }
                }
                let pairs = self.stamp.pairs(LevelKind::Index, platform.as_ref());
                if !pairs.is_empty() {
                    self.matched.insert(LevelKind::Index);
                    edits.extend(json_edit::set_annotations(&text, &root, &root, &pairs));
                }
            }
            DocKind::Manifest => {
                if oci::is_artifact(&root) {
                    self.note_subject(digest, &root);
                    self.skipped_artifacts += 1;
                    self.done.insert(digest.to_string(), None);
                    return Ok(None);
                }
                let platform = if self.stamp.narrows(LevelKind::Manifest) {
                    self.platform_of(platform, &root)
                } else {
                    platform
                };
                let pairs = self.stamp.pairs(LevelKind::Manifest, platform.as_ref());
                if !pairs.is_empty() {
                    self.matched.insert(LevelKind::Manifest);
                    edits.extend(json_edit::set_annotations(&text, &root, &root, &pairs));
                }
                shown_platform = platform.as_ref().map(ToString::to_string);
            }
            DocKind::DockerManifest | DocKind::DockerSchema1 => {
                if !self
                    .stamp
                    .pairs(LevelKind::Manifest, platform.as_ref())
                    .is_empty()
                {
                    self.matched.insert(LevelKind::Manifest);
                    self.refuse_docker(kind, digest, "manifest");
                }
            }
            DocKind::DockerList => {
                // A level narrowed to a platform matches when one of the list's entries is
                // of that platform: the refusal is then the schema's, not a missing level.
                let platforms: Vec<Option<Platform>> = std::iter::once(None)
                    .chain(
                        root.get("manifests")
                            .map(Node::items)
                            .unwrap_or_default()
                            .iter()
                            .map(oci::descriptor_platform),
                    )
                    .collect();
                for level in [
                    LevelKind::Index,
                    LevelKind::ManifestDescriptor,
                    LevelKind::Manifest,
                ] {
                    let narrowed = level != LevelKind::Index;
                    let wanted = platforms
                        .iter()
                        .filter(|p| narrowed || p.is_none())
                        .any(|p| !self.stamp.pairs(level, p.as_ref()).is_empty());
                    if wanted {
                        self.matched.insert(level);
                        self.refuse_docker(kind, digest, level.as_str());
                        break;
                    }
                }
            }
            DocKind::Other => {}
        }
        if edits.is_empty() {
            self.done.insert(digest.to_string(), None);
            return Ok(None);
        }
        let new_text = json_edit::apply(&text, edits);
        if new_text.len() > super::manifest::MAX_DOCUMENT {
            // What is written obeys the limit a reader (this one, a registry) obeys.
            self.refusals.push(
                Diagnostic::error(
                    "document-size",
                    "",
                    format!(
                        "{}: {} {digest} would be {} bytes with the annotations, over the 4 MiB registries (and oci-stamp) read",
                        self.source.name().display(),
                        kind.name(),
                        new_text.len()
                    ),
                )
                .hint("shorten or drop large values"),
            );
            self.done.insert(digest.to_string(), None);
            return Ok(None);
        }
        let new_digest = oci::sha256_digest(new_text.as_bytes());
        let size = new_text.len() as u64;
        self.changes.push(Change {
            kind: if kind == DocKind::Index {
                "index"
            } else {
                "manifest"
            },
            platform: shown_platform,
            object: None,
            old: digest.to_string(),
            new: new_digest.clone(),
        });
        let media_type = match root.get_str("mediaType") {
            Some(oci::OCI_INDEX) => oci::OCI_INDEX,
            Some(oci::OCI_MANIFEST) => oci::OCI_MANIFEST,
            _ if kind == DocKind::Index => oci::OCI_INDEX,
            _ => oci::OCI_MANIFEST,
        };
        self.documents.push(NewDocument {
            digest: new_digest.clone(),
            media_type,
            bytes: new_text.into_bytes(),
        });
        let result = Some((new_digest, size));
        self.done.insert(digest.to_string(), result.clone());
        Ok(result)
    }
}

impl<S: Source> Plan<'_, S> {
    /// Records the `subject` of the document `digest`, if it has one.
    pub(crate) fn note_subject(&mut self, digest: &str, root: &Node) {
        if let Some(subject) = root.get("subject").and_then(|s| s.get_str("digest")) {
            self.subjects
                .insert(digest.to_string(), subject.to_string());
        }
    }

    /// A warning for each document met whose `subject` is a manifest this plan rewrites:
    /// it refers to the old digest (inside an index as much as in index.json).
    pub(crate) fn stale_subjects(&self) -> Vec<Diagnostic> {
        let old: BTreeSet<&str> = self.changes.iter().map(|c| c.old.as_str()).collect();
        self.subjects
            .iter()
            .filter(|(_, subject)| old.contains(subject.as_str()))
            .map(|(d, subject)| {
                Diagnostic::warning(
                    "subject-stale",
                    "",
                    format!(
                        "{}: {d} (a signature or attestation) refers to {subject}, whose digest changed",
                        self.source.name().display()
                    ),
                )
                .hint("sign or attest the new digest again")
            })
            .collect()
    }

    /// Edits that make the descriptor `desc` (in `text`) name the new document `digest`:
    /// its digest and size, and its `data` when the descriptor embeds the content (the
    /// image-spec requires `data` to match the digest, so a stale copy would make the
    /// descriptor invalid).
    pub(crate) fn repoint(&self, text: &str, desc: &Node, digest: &str, size: u64) -> Vec<Edit> {
        let mut edits: Vec<Edit> = Vec::new();
        edits.extend(json_edit::set_string(desc, "digest", digest));
        edits.extend(json_edit::set_number(text, desc, "size", size));
        if let Some(data) = desc.get("data") {
            if let Some(doc) = self.documents.iter().find(|d| d.digest == digest) {
                edits.push(Edit {
                    span: data.span.clone(),
                    text: json_edit::quote(&oci::base64(&doc.bytes)),
                });
            }
        }
        edits
    }

    /// Refuses every level kind asked for that found no place to go. `index_descriptor`
    /// says why that level is missing (it exists only in a layout's `index.json`).
    pub(crate) fn refuse_missing_levels(&mut self, index_descriptor: &str) {
        for kind in self.stamp.kinds() {
            if !self.matched.contains(&kind) {
                let why = match kind {
                    LevelKind::Index => "it has no image index (a single-platform image?)",
                    LevelKind::ManifestDescriptor => {
                        "it has no index holding manifest descriptors (a single-platform image?)"
                    }
                    LevelKind::Manifest => {
                        "no image manifest matched (only artifacts, or no manifest of that platform)"
                    }
                    LevelKind::IndexDescriptor => index_descriptor,
                };
                self.refusals.push(
                    Diagnostic::error(
                        "level-not-found",
                        "",
                        format!(
                            "{}: nothing at level `{}`: {why}",
                            self.source.name().display(),
                            kind.as_str()
                        ),
                    )
                    .hint("choose levels the image has with --level, or -a LEVELS:KEY=VALUE"),
                );
            }
        }
    }

    /// The outcome so far (nothing written yet), with the warning about artifacts left alone.
    pub(crate) fn outcome(&mut self) -> Outcome {
        let name = self.source.name().display().to_string();
        let mut warnings = std::mem::take(&mut self.warnings);
        if self.skipped_artifacts > 0 {
            warnings.push(Diagnostic::warning(
                "artifacts-skipped",
                "",
                format!("{name}: left {} artifact manifest(s) (signatures, SBOMs, non-image configs) as they are", self.skipped_artifacts),
            ));
        }
        Outcome {
            target: name,
            changes: std::mem::take(&mut self.changes),
            warnings,
            refusals: Vec::new(),
            written: false,
            removed: Vec::new(),
            tagged: None,
        }
    }
}

/// Whether the blob `digest` is already at `path`: a file whose content hashes to it. A
/// file with other content (a truncated copy, say) is to be replaced; a directory or
/// another kind of file where the blob should be is an error, never a blob to refer to.
fn blob_present(path: &Path, digest: &str) -> Result<bool, Error> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if m.is_file() => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            Ok(oci::sha256_digest(&bytes) == digest)
        }
        Ok(_) => Err(bad(
            path,
            "is not a file, but the new blob must be written there; move it away",
        )),
    }
}

/// Opens the layout directory and takes its lock (shared for a dry run).
pub(crate) fn lock(dir: &Path, exclusive: bool) -> Result<File, Error> {
    let f = File::open(dir).map_err(|e| Error::io(dir, e))?;
    let locked = if exclusive { f.lock() } else { f.lock_shared() };
    locked.map_err(|e| Error::io(dir, e))?;
    Ok(f)
}

/// Stamps the layout at `dir` (entries whose `ref.name` is `reference`, or all).
pub(crate) fn annotate(
    dir: &Path,
    reference: Option<&str>,
    stamp: &Stamp,
    dry_run: bool,
    gc: bool,
) -> Result<Outcome, Error> {
    let _lock = lock(dir, !dry_run)?;
    if !dry_run {
        // Under the exclusive lock no other run is writing here: temporary files are what a
        // killed run left behind.
        crate::atomic::remove_stale(dir);
        let blobs = dir.join("blobs").join("sha256");
        // Not through a link to a directory elsewhere: nothing of this layout is there.
        if linked_dir(dir, &blobs).is_none() {
            crate::atomic::remove_stale(&blobs);
        }
    }
    check_layout(dir)?;
    let index_path = dir.join("index.json");
    let index_text = read_index(&index_path)?;
    let index = json_edit::parse(&index_text).map_err(|e| bad(&index_path, e.to_string()))?;
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
    if selected.is_empty() {
        let names: Vec<String> = entries.iter().filter_map(ref_name).collect();
        return Err(match reference {
            Some(r) => bad(
                &index_path,
                format!(
                    "no entry has ref.name `{r}`{}",
                    if names.is_empty() {
                        " (no entry has a ref.name)".to_string()
                    } else {
                        format!("; there are: {}", names.join(", "))
                    }
                ),
            ),
            None => bad(
                &index_path,
                "the layout holds no images (index.json lists no manifests)",
            ),
        });
    }
    let source = LayoutSource { dir };
    let mut plan = Plan::new(&source, stamp);
    let mut edits = Vec::new();
    // Whether an index.json descriptor's own annotations change (not only its digest).
    let mut descriptors_stamped = false;
    for entry in &selected {
        if oci::is_manifest_media_type(entry.get_str("mediaType")) {
            let digest = entry.get_str("digest").unwrap_or("?");
            let declared = declared_size(&index_text, entry)
                .map_err(|why| bad(&index_path, format!("the descriptor of {digest} {why}")))?;
            plan.expected_size = Some(declared);
            if let Some((new, size)) = plan.visit(entry, 0)? {
                edits.extend(plan.repoint(&index_text, entry, &new, size));
            }
        }
        let pairs = stamp.pairs(
            LevelKind::IndexDescriptor,
            oci::descriptor_platform(entry).as_ref(),
        );
        if !pairs.is_empty() {
            plan.matched.insert(LevelKind::IndexDescriptor);
            let stamped = json_edit::set_annotations(&index_text, &index, entry, &pairs);
            descriptors_stamped |= !stamped.is_empty();
            edits.extend(stamped);
        }
    }
    plan.refuse_missing_levels("no index.json entry matched");
    if !plan.refusals.is_empty() {
        return Ok(Outcome::refused(dir, plan.refusals));
    }
    // Referrers (signatures, SBOMs) of a rewritten manifest now point at its old digest.
    let old: BTreeSet<String> = plan.changes.iter().map(|c| c.old.clone()).collect();
    let mut warnings = Vec::new();
    for entry in entries {
        let name = ref_name(entry);
        if let Some(n) = name.as_deref().and_then(|n| n.strip_prefix("sha256-")) {
            if old.contains(&format!("sha256:{n}")) {
                warnings.push(Diagnostic::warning(
                    "referrers-stale",
                    "",
                    format!(
                        "{}: referrers tag `{}` lists referrers of a manifest whose digest changed",
                        dir.display(),
                        name.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
        let Some(d) = entry.get_str("digest") else {
            continue;
        };
        if old.is_empty() {
            continue; // nothing rewritten: no subject can be stale
        }
        if let Ok((_, doc)) = plan.parse_manifest(d, None) {
            plan.note_subject(d, &doc);
        }
    }
    warnings.extend(plan.stale_subjects());
    plan.warnings.extend(warnings);
    let index_changed = !edits.is_empty();
    let new_index = json_edit::apply(&index_text, edits);
    if descriptors_stamped {
        // Said as such: no document changed when only index.json descriptors were stamped.
        plan.changes.push(Change {
            kind: "index.json",
            platform: None,
            object: None,
            old: oci::sha256_digest(index_text.as_bytes()),
            new: oci::sha256_digest(new_index.as_bytes()),
        });
    }
    let mut outcome = plan.outcome();
    // Everything a run writes and removes is decided before the first write, the same way
    // for a dry run: a blob that would go through a link to a directory elsewhere, or an
    // unreadable document `--gc` would have to guess about, refuses the run, dry or not,
    // with nothing written and nothing removed.
    let mut new_blobs = Vec::new();
    if index_changed {
        for doc in &plan.documents {
            let path = blob_path(dir, &doc.digest).map_err(|m| bad(dir, m))?;
            if !blob_present(&path, &doc.digest)? {
                refuse_linked_dirs(dir, &path)?;
                new_blobs.push((path, doc.bytes.as_slice()));
            }
        }
    }
    // What `index.json` as written no longer reaches (the new documents read from memory,
    // since they are not on disk yet).
    let garbage = if gc {
        collect_garbage(dir, &new_index, &plan.documents)?
    } else {
        Vec::new()
    };
    if dry_run {
        outcome.removed = garbage;
        return Ok(outcome);
    }
    if index_changed {
        crate::atomic::write_all(new_blobs.iter().map(|(p, b)| (p.as_path(), *b)))?;
        crate::atomic::write(&index_path, new_index.as_bytes())?;
        outcome.written = true;
    }
    // Also when nothing changed: the blobs an earlier run (or another tool) left behind.
    for digest in &garbage {
        let path = blob_path(dir, digest).map_err(|m| bad(dir, m))?;
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io(&path, e));
            }
            _ => {}
        }
    }
    outcome.removed = garbage;
    Ok(outcome)
}

/// The first directory below the layout `dir`, down to `to` itself (`blobs`, then
/// `blobs/sha256`), that is a symbolic link. The layout directory itself is what the user
/// named, and may be a link.
fn linked_dir(dir: &Path, to: &Path) -> Option<PathBuf> {
    let rel = to.strip_prefix(dir).ok()?;
    let mut at = dir.to_path_buf();
    for part in rel.components() {
        at.push(part);
        let linked = std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink());
        if linked {
            return Some(at);
        }
    }
    None
}

/// A directory of the layout that is a symbolic link, where a blob must be written or
/// removed: the link may lead anywhere (a shared cache, another layout), and nothing there
/// is this layout's to change.
fn linked_dir_error(link: &Path) -> Error {
    let to = std::fs::read_link(link).map_or_else(|_| "?".into(), |l| l.display().to_string());
    bad(
        link,
        format!(
            "is a symbolic link (to {to}); oci-stamp writes and removes blobs only in the layout's own directories, never through a link to another one — replace the link with a copy of the directory it points to, or annotate a copy of the layout"
        ),
    )
}

/// Refuses to write or remove `file` of the layout `dir` when a directory between them is
/// a symbolic link.
fn refuse_linked_dirs(dir: &Path, file: &Path) -> Result<(), Error> {
    match file.parent().and_then(|parent| linked_dir(dir, parent)) {
        Some(link) => Err(linked_dir_error(&link)),
        None => Ok(()),
    }
}

/// The largest document `--gc` reads to find what it refers to when its descriptor does
/// not say it is a manifest or index (registries take no larger manifest).
const MAX_WALKED: u64 = 4 * 1024 * 1024;

/// The text of a blob that may be a manifest or index, for the reachability walk; `None`
/// for layers, configs too large to be one, and anything not a JSON object. Layers are
/// recognised without reading them: by their size, and by a first byte that is not `{`
/// (tar, gzip and zstd never start with one), so the walk costs what the manifests weigh,
/// not what the image does. A blob that must be a manifest or index (`document`) and cannot
/// be read as JSON text is an error saying why: the walk cannot tell what it refers to.
fn walkable_text(
    path: &Path,
    media_type: Option<&str>,
    planned: Option<&[u8]>,
    document: bool,
) -> Result<Option<String>, String> {
    use std::io::Read as _;
    let unreadable = |why: String| if document { Err(why) } else { Ok(None) };
    if let Some(bytes) = planned {
        return Ok(String::from_utf8(bytes.to_vec()).ok());
    }
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return unreadable("is missing".into())
        }
        Err(e) => return unreadable(format!("cannot be read ({e})")),
    };
    if !meta.is_file() {
        return unreadable("is not a file".into());
    }
    if meta.len() > MAX_WALKED && !oci::is_manifest_media_type(media_type) {
        return Ok(None);
    }
    let mut head = [0u8; 512];
    let mut bytes = Vec::new();
    let read = File::open(path).and_then(|mut file| {
        let n = file.read(&mut head)?;
        bytes.extend_from_slice(&head[..n]);
        Ok(file)
    });
    let mut file = match read {
        Ok(file) => file,
        Err(e) => return unreadable(format!("cannot be read ({e})")),
    };
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    match first {
        Some(b'{') => {}
        None => return unreadable("is empty".into()),
        Some(_) if bytes.starts_with(b"\xef\xbb\xbf") => {
            return unreadable("starts with a byte-order mark, which JSON does not allow".into())
        }
        Some(_) => return unreadable("is not a JSON object".into()),
    }
    if let Err(e) = file.read_to_end(&mut bytes) {
        return unreadable(format!("cannot be read ({e})"));
    }
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Some(text)),
        Err(_) => unreadable("is not UTF-8".into()),
    }
}

/// The blobs `index.json` (the text `index_text`) no longer reaches, by digest: what
/// `--gc` removes. `planned` are documents the run writes (read from memory, since they are
/// not on disk yet). Refused, so that nothing is removed: a manifest or index that is
/// reached but cannot be read as JSON (what it refers to is unknown), and a directory of
/// `blobs` that is a symbolic link (what lies there is not this layout's).
fn collect_garbage(
    dir: &Path,
    index_text: &str,
    planned: &[NewDocument],
) -> Result<Vec<String>, Error> {
    let index = json_edit::parse(index_text).map_err(|e| bad(dir, e.to_string()))?;
    let mut reachable: BTreeSet<String> = BTreeSet::new();
    // Digests still to visit, with the media type their descriptor gives, and whether they
    // must be a manifest or index: every entry of a `manifests` list, and what names a
    // manifest or index media type.
    let mut stack: Vec<(String, Option<String>, bool)> = Vec::new();
    let push_desc = |d: &Node, listed: bool, stack: &mut Vec<(String, Option<String>, bool)>| {
        if let Some(digest) = d.get_str("digest") {
            let media_type = d.get_str("mediaType");
            let document =
                oci::is_manifest_media_type(media_type) && (listed || media_type.is_some());
            stack.push((digest.to_string(), media_type.map(str::to_string), document));
        }
    };
    for e in index.get("manifests").map(Node::items).unwrap_or_default() {
        push_desc(e, true, &mut stack);
    }
    while let Some((digest, media_type, document)) = stack.pop() {
        if !reachable.insert(digest.clone()) {
            continue;
        }
        let Ok(path) = blob_path(dir, &digest) else {
            continue;
        };
        let refuse = |why: String| {
            bad(
                &path,
                format!(
                    "{digest}, a manifest or index that index.json still reaches, {why}: --gc cannot tell which blobs it refers to, so it removes none — restore that blob (or remove what refers to it) and run again"
                ),
            )
        };
        let planned = planned
            .iter()
            .find(|d| d.digest == digest)
            .map(|d| d.bytes.as_slice());
        let text =
            walkable_text(&path, media_type.as_deref(), planned, document).map_err(refuse)?;
        let Some(text) = text else {
            continue;
        };
        let doc = match json_edit::parse(&text) {
            Ok(doc) => doc,
            Err(e) if document => return Err(refuse(format!("is not JSON ({e})"))),
            Err(_) => continue,
        };
        for d in doc.get("manifests").map(Node::items).unwrap_or_default() {
            push_desc(d, true, &mut stack);
        }
        for d in doc.get("layers").map(Node::items).unwrap_or_default() {
            push_desc(d, false, &mut stack);
        }
        for d in doc.get("blobs").map(Node::items).unwrap_or_default() {
            push_desc(d, false, &mut stack);
        }
        if let Some(c) = doc.get("config") {
            push_desc(c, false, &mut stack);
        }
    }
    let mut garbage = Vec::new();
    let blobs = dir.join("blobs");
    if let Some(link) = linked_dir(dir, &blobs) {
        return Err(linked_dir_error(&link));
    }
    let Ok(algs) = std::fs::read_dir(&blobs) else {
        return Ok(garbage);
    };
    for alg in algs.filter_map(Result::ok) {
        let alg_dir = alg.path();
        // A link to a directory would be listed, and its files removed, through the link.
        if alg.file_type().is_ok_and(|t| t.is_symlink()) && alg_dir.is_dir() {
            return Err(linked_dir_error(&alg_dir));
        }
        let Ok(files) = std::fs::read_dir(&alg_dir) else {
            continue;
        };
        let alg_name = alg.file_name().to_string_lossy().to_string();
        for f in files.filter_map(Result::ok) {
            let digest = format!("{alg_name}:{}", f.file_name().to_string_lossy());
            if check_digest(&digest).is_ok() && !reachable.contains(&digest) {
                garbage.push(digest);
            }
        }
    }
    Ok(garbage)
}
/// Every annotation map in a layout: index.json's own and its descriptors' (where
/// `ref.name` belongs), and those of every manifest and index blob it reaches.
pub(crate) fn annotation_maps(dir: &Path) -> Result<(Vec<super::Found>, Vec<Diagnostic>), Error> {
    check_layout(dir)?;
    let p = dir.join("index.json");
    let name = p.display().to_string();
    let text = read_index(&p)?;
    let root = json_edit::parse(&text).map_err(|e| Error::BadInput {
        path: name.clone().into(),
        message: e.to_string(),
    })?;
    let (mut out, mut findings) = (Vec::new(), Vec::new());
    super::manifest::walk(
        Some(dir),
        &name,
        &text,
        &root,
        None,
        &mut std::collections::BTreeSet::new(),
        &mut out,
        &mut findings,
    );
    let descriptor = format!("{name} → descriptor");
    for f in out
        .iter_mut()
        .filter(|f| f.location.starts_with(&descriptor))
    {
        f.index_descriptor = true;
    }
    Ok((out, findings))
}
