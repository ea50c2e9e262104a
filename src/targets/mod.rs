//! Targets: what already exists, each kind in one module that both reads the annotations it
//! holds and writes new ones — [`manifest`] (manifest and index JSON, a file or standard
//! input), [`layout`] (OCI image layouts), [`kube`] (Kubernetes YAML), [`registry`] (images
//! in a registry). This module recognises targets by content, dispatches to the kinds, and
//! owns the shared types ([`Target`], [`Found`], [`Outcome`]).
//!
//! Targets never collect and never validate the set they are given; they refuse what a
//! target cannot hold, and write nothing at all when they refuse.

#[cfg(feature = "registry")]
pub(crate) mod auth;
pub(crate) mod helm;
pub(crate) mod inspect;
pub(crate) mod kube;
pub(crate) mod layout;
pub(crate) mod manifest;
pub(crate) mod oci;
pub(crate) mod registry;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::annotations::Diagnostic;
use crate::atomic;
use crate::error::Error;

use oci::Stamp;

/// One rewritten document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Change {
    /// `manifest`, `index` or `file`.
    pub(crate) kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) platform: Option<String>,
    /// `kind/name` of a Kubernetes object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) object: Option<String>,
    pub(crate) old: String,
    pub(crate) new: String,
}

/// What annotating one target did (or, with `--dry-run`, would do).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Outcome {
    pub(crate) target: String,
    pub(crate) changes: Vec<Change>,
    #[serde(skip)]
    pub(crate) warnings: Vec<Diagnostic>,
    #[serde(skip)]
    pub(crate) refusals: Vec<Diagnostic>,
    pub(crate) written: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) removed: Vec<String>,
    /// In a registry: the tag that now names the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tagged: Option<registry::Tagged>,
}

impl Outcome {
    pub(crate) fn refused(target: &Path, refusals: Vec<Diagnostic>) -> Self {
        Outcome {
            target: target.display().to_string(),
            changes: Vec::new(),
            warnings: Vec::new(),
            refusals,
            written: false,
            removed: Vec::new(),
            tagged: None,
        }
    }

    /// A whole file rewritten from `old` to `new` (a manifest file, a chart): the change is
    /// recorded, and the file replaced atomically unless `dry_run` or a refusal stands.
    pub(crate) fn rewrite_file(
        &mut self,
        path: &Path,
        kind: &'static str,
        old: &str,
        new: Option<String>,
        dry_run: bool,
    ) -> Result<(), Error> {
        let Some(new) = new.filter(|_| self.refusals.is_empty()) else {
            return Ok(());
        };
        self.changes.push(Change {
            kind,
            platform: None,
            object: None,
            old: oci::sha256_digest(old.as_bytes()),
            new: oci::sha256_digest(new.as_bytes()),
        });
        if !dry_run {
            atomic::write(path, new.as_bytes())?;
            self.written = true;
        }
        Ok(())
    }
}

/// A TARGET as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An OCI image layout, optionally narrowed to one `ref.name`.
    Layout {
        dir: PathBuf,
        reference: Option<String>,
    },
    /// A manifest or index JSON file.
    File(PathBuf),
    /// A YAML file of Kubernetes objects.
    Yaml(PathBuf),
    /// A Helm chart's `Chart.yaml`.
    Chart(PathBuf),
    /// `-`: standard input to standard output.
    Stdin,
    /// An image in a registry: `docker://REGISTRY/REPO:TAG` or `…@sha256:…`.
    Registry(registry::RegistryTarget),
}

fn is_layout(dir: &Path) -> bool {
    dir.join("oci-layout").is_file()
}

fn is_yaml_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("yaml") || e.eq_ignore_ascii_case("yml"))
}

/// Whether a text goes to the OCI writer rather than the Kubernetes one: it opens with `{`,
/// but not with a template's `{{`, and is not a Kubernetes object written as JSON (`kubectl
/// … -o json`: string `apiVersion` and `kind`, neither `mediaType` nor `schemaVersion`),
/// which is YAML too.
fn is_oci_json(text: &str) -> bool {
    // A byte-order mark is no reason to read JSON as YAML; the JSON reader refuses it.
    let body = text.trim_start_matches('\u{feff}').trim_start();
    if !body.starts_with('{') || body.starts_with("{{") {
        return false;
    }
    // OCI documents have no `apiVersion`: no need to parse them a second time here.
    if !body.contains("\"apiVersion\"") {
        return true;
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => {
            let text_field = |k: &str| m.get(k).is_some_and(serde_json::Value::is_string);
            let kubernetes = text_field("apiVersion")
                && text_field("kind")
                && !m.contains_key("mediaType")
                && !m.contains_key("schemaVersion");
            !kubernetes
        }
        // Not JSON, or not an object: the OCI reader says what is wrong with it.
        _ => true,
    }
}

/// Recognises targets: `-`, `docker://REFERENCE`, a layout directory (`DIR` or `DIR:REF`),
/// a directory of `.yaml`/`.yml` files, or a file (JSON or YAML by content). One argument
/// may name several.
pub(crate) fn parse_targets(arg: &str) -> Result<Vec<Target>, Error> {
    if arg == "-" {
        return Ok(vec![Target::Stdin]);
    }
    if arg.starts_with(registry::SCHEME) {
        return Ok(vec![Target::Registry(registry::RegistryTarget::parse(
            arg,
        )?)]);
    }
    let path = Path::new(arg);
    if path.is_dir() {
        if is_layout(path) {
            return Ok(vec![Target::Layout {
                dir: path.to_path_buf(),
                reference: None,
            }]);
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && is_yaml_name(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::BadInput {
                path: path.to_path_buf(),
                message: "neither an OCI image layout (no `oci-layout` file) nor a directory of .yaml/.yml files".into(),
            });
        }
        return Ok(files.into_iter().map(Target::Yaml).collect());
    }
    if path.is_file() {
        if helm::is_chart_file(path) {
            return Ok(vec![Target::Chart(path.to_path_buf())]);
        }
        if is_yaml_name(path) {
            return Ok(vec![Target::Yaml(path.to_path_buf())]);
        }
        let head = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        if is_tar(&head) {
            return Err(Error::BadInput {
                path: path.to_path_buf(),
                message: "a tar archive, not a manifest: an oci-archive unpacks into a layout that annotate takes (`mkdir DIR && tar -xf FILE -C DIR`); a docker-archive copies into one (`skopeo copy docker-archive:FILE oci:DIR:TAG`)".into(),
            });
        }
        let text = String::from_utf8_lossy(&head);
        return Ok(vec![if is_oci_json(&text) {
            Target::File(path.to_path_buf())
        } else {
            Target::Yaml(path.to_path_buf())
        }]);
    }
    // `/dev/null`, `/dev/zero`, a FIFO: never read (a FIFO would block, a device never end).
    if let Ok(meta) = std::fs::metadata(path) {
        return Err(Error::BadInput {
            path: path.to_path_buf(),
            message: format!(
                "is {}, not a file or a directory: a TARGET is a manifest or YAML file, a layout or YAML directory, `-`, or docker://…",
                layout::file_kind(&meta.file_type())
            ),
        });
    }
    // `DIR:REF`. A ref.name may itself hold colons (`docker.io/library/app:1.0`, as skopeo's
    // `oci:DIR:REF` allows) and so may a directory name: the split is at the last colon
    // whose left side is a layout.
    for (at, _) in arg.rmatch_indices(':') {
        let (dir, reference) = (&arg[..at], &arg[at + 1..]);
        if !dir.is_empty() && is_layout(Path::new(dir)) {
            return Ok(vec![Target::Layout {
                dir: PathBuf::from(dir),
                reference: Some(reference.to_string()),
            }]);
        }
    }
    if let Some(hint) = transport_hint(arg) {
        return Err(Error::Usage(hint));
    }
    // What the system says about the path (`No such file or directory`, `Permission denied`).
    let why = std::fs::metadata(path)
        .err()
        .unwrap_or_else(|| std::io::ErrorKind::NotFound.into());
    Err(Error::io(path, why))
}

/// What to say about a TARGET written the way skopeo names images (`oci:DIR:REF`,
/// `oci-archive:FILE`, `dir:DIR`, …), which is no path.
fn transport_hint(arg: &str) -> Option<String> {
    let (transport, rest) = arg.split_once(':')?;
    let shown = arg.escape_debug();
    let how = match transport {
        "oci" => {
            let dir = rest.split(':').next().unwrap_or(rest);
            if !is_layout(Path::new(dir)) {
                return None;
            }
            format!("an OCI layout is given as DIR or DIR:REF, without `oci:`: `{}`", rest.escape_debug())
        }
        "oci-archive" => "oci-stamp does not write into archives: unpack it into a layout (`mkdir DIR && tar -xf FILE -C DIR`), annotate DIR, and pack it again".to_string(),
        "docker-archive" => "oci-stamp does not write into archives: copy it to an OCI layout (`skopeo copy docker-archive:FILE oci:DIR:TAG`) and annotate that".to_string(),
        "dir" => "give the manifest file of that directory (`DIR/manifest.json`); its blobs are named by their digests, so the manifest can change".to_string(),
        "docker-daemon" | "containers-storage" => "oci-stamp does not write into a container engine's storage: push the image to a registry (docker://…) or copy it to an OCI layout (`skopeo copy … oci:DIR:TAG`) and annotate that".to_string(),
        _ => return None,
    };
    Some(format!(
        "`{shown}` is a skopeo image name, not a path: {how}"
    ))
}

/// Whether bytes open a tar archive (`ustar` at offset 257), such as an `oci-archive`.
fn is_tar(bytes: &[u8]) -> bool {
    bytes.get(257..262) == Some(b"ustar".as_slice())
}

/// One annotation map in a target and where it was found: what `validate` and `verify`
/// read, from the same code that writes.
pub(crate) struct Found {
    pub(crate) location: String,
    pub(crate) pairs: Vec<(String, String)>,
    /// Whether this map is on an `index.json` descriptor (where `ref.name` belongs).
    pub(crate) index_descriptor: bool,
}

/// Every annotation map in a target, and the structural findings met on the way.
/// Annotations found here never make `annotate` fail; `validate` reports them as findings.
/// A layout narrowed to one `ref.name` (`DIR:REF`) and a registry image are read as
/// `annotate` walks them ([`inspect`]): the entries named, the index and each platform's
/// manifest.
pub(crate) fn annotation_maps(
    target: &Target,
    registry: &registry::Options,
) -> Result<(Vec<Found>, Vec<Diagnostic>), Error> {
    let found = |(maps, findings): (Vec<inspect::Placed>, Vec<Diagnostic>)| {
        (maps.into_iter().map(|p| p.found).collect(), findings)
    };
    match target {
        Target::Layout {
            dir,
            reference: None,
        } => layout::annotation_maps(dir),
        Target::Layout { .. } | Target::Registry(_) => {
            inspect::placed_maps(target, registry).map(found)
        }
        Target::File(p) => {
            let name = p.display().to_string();
            let (mut maps, findings) = manifest::annotation_maps(&name, &read_text(p)?)?;
            // A layout's own index.json, given as a file: its descriptors are index.json
            // descriptors, where ref.name belongs.
            if p.file_name().is_some_and(|n| n == "index.json") && is_layout(parent_dir(p)) {
                let descriptor = format!("{name} → descriptor");
                for f in maps
                    .iter_mut()
                    .filter(|f| f.location.starts_with(&descriptor))
                {
                    f.index_descriptor = true;
                }
            }
            Ok((maps, findings))
        }
        Target::Yaml(p) => kube_maps(&p.display().to_string(), &read_text(p)?),
        Target::Chart(p) => {
            let maps = helm::annotation_maps(&p.display().to_string(), &read_text(p)?).map_err(
                |message| Error::BadInput {
                    path: p.clone(),
                    message,
                },
            )?;
            Ok((maps, Vec::new()))
        }
        Target::Stdin => {
            let text = crate::stdin::read_text("the target `-`")?;
            if is_oci_json(&text) {
                manifest::annotation_maps("-", &text)
            } else {
                kube_maps("-", &text)
            }
        }
    }
}

fn kube_maps(name: &str, text: &str) -> Result<(Vec<Found>, Vec<Diagnostic>), Error> {
    kube::annotation_maps(name, text).map_err(|message| Error::BadInput {
        path: name.into(),
        message,
    })
}

/// The layout a file belongs to when it is one of its blobs (`DIR/blobs/ALG/HEX`, named
/// by a digest), which must never be rewritten in place.
fn layout_of_blob(path: &Path) -> Option<PathBuf> {
    // `d97d…` given inside `blobs/sha256`: its directories are those of the absolute path.
    let absolute;
    let path = if path.components().count() < 4 {
        absolute = std::fs::canonicalize(path).ok()?;
        absolute.as_path()
    } else {
        path
    };
    let name = path.file_name()?.to_str()?;
    let alg_dir = parent_dir(path);
    let alg = alg_dir.file_name()?.to_str()?;
    let blobs = alg_dir.parent()?;
    if blobs.file_name()? != "blobs" {
        return None;
    }
    crate::annotations::reference::check_digest(&format!("{alg}:{name}")).ok()?;
    let layout = match blobs.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    is_layout(&layout).then_some(layout)
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn read_text(path: &Path) -> Result<String, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    String::from_utf8(bytes).map_err(|_| Error::BadInput {
        path: path.to_path_buf(),
        message: "not UTF-8 text".into(),
    })
}

/// Annotates one target. For `-`, the document goes to standard output (unchanged when
/// nothing applies) and is returned as the second value.
pub(crate) fn annotate(
    target: &Target,
    stamp: &Stamp,
    kube: &kube::KubeOptions,
    registry: &registry::Options,
    dry_run: bool,
    gc: bool,
) -> Result<(Outcome, Option<String>), Error> {
    match target {
        Target::Registry(r) => Ok((registry::annotate(r, stamp, registry, dry_run)?, None)),
        Target::Chart(path) => Ok((helm::annotate_file(path, stamp, dry_run)?, None)),
        Target::Yaml(path) => {
            // Concurrent runs on one file apply one after the other (the lock is on the
            // directory, since the file itself is replaced by a rename).
            let _lock = layout::lock(parent_dir(path), !dry_run)?;
            if !dry_run {
                atomic::remove_stale(parent_dir(path)); // what a killed run left, under the lock
            }
            let text = read_text(path)?;
            let (mut outcome, new) =
                kube::stamp_text(&path.display().to_string(), &text, stamp, kube)?;
            if let Some(new) = new {
                if !dry_run {
                    atomic::write(path, new.as_bytes())?;
                    outcome.written = true;
                }
            }
            Ok((outcome, None))
        }
        Target::Layout { dir, reference } => Ok((
            layout::annotate(dir, reference.as_deref(), stamp, dry_run, gc)?,
            None,
        )),
        Target::File(path) => {
            if let Some(layout) = layout_of_blob(path) {
                return Err(Error::BadInput {
                    path: path.to_path_buf(),
                    message: format!(
                        "a blob of the OCI image layout {0}: its name is its digest, so it cannot change in place (the layout would name content that is not there) — annotate the layout instead (`{0}` or `{0}:REF`)",
                        layout.display()
                    ),
                });
            }
            let _lock = layout::lock(parent_dir(path), !dry_run)?;
            if !dry_run {
                atomic::remove_stale(parent_dir(path)); // what a killed run left, under the lock
            }
            let text = read_text(path)?;
            let (new, refusals) =
                manifest::annotate_document(&path.display().to_string(), &text, stamp)?;
            let mut outcome = Outcome::refused(path, refusals);
            outcome.rewrite_file(path, "file", &text, new, dry_run)?;
            Ok((outcome, None))
        }
        Target::Stdin => {
            let text = crate::stdin::read_text("the target `-`")?;
            if !is_oci_json(&text) {
                let (outcome, new) = kube::stamp_text("-", &text, stamp, kube)?;
                return Ok((outcome, Some(new.unwrap_or(text))));
            }
            stdin_manifest(text, stamp)
        }
    }
}

/// The Kubernetes YAML targets of a run (files, and `-`), every one read, checked and planned
/// before the first is written: when one is refused (or cannot be read or parsed), none
/// changes. Their directories stay locked until the plan is written or dropped.
pub(crate) struct KubePlan {
    _locks: Vec<std::fs::File>,
    /// By target index: the outcome, and the text to write (a file) or to print (`-`).
    planned: Vec<Option<(Outcome, Option<String>)>>,
    /// Why targets could not be planned, in target order.
    pub(crate) errors: Vec<Error>,
    /// The kinds of the objects in every planned target.
    pub(crate) kinds: Vec<String>,
}

impl KubePlan {
    /// How many targets the plan holds (or could not plan).
    pub(crate) fn len(&self) -> usize {
        self.planned.iter().flatten().count() + self.errors.len()
    }

    /// Whether any planned target is refused.
    pub(crate) fn refused(&self) -> bool {
        self.planned
            .iter()
            .flatten()
            .any(|(o, _)| !o.refusals.is_empty())
    }

    /// The outcomes planned, in target order.
    pub(crate) fn outcomes(&self) -> impl Iterator<Item = &Outcome> {
        self.planned.iter().flatten().map(|(o, _)| o)
    }

    /// Writes the planned target `at` (a file), or gives its document (`-`); `None` when the
    /// target is not one of the plan's.
    pub(crate) fn write(
        &mut self,
        at: usize,
        target: &Target,
        dry_run: bool,
    ) -> Option<Result<(Outcome, Option<String>), Error>> {
        let (mut outcome, new) = self.planned.get_mut(at)?.take()?;
        Some(match target {
            Target::Yaml(path) => {
                if let Some(new) = new.filter(|_| !dry_run && outcome.refusals.is_empty()) {
                    if let Err(e) = atomic::write(path, new.as_bytes()) {
                        return Some(Err(e));
                    }
                    outcome.written = true;
                }
                Ok((outcome, None))
            }
            _ => Ok((outcome, new)),
        })
    }
}

/// Plans the Kubernetes YAML targets among `targets` (and `-`, whatever it holds): see
/// [`KubePlan`].
pub(crate) fn plan_kube(
    targets: &[Target],
    stamp: &Stamp,
    kube: &kube::KubeOptions,
    dry_run: bool,
) -> Result<KubePlan, Error> {
    let mut dirs: Vec<PathBuf> = targets
        .iter()
        .filter_map(|t| match t {
            Target::Yaml(path) => {
                let dir = parent_dir(path);
                Some(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
            }
            _ => None,
        })
        .collect();
    // One order for every run, so two runs on overlapping directories cannot deadlock.
    dirs.sort();
    dirs.dedup();
    let mut locks = Vec::new();
    for dir in &dirs {
        locks.push(layout::lock(dir, !dry_run)?);
        if !dry_run {
            atomic::remove_stale(dir); // what a killed run left, under the lock
        }
    }
    let mut plan = KubePlan {
        _locks: locks,
        planned: Vec::new(),
        errors: Vec::new(),
        kinds: Vec::new(),
    };
    for target in targets {
        let planned = match target {
            Target::Yaml(path) => read_text(path).and_then(|text| {
                let s = kube::stamp_text_kinds(&path.display().to_string(), &text, stamp, kube)?;
                plan.kinds.extend(s.kinds);
                Ok((s.outcome, s.text))
            }),
            Target::Stdin => crate::stdin::read_text("the target `-`").and_then(|text| {
                if is_oci_json(&text) {
                    return stdin_manifest(text, stamp);
                }
                let s = kube::stamp_text_kinds("-", &text, stamp, kube)?;
                plan.kinds.extend(s.kinds);
                Ok((s.outcome, Some(s.text.unwrap_or(text))))
            }),
            _ => {
                plan.planned.push(None);
                continue;
            }
        };
        match planned {
            Ok(p) => plan.planned.push(Some(p)),
            Err(e) => {
                plan.errors.push(e);
                plan.planned.push(None);
            }
        }
    }
    Ok(plan)
}

/// A manifest or index on standard input, stamped for standard output.
fn stdin_manifest(text: String, stamp: &Stamp) -> Result<(Outcome, Option<String>), Error> {
    let (new, refusals) = manifest::annotate_document("-", &text, stamp)?;
    let mut outcome = Outcome::refused(Path::new("-"), refusals);
    let out = match new.filter(|_| outcome.refusals.is_empty()) {
        Some(new) => {
            outcome.changes.push(Change {
                kind: "file",
                platform: None,
                object: None,
                old: oci::sha256_digest(text.as_bytes()),
                new: oci::sha256_digest(new.as_bytes()),
            });
            new
        }
        None => text,
    };
    Ok((outcome, Some(out)))
}

/// One line per change, for people: `TARGET: manifest linux/amd64 sha256:… -> sha256:…`.
/// Every field is shown as diagnostics show what they quote (`str::escape_debug`): a path,
/// an object name or a platform read from the target may hold a line break or another
/// control character, which would otherwise start a line of its own (a `::error::` line
/// that a GitHub runner reads as a workflow command).
pub(crate) fn render_text(outcomes: &[Outcome], dry_run: bool) -> String {
    let mut out = String::new();
    for o in outcomes.iter().filter(|o| o.refusals.is_empty()) {
        let target = o.target.escape_debug();
        if o.changes.is_empty() {
            out.push_str(&format!("{target}: unchanged\n"));
        }
        for c in &o.changes {
            if let Some(object) = &c.object {
                out.push_str(&format!("{target}: stamped {}\n", object.escape_debug()));
                continue;
            }
            let platform = c
                .platform
                .as_deref()
                .map(|p| format!(" {}", p.escape_debug()))
                .unwrap_or_default();
            out.push_str(&format!(
                "{target}: {}{platform} {} -> {}\n",
                c.kind.escape_debug(),
                c.old.escape_debug(),
                c.new.escape_debug()
            ));
        }
        if dry_run && !o.changes.is_empty() {
            out.push_str(&format!("{target}: dry run, nothing written\n"));
        }
        let removed = if dry_run { "would remove" } else { "removed" };
        for d in &o.removed {
            out.push_str(&format!(
                "{target}: {removed} unreachable blob {}\n",
                d.escape_debug()
            ));
        }
        if let Some(t) = &o.tagged {
            out.push_str(&format!(
                "{target}: tagged {} -> {}\n",
                t.reference.escape_debug(),
                t.digest.escape_debug()
            ));
        }
    }
    out
}
