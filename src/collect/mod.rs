//! Collection: facts about a checkout, each with where it came from.
//!
//! Sources are consulted in the order of [`PRECEDENCE`], highest first — explicit flags and
//! `OCI_STAMP_*` variables, the annotation file, git, the CI environment, project files,
//! detection — and the first to offer a value for a key wins. (`url` prefers a project's
//! declared homepage over the forge page derived from the remote.) An explicit empty value
//! removes a key so that nothing lower fills it.

pub(crate) mod ancestry;
pub(crate) mod ci;
pub(crate) mod commit_graph;
pub(crate) mod dockerfile;
pub(crate) mod from_dockerfile;
pub(crate) mod git;
pub(crate) mod license;
pub(crate) mod policy;
pub(crate) mod project;
pub(crate) mod remote;
pub(crate) mod tags;
pub(crate) mod time;
pub(crate) mod version;
pub(crate) mod worktree;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::annotations::spec;

use crate::annotations::validate;
use crate::annotations::{self, Annotations, Diagnostic, Levels, LABEL_SCHEMA};
pub(crate) use crate::env::Env;
use crate::error::Error;
use time::CreatedSpec;

/// Whether an option came from the command line or from its `OCI_STAMP_*` variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    Flag(&'static str),
    Env(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::Env(var) => write!(f, "env {var}"),
        }
    }
}

/// Where a fact came from, as `collect --explain` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    Option(Origin),
    AnnotationFile(String),
    /// The policy file (`oci-stamp.toml`, `--policy`).
    Policy(String),
    Git(String),
    Ci(&'static str),
    /// A project file (relative to the repository root) and its field.
    Project(String, &'static str),
    LicenseFile(String),
    Epoch,
    Clock,
    Derived(String),
    /// `Dockerfile:LINE FROM …` / `Dockerfile:LINE LABEL key`.
    Dockerfile(String),
}

impl Source {
    /// Explicit values are the user's word: invalid ones fail the run. Others are dropped
    /// with a warning when invalid.
    fn is_explicit(&self) -> bool {
        matches!(
            self,
            Source::Option(_) | Source::AnnotationFile(_) | Source::Policy(_) | Source::Epoch
        )
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Option(o) => write!(f, "{o}"),
            Source::AnnotationFile(p) => write!(f, "annotation file {p}"),
            Source::Policy(p) => write!(f, "policy file {p}"),
            Source::Git(what) => write!(f, "git {what}"),
            Source::Ci(var) => write!(f, "env {var}"),
            Source::Project(file, field) => write!(f, "{file} {field}"),
            Source::LicenseFile(files) => write!(f, "{files} (detected)"),
            Source::Epoch => f.write_str("env SOURCE_DATE_EPOCH"),
            Source::Clock => f.write_str("clock (now)"),
            Source::Derived(what) => f.write_str(what),
            Source::Dockerfile(what) => f.write_str(what),
        }
    }
}

/// One collected value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    pub(crate) value: String,
    pub(crate) source: Source,
    /// Extra explanation (`canonicalised from MIT/Apache-2.0`).
    pub(crate) note: Option<String>,
    pub(crate) levels: Option<Levels>,
}

/// A `[LEVELS:]KEY=VALUE` given with `-a` or in an annotation file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnnotationArg {
    pub(crate) levels: Option<Levels>,
    pub(crate) key: String,
    pub(crate) value: String,
}

impl std::str::FromStr for AnnotationArg {
    type Err = String;

    /// `KEY=VALUE`, `LEVELS:KEY=VALUE`; KEY may be a predefined short name. Split like
    /// buildx: at the first `=`, then the levels at the last `:` before it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((lhs, value)) = s.split_once('=') else {
            return Err(format!("`{}` is not KEY=VALUE", s.escape_debug()));
        };
        let (levels, key) = match lhs.rsplit_once(':') {
            Some((levels, key)) => match levels.parse::<Levels>() {
                Ok(levels) => (Some(levels), key),
                Err(e) => return Err(levels_error(lhs, &e)),
            },
            None => (None, lhs),
        };
        Ok(AnnotationArg {
            levels,
            key: annotations::expand_key(key),
            value: value.to_string(),
        })
    }
}

/// Why `LHS` (of `LHS=VALUE`) is refused when what precedes its last `:` is not levels.
fn levels_error(lhs: &str, e: &annotations::LevelError) -> String {
    match lhs.split_once(':') {
        // valid levels before the first `:`: the rest is a key holding a `:`
        Some((levels, key)) if levels.parse::<Levels>().is_ok() => format!(
            "the key `{}` contains `:`, which buildx reads as the end of the levels; rename the key",
            key.escape_debug()
        ),
        // something that is no level at all: perhaps a key holding a `:`
        _ if matches!(e, annotations::LevelError::Unknown(_)) => format!(
            "in `{}`: {e} (a key cannot hold `:`: what comes before it is read as levels)",
            lhs.escape_debug()
        ),
        _ => format!("in `{}`: {e}", lhs.escape_debug()),
    }
}

/// The resolved COLLECT options.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CollectOptions {
    pub(crate) repo: PathBuf,
    pub(crate) annotations: Vec<(AnnotationArg, Origin)>,
    pub(crate) annotation_file: Option<PathBuf>,
    pub(crate) created: Option<(CreatedSpec, Origin)>,
    pub(crate) licenses: Option<(String, Origin)>,
    pub(crate) namespace: Option<String>,
    pub(crate) label_schema: bool,
    pub(crate) no_detect: bool,
    /// Full keys (short names expanded) or extension names.
    pub(crate) require: Vec<String>,
    pub(crate) require_clean: bool,
    /// `--dockerfile`, `--target`, `--build-arg`, `--resolve-base`, `--from-dockerfile-labels`.
    pub(crate) dockerfile: from_dockerfile::Options,
    /// The policy file, when there is one (its defaults are already in the fields above).
    pub(crate) policy: Option<policy::Policy>,
    /// `--tag-prefix`: release tags are this prefix and a version.
    pub(crate) tag_prefix: Option<String>,
    /// `--insecure`, `--ca-file`: how `--resolve-base` (and the commands' registry targets)
    /// reach registries.
    pub(crate) registry_insecure: bool,
    pub(crate) registry_ca_files: Vec<PathBuf>,
}

/// What collection found: the facts, and findings about the collection itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Collected {
    /// Key → fact; `None` marks a key removed by an explicit empty value.
    facts: BTreeMap<String, Option<Fact>>,
    /// Keys an explicit empty value removed, and by which source.
    removed: BTreeMap<String, String>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl Collected {
    /// Offers a value; it is taken only if no higher source already decided the key.
    fn offer(&mut self, key: &str, value: impl Into<String>, source: Source) -> bool {
        self.offer_fact(
            key,
            Fact {
                value: value.into(),
                source,
                note: None,
                levels: None,
            },
        )
    }

    /// `created` in the one form oci-stamp writes, UTC in whole seconds, as `--created`
    /// writes it: `2024-01-02T05:04:05.5+02:00` is `2024-01-02T03:04:05Z`, with a
    /// `created-normalised` warning. A value that is not a date-time is left for validation.
    fn normalise_created(&mut self, key: &str, mut fact: Fact) -> Fact {
        let Ok(t) = time::parse_created(&fact.value) else {
            return fact;
        };
        let normal = time::format_rfc3339(&t);
        if normal != fact.value {
            self.diagnostics.push(
                Diagnostic::warning(
                    "created-normalised",
                    key,
                    format!(
                        "`created` from {} is `{}`; written as `{normal}` (UTC, whole seconds)",
                        fact.source,
                        fact.value.escape_debug()
                    ),
                )
                .hint(format!("give `{normal}` to write it as it is given")),
            );
            let note = format!("normalised from `{}`", fact.value.escape_debug());
            fact.note = Some(match fact.note {
                Some(n) => format!("{n}; {note}"),
                None => note,
            });
            fact.value = normal;
        }
        fact
    }

    fn offer_fact(&mut self, key: &str, fact: Fact) -> bool {
        if self.facts.contains_key(key) {
            return false;
        }
        let fact = if key == spec::ANNOTATION_CREATED {
            self.normalise_created(key, fact)
        } else {
            fact
        };
        if fact.value.is_empty() {
            // An explicit empty value removes the key; an empty found value is no value.
            if fact.source.is_explicit() {
                self.facts.insert(key.to_string(), None);
                self.removed
                    .insert(key.to_string(), fact.source.to_string());
            }
            return false;
        }
        if !fact.source.is_explicit() {
            let problems: Vec<Diagnostic> = validate::check_value(key, &fact.value)
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect();
            if let Some(p) = problems.first() {
                self.diagnostics.push(
                    Diagnostic::warning(
                        "ignored-value",
                        key,
                        format!("ignored `{key}` from {}: {}", fact.source, p.message),
                    )
                    .hint(p.hint.clone().unwrap_or_default()),
                );
                return false;
            }
        }
        self.facts.insert(key.to_string(), Some(fact));
        true
    }

    /// Decides `key` without a value: nothing lower fills it (a value left out on purpose).
    fn withhold(&mut self, key: &str) {
        self.facts.entry(key.to_string()).or_insert(None);
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.facts.get(key)?.as_ref().map(|f| f.value.as_str())
    }

    fn decided(&self, key: &str) -> bool {
        self.facts.contains_key(key)
    }

    /// The facts that have values, ordered by key.
    pub(crate) fn facts(&self) -> impl Iterator<Item = (&str, &Fact)> {
        self.facts
            .iter()
            .filter_map(|(k, f)| f.as_ref().map(|f| (k.as_str(), f)))
    }

    /// The draft these facts make, each entry with its provenance (not yet validated).
    pub(crate) fn annotations(&self) -> Annotations {
        let mut a = Annotations::default();
        for (key, fact) in self.facts() {
            a.insert_entry(
                key.to_string(),
                annotations::Entry {
                    value: fact.value.clone(),
                    levels: fact.levels.clone(),
                    provenance: Some(annotations::Provenance {
                        source: fact.source.to_string(),
                        note: fact.note.clone(),
                    }),
                },
            );
        }
        a
    }
}

/// Reads `--annotation-file`: a JSON object of strings, or `[LEVELS:]KEY=VALUE` lines
/// (blank lines and `#` comments skipped).
pub(crate) fn read_annotation_file(path: &Path) -> Result<Vec<AnnotationArg>, Error> {
    let text = if path == Path::new("-") {
        crate::stdin::read_text("--annotation-file -")?
    } else {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        String::from_utf8(bytes).map_err(|_| Error::BadInput {
            path: path.to_path_buf(),
            message: "not UTF-8 text".into(),
        })?
    };
    let bad = |message: String| Error::BadInput {
        path: path.to_path_buf(),
        message,
    };
    if text.trim_start().starts_with('{') {
        // Strict I-JSON first: serde_json would keep the last of two equal keys unsaid.
        crate::json_edit::parse(&text).map_err(|e| bad(e.to_string()))?;
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| bad(format!("invalid JSON: {e}")))?;
        return map
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(value) => Ok(AnnotationArg {
                    levels: None,
                    key: annotations::expand_key(&k),
                    value,
                }),
                other => Err(bad(format!(
                    "the value of `{k}` is {} — annotation values are strings",
                    json_kind(&other)
                ))),
            })
            .collect();
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        out.push(
            line.parse::<AnnotationArg>()
                .map_err(|e| bad(format!("line {}: {e}", n + 1)))?,
        );
    }
    Ok(out)
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Extension facts: names under `--namespace`.
pub(crate) const EXTENSIONS: &[&str] = &["branch", "dirty", "pull-request", "run-url"];

/// What every source may consult: the options, the environment, the repository (opened
/// once) and the CI provider's facts.
pub(crate) struct Context<'a> {
    pub(crate) opts: &'a CollectOptions,
    pub(crate) env: &'a Env,
    pub(crate) git: Option<git::GitRepo>,
    pub(crate) ci: ci::CiFacts,
    /// The repository's work tree root (else `--repo`): where project and license files are.
    pub(crate) root: PathBuf,
    /// The package being built: what its project file declares (read once; the version and
    /// tag rules need its name too), and the project files that could not be read.
    pub(crate) project: Option<project::ProjectFacts>,
    pub(crate) project_problems: Vec<project::ProjectProblem>,
    /// The build's Dockerfile, read once (`None`: there is none).
    pub(crate) dockerfile: Option<from_dockerfile::Loaded>,
    /// `--resolve-base`: the registry lookup the command layer provides.
    pub(crate) resolve: Option<from_dockerfile::ResolveDigest<'a>>,
    /// This package's release tags, and HEAD described from them (both read when first asked).
    releases: std::cell::OnceCell<Option<version::Releases>>,
    described: std::cell::OnceCell<Option<git::Describe>>,
}

impl Context<'_> {
    /// The key of extension fact `name` under `--namespace`, when one is given.
    fn ext(&self, name: &str) -> Option<String> {
        self.opts
            .namespace
            .as_deref()
            .map(|n| format!("{}.{name}", n.trim_end_matches('.')))
    }

    /// What selects this package's release tags: `--tag-prefix`, the project's name, the
    /// package's directory in the repository.
    fn tag_rule(&self) -> version::TagRule {
        // The package's directory: its project file's, else the one collection runs in.
        let project_dir = self
            .project
            .as_ref()
            .map(|p| p.dir.to_string_lossy().replace('\\', "/"))
            .filter(|d| !d.is_empty());
        let dir = project_dir.or_else(|| {
            self.opts
                .repo
                .canonicalize()
                .ok()
                .zip(self.root.canonicalize().ok())
                .and_then(|(repo, root)| {
                    repo.strip_prefix(root)
                        .ok()
                        .and_then(|r| r.to_str())
                        .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
                })
                .filter(|d| !d.is_empty())
        });
        // A Go module in a subdirectory has only its directory's tags (Go's module rules).
        let dir_only = self
            .project
            .as_ref()
            .is_some_and(|p| p.ecosystem == "go" && !p.dir.as_os_str().is_empty());
        version::TagRule {
            prefix: self.opts.tag_prefix.clone(),
            package: self.project.as_ref().and_then(|p| p.name.clone()),
            dir,
            dir_only,
        }
    }

    fn releases(&self) -> Option<&version::Releases> {
        self.releases
            .get_or_init(|| {
                let g = self.git.as_ref()?;
                Some(self.tag_rule().releases(g.tag_names()))
            })
            .as_ref()
    }

    /// HEAD described from the nearest of this package's release tags.
    fn described(&self) -> Option<&git::Describe> {
        self.described
            .get_or_init(|| {
                let (g, rel) = (self.git.as_ref()?, self.releases()?);
                if !rel.any() {
                    return Some(git::Describe::NoTags);
                }
                Some(g.describe(&|t| rel.version(t).is_some(), &|names| {
                    rel.best(names).map(str::to_string)
                }))
            })
            .as_ref()
    }

    /// Whether the files of the checkout can be read (not a bare repository).
    fn has_files(&self) -> bool {
        !self.git.as_ref().is_some_and(|g| g.bare)
    }
}

/// A source: offers facts; what a higher source decided stays decided.
type SourceFn = fn(&Context<'_>, &mut Collected) -> Result<(), Error>;

/// The precedence, highest first: the first source to offer a value for a key wins, and an
/// explicit empty value removes the key so that nothing lower fills it. Changing the order
/// is moving one line; a new source is one function (or module) and one line here.
const PRECEDENCE: &[(&str, SourceFn)] = &[
    ("flags and OCI_STAMP_* variables", explicit),
    ("--annotation-file", annotation_file),
    ("policy file", policy::offer),
    (
        "created: --created, SOURCE_DATE_EPOCH, HEAD's committer time, now",
        created,
    ),
    (
        "Dockerfile LABELs (--from-dockerfile-labels)",
        from_dockerfile::labels,
    ),
    (
        "the package's own tag (a Go module in DIR: DIR/vX.Y.Z)",
        package_tag,
    ),
    ("git: HEAD, remote, exact tag, branch, status", from_git),
    ("CI environment", from_ci),
    ("project file", from_project),
    (
        "Dockerfile FROM: base.name, base.digest",
        from_dockerfile::base,
    ),
    ("derived from the source URL", derived),
    ("git describe", describe),
    ("checkout directory name", directory_name),
    ("license text (detection)", detected_license),
];

/// Collects every fact for `opts`: [`PRECEDENCE`] applied, then the label-schema mirror and
/// `--require`.
pub(crate) fn collect(opts: &CollectOptions, env: &Env) -> Result<Collected, Error> {
    collect_with(opts, env, None)
}

/// [`collect`], with the registry lookup `--resolve-base` uses.
pub(crate) fn collect_with(
    opts: &CollectOptions,
    env: &Env,
    resolve: Option<from_dockerfile::ResolveDigest<'_>>,
) -> Result<Collected, Error> {
    // A mistyped --repo is an error, not "no git here": it must name a directory.
    match std::fs::metadata(&opts.repo) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::BadInput {
                path: opts.repo.clone(),
                message: "not a directory (--repo, -C, names the checkout to describe)".into(),
            })
        }
        Err(e) => {
            return Err(Error::Usage(format!(
                "--repo (-C, OCI_STAMP_REPO) {}: {e}",
                opts.repo.display()
            )))
        }
    }
    let mut c = Collected::default();
    let git = git::GitRepo::discover(&opts.repo).map_err(Error::Git)?;
    if git.is_none() {
        c.diagnostics.push(
            Diagnostic::warning(
                "no-git",
                "",
                format!("{} is not in a git repository; collecting from the other sources", opts.repo.display()),
            )
            .hint("revision and source come from CI variables or -a; use --require revision to make this an error"),
        );
    }
    // The dirty check's stat pass goes first, on its own thread, to run while the rest of
    // collection does. (With NS.dirty given by the user it goes unused.)
    if let Some(g) = &git {
        if opts.require_clean || opts.namespace.is_some() {
            g.start_dirty_check();
        }
    }
    let root = git
        .as_ref()
        .map_or_else(|| opts.repo.clone(), |g| g.root.clone());
    let (project, project_problems) = if git.as_ref().is_some_and(|g| g.bare) {
        (None, Vec::new())
    } else {
        project::read(&opts.repo, &root)
    };
    let cx = Context {
        opts,
        env,
        git,
        ci: ci::detect(env),
        root,
        project,
        project_problems,
        dockerfile: from_dockerfile::load(opts)?,
        resolve,
        releases: std::cell::OnceCell::new(),
        described: std::cell::OnceCell::new(),
    };
    for (_, source) in PRECEDENCE {
        source(&cx, &mut c)?;
    }
    packed_refs_warning(&cx, &mut c);
    label_schema(&cx, &mut c);
    from_dockerfile::conflicts(&cx, &mut c);
    require(&cx, &mut c);
    policy::check_licenses(&cx, &mut c);
    Ok(c)
}

/// The `packed-refs` lines the tag read could not take, when the tags were read (the
/// version came from them, or was looked for there).
fn packed_refs_warning(cx: &Context<'_>, c: &mut Collected) {
    let Some(g) = &cx.git else {
        return;
    };
    let bad = g.packed_refs_problems();
    if !bad.is_empty() {
        let lines: Vec<String> = bad.iter().take(5).map(ToString::to_string).collect();
        c.diagnostics.push(
            Diagnostic::warning(
                "packed-refs",
                "",
                format!(
                    "{} line{} of .git/packed-refs cannot be read (line {}); the refs there are missing",
                    bad.len(),
                    if bad.len() == 1 { "" } else { "s" },
                    lines.join(", ")
                ),
            )
            .hint("repair the file (`git pack-refs --all` rewrites it from the refs git can read)"),
        );
    }
}

/// `-a` / `OCI_STAMP_ANNOTATION`, `--licenses`.
fn explicit(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    for (arg, origin) in &cx.opts.annotations {
        c.offer_fact(
            &arg.key,
            Fact {
                value: arg.value.clone(),
                source: Source::Option(origin.clone()),
                note: None,
                levels: arg.levels.clone(),
            },
        );
    }
    if let Some((expr, origin)) = &cx.opts.licenses {
        c.offer(
            spec::ANNOTATION_LICENSES,
            expr.clone(),
            Source::Option(origin.clone()),
        );
    }
    Ok(())
}

fn annotation_file(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if let Some(path) = &cx.opts.annotation_file {
        let shown = path.display().to_string();
        let args = read_annotation_file(path).map_err(|e| match e {
            Error::Io { path, source } => Error::Usage(format!(
                "--annotation-file (OCI_STAMP_ANNOTATION_FILE) {}: {source}",
                path.display()
            )),
            other => other,
        })?;
        for arg in args {
            c.offer_fact(
                &arg.key,
                Fact {
                    value: arg.value,
                    source: Source::AnnotationFile(shown.clone()),
                    note: None,
                    levels: arg.levels,
                },
            );
        }
    }
    Ok(())
}

/// `created`: --created, else auto (SOURCE_DATE_EPOCH, the commit time, now).
fn created(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if c.decided(spec::ANNOTATION_CREATED) {
        return Ok(());
    }
    let (created_spec, origin) = cx
        .opts
        .created
        .clone()
        .map_or((CreatedSpec::Auto, None), |(s, o)| (s, Some(o)));
    let commit_time = || cx.git.as_ref().and_then(git::GitRepo::commit_time);
    let (t, source) = match created_spec {
        // A date-time not in the written form is offered as given: `offer_fact` writes it in
        // UTC seconds and says so, as for `-a created=…`.
        CreatedSpec::At(t, given) => {
            let source = Source::Option(origin.clone().unwrap_or(Origin::Flag("--created")));
            if let Some(given) = given {
                c.offer(spec::ANNOTATION_CREATED, given, source);
                return Ok(());
            }
            (t, source)
        }
        CreatedSpec::Now => (chrono::Utc::now(), Source::Clock),
        CreatedSpec::Commit => match commit_time() {
            Some(t) => (t, Source::Git("HEAD committer time".into())),
            None => {
                return Err(Error::Usage(
                    "--created commit needs a commit, but there is no git HEAD here".into(),
                ))
            }
        },
        CreatedSpec::Auto => match cx.env.get("SOURCE_DATE_EPOCH") {
            Some(sde) => {
                let t = time::parse_epoch(sde)
                    .map_err(|e| Error::Usage(format!("SOURCE_DATE_EPOCH: {e}")))?;
                (t, Source::Epoch)
            }
            None => match commit_time() {
                Some(t) => (t, Source::Git("HEAD committer time".into())),
                None => (chrono::Utc::now(), Source::Clock),
            },
        },
    };
    c.offer(spec::ANNOTATION_CREATED, time::format_rfc3339(&t), source);
    Ok(())
}

fn from_git(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    let Some(g) = &cx.git else {
        return Ok(());
    };
    if let Some(head) = g.head {
        c.offer(
            spec::ANNOTATION_REVISION,
            head.to_string(),
            Source::Git("HEAD".into()),
        );
    }
    if let Some(r) = &g.remote() {
        match remote::normalise(&r.url) {
            Some(url) => {
                c.offer(
                    spec::ANNOTATION_SOURCE,
                    url,
                    Source::Git(if r.why.is_empty() {
                        format!("remote {}", r.name)
                    } else {
                        format!("remote {} ({})", r.name, r.why)
                    }),
                );
            }
            None => c.diagnostics.push(
                Diagnostic::warning(
                    "remote-not-url",
                    spec::ANNOTATION_SOURCE,
                    match remote::local_path(&r.url) {
                        Some(path) => format!(
                            "remote {} is the local path `{path}`, not a URL others can reach; no source from it",
                            r.name
                        ),
                        None => format!(
                            "remote {} is not a URL others can reach (not shown: it may hold a credential); no source from it",
                            r.name
                        ),
                    },
                )
                .hint("pass -a source=https://… (the repository others can reach)"),
            ),
        }
    }
    if !c.decided(spec::ANNOTATION_VERSION) {
        // A tag on HEAD gives the version when it is one of this package's releases.
        if let Some(rel) = cx.releases() {
            let tags = g.tags_at_head();
            if let Some(tag) = rel.best(&tags) {
                if let Some(v) = rel.version(tag) {
                    c.offer(
                        spec::ANNOTATION_VERSION,
                        v,
                        Source::Git(format!("tag {tag}")),
                    );
                }
            }
        }
    }
    if g.bare {
        c.diagnostics.push(
            Diagnostic::warning(
                "bare-repository",
                "",
                format!(
                    "{} is a bare repository: no work tree, so no project or license files and no dirty check",
                    g.root.display()
                ),
            )
            .hint("run in a checkout (`git worktree add`), or pass the values with -a"),
        );
    }
    if g.head.is_none() {
        c.diagnostics.push(
            Diagnostic::warning(
                "unborn-head",
                spec::ANNOTATION_REVISION,
                format!(
                    "HEAD{} has no commit yet: no revision, tag or commit time from git",
                    g.branch
                        .as_deref()
                        .map(|b| format!(" (branch `{b}`)"))
                        .unwrap_or_default()
                ),
            )
            .hint("commit first, or pass -a revision=…"),
        );
    }
    if let Some(key) = cx.ext("branch") {
        if let Some(b) = &g.branch {
            let what = if g.detached {
                "branch at detached HEAD"
            } else {
                "HEAD branch"
            };
            c.offer(&key, b.clone(), Source::Git(what.into()));
        }
    }
    let needs_dirty = cx.opts.require_clean || cx.ext("dirty").is_some_and(|k| !c.decided(&k));
    if needs_dirty && !g.bare {
        // The stat pass is running on threads of its own. The describe walk, which comes
        // later anyway whenever the version is still open (`from_project`, `describe`), goes
        // first so that it runs beside the pass instead of after it: on a 20,000-file
        // checkout without a commit-graph they were 17 and 7 ms, one after the other.
        if !c.decided(spec::ANNOTATION_VERSION) {
            let _ = cx.described();
        }
        let (count, sample) = g.modified().map_err(Error::Git)?;
        if let Some(key) = cx.ext("dirty") {
            c.offer(
                &key,
                (count > 0).to_string(),
                Source::Git("status (tracked files)".into()),
            );
        }
        if cx.opts.require_clean && count > 0 {
            c.diagnostics.push(
                Diagnostic::error(
                    "dirty-tree",
                    "",
                    format!(
                        "the working tree has {count} modified tracked file{} ({})",
                        if count == 1 { "" } else { "s" },
                        sample.join(", ")
                    ),
                )
                .hint("commit or stash the changes, or drop --require-clean"),
            );
        }
    }
    if g.shallow {
        c.diagnostics.push(
            Diagnostic::warning(
                "shallow-clone",
                "",
                "this is a shallow clone; tags and describe may be incomplete",
            )
            .hint("fetch with tags (`fetch-depth: 0` in actions/checkout) for exact versions"),
        );
    }
    Ok(())
}

/// The CI provider's variables: they fill what git could not tell.
fn from_ci(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if let Some(v) = &cx.ci.revision {
        c.offer(
            spec::ANNOTATION_REVISION,
            v.value.clone(),
            Source::Ci(v.var),
        );
    }
    if let Some(v) = &cx.ci.repository {
        c.offer(spec::ANNOTATION_SOURCE, v.value.clone(), Source::Ci(v.var));
    }
    if let Some(v) = &cx.ci.tag {
        if !c.decided(spec::ANNOTATION_VERSION) {
            ci_tag(cx, c, v);
        }
    }
    if let Some(key) = cx.ext("branch") {
        if let Some(v) = &cx.ci.branch {
            c.offer(&key, v.value.clone(), Source::Ci(v.var));
        }
    }
    if let Some(key) = cx.ext("pull-request") {
        if let Some(v) = &cx.ci.pull_request {
            c.offer(&key, v.value.clone(), Source::Ci(v.var));
        }
    }
    if let Some(key) = cx.ext("run-url") {
        if let Some(v) = &cx.ci.run_url {
            c.offer(&key, v.value.clone(), Source::Ci(v.var));
        }
    }
    Ok(())
}

/// A CI tag variable gives the version only when the CI's commit is HEAD: a job may check out
/// another commit than the one its tag names.
fn ci_tag(cx: &Context<'_>, c: &mut Collected, v: &ci::CiValue) {
    let tag = &v.value;
    let rule = cx.tag_rule();
    let rel = match &cx.git {
        Some(g) => rule.releases(g.tag_names().chain(std::iter::once(tag.as_str()))),
        None => rule.releases(std::iter::once(tag.as_str())),
    };
    let Some(version) = rel.version(tag) else {
        return;
    };
    let head = cx.git.as_ref().and_then(|g| g.head);
    let ci_commit = cx.ci.revision.as_ref();
    let at_head = match (head, ci_commit) {
        (None, _) => true,
        (Some(h), Some(r)) => r.value.eq_ignore_ascii_case(&h.to_string()),
        (Some(_), None) => false,
    };
    if at_head {
        c.offer(spec::ANNOTATION_VERSION, version, Source::Ci(v.var));
        return;
    }
    let why = match (head, ci_commit) {
        (Some(h), Some(r)) => format!(
            "{} is `{}`, not HEAD (`{}`)",
            r.var,
            r.value.escape_debug(),
            &h.to_string()[..12]
        ),
        _ => "the CI names no commit to check it against HEAD".into(),
    };
    c.diagnostics.push(
        Diagnostic::warning(
            "ci-tag-not-head",
            spec::ANNOTATION_VERSION,
            format!(
                "ignored {} `{}`: {why}; the tag may name another commit than this checkout",
                v.var,
                tag.escape_debug()
            ),
        )
        .hint("check out the tagged commit, or pass -a version=…"),
    );
}

/// The package's project file (the nearest to `--repo`; see [`project::FILES`]).
fn from_project(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    for p in &cx.project_problems {
        c.diagnostics.push(Diagnostic::warning(
            "project-file",
            "",
            format!("cannot read {}: {}", p.file, p.message),
        ));
    }
    if let Some(p) = &cx.project {
        let file = &p.file;
        let src = |field: &'static str| Source::Project(file.clone(), field);
        let put = |c: &mut Collected, key: &str, value: &str, field: &'static str| {
            c.offer_fact(
                key,
                Fact {
                    value: value.to_string(),
                    source: src(field),
                    note: p.note(field),
                    levels: None,
                },
            );
        };
        for w in &p.warnings {
            c.diagnostics.push(
                Diagnostic::warning("project-value", project_key(w.field), w.message.clone())
                    .hint(w.hint.clone()),
            );
        }
        if let Some(v) = &p.version {
            // Past a release, the project file still says the release (or an older one)
            // until it is bumped: then the development version from git describe is right.
            let past_release = !c.decided(spec::ANNOTATION_VERSION)
                && match (cx.described(), cx.releases()) {
                    (Some(git::Describe::Found { tag, distance, .. }), Some(rel)) => {
                        *distance > 0
                            && rel.version(tag).is_some_and(|tv| !version::is_ahead(v, tv))
                    }
                    _ => false,
                };
            if !past_release {
                put(c, spec::ANNOTATION_VERSION, v, "version");
            }
        }
        if !c.decided(spec::ANNOTATION_LICENSES) {
            if let Some(l) = &p.license {
                project_license(cx, c, file, l);
            } else if let Some(f) = &p.license_file {
                if cx.has_files() {
                    let d = license::detect_file(&cx.root.join(&p.dir), f);
                    offer_detection(c, d, Some(file));
                }
            }
        }
        if let Some(v) = &p.description {
            // One line: a TOML or JSON description may hold line breaks, which most output
            // formats cannot carry. Values given with -a stay exactly as given.
            let folded = v.split_whitespace().collect::<Vec<_>>().join(" ");
            let note: Vec<String> = (folded != *v)
                .then(|| "folded to one line".to_string())
                .into_iter()
                .chain(p.note("description"))
                .collect();
            c.offer_fact(
                spec::ANNOTATION_DESCRIPTION,
                Fact {
                    value: folded,
                    source: src("description"),
                    note: (!note.is_empty()).then(|| note.join("; ")),
                    levels: None,
                },
            );
        }
        if let Some(v) = &p.homepage {
            put(c, spec::ANNOTATION_URL, v, "homepage");
        }
        if let Some(v) = &p.documentation {
            put(c, spec::ANNOTATION_DOCUMENTATION, v, "documentation");
        }
        if let Some(v) = &p.repository {
            if let Some(url) = remote::normalise(v) {
                put(c, spec::ANNOTATION_SOURCE, &url, "repository");
            }
        }
        if let Some(v) = &p.authors {
            put(c, spec::ANNOTATION_AUTHORS, v, "authors");
        }
        if let Some(v) = &p.vendor {
            put(c, spec::ANNOTATION_VENDOR, v, "vendor");
        }
        if let Some(v) = &p.name {
            put(c, spec::ANNOTATION_TITLE, v, "name");
        }
    }
    Ok(())
}

/// The annotation a [`project::ProjectFacts`] field fills.
fn project_key(field: &str) -> &'static str {
    match field {
        "version" => spec::ANNOTATION_VERSION,
        "license" => spec::ANNOTATION_LICENSES,
        "description" => spec::ANNOTATION_DESCRIPTION,
        "homepage" => spec::ANNOTATION_URL,
        "documentation" => spec::ANNOTATION_DOCUMENTATION,
        "repository" => spec::ANNOTATION_SOURCE,
        "authors" => spec::ANNOTATION_AUTHORS,
        "vendor" => spec::ANNOTATION_VENDOR,
        "name" => spec::ANNOTATION_TITLE,
        _ => "",
    }
}

/// `version` from the package's own tag on HEAD, where its ecosystem prefixes tags with the
/// package's directory: a Go module in `cmd/tool` is released as `cmd/tool/v0.3.0`.
fn package_tag(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    let (Some(g), Some(p)) = (&cx.git, &cx.project) else {
        return Ok(());
    };
    if p.ecosystem != "go" || c.decided(spec::ANNOTATION_VERSION) {
        return Ok(());
    }
    let dir = p.dir.to_string_lossy().replace('\\', "/");
    if let Some((tag, v)) = project::golang::best_tag(&dir, &g.tags_at_head()) {
        c.offer(
            spec::ANNOTATION_VERSION,
            v,
            Source::Git(format!("tag {tag} (the module in {dir})")),
        );
    }
    Ok(())
}

/// The license a project file declares: strict SPDX as it is; a lenient form with exactly
/// one meaning canonicalised, with a warning; a name of several licenses resolved by the
/// license text when it is one of them, else left out with a warning.
fn project_license(cx: &Context<'_>, c: &mut Collected, file: &str, l: &str) {
    use annotations::spdx::Declared;
    let key = spec::ANNOTATION_LICENSES;
    // Where the project file's value came from (an inherited field, the nearest file).
    let origin = cx.project.as_ref().and_then(|p| p.note("license"));
    let offer = |c: &mut Collected, value: String, note: Option<String>| {
        let note: Vec<String> = note.into_iter().chain(origin.clone()).collect();
        c.offer_fact(
            key,
            Fact {
                value,
                source: Source::Project(file.to_string(), "license"),
                note: (!note.is_empty()).then(|| note.join("; ")),
                levels: None,
            },
        );
    };
    match annotations::spdx::read_declared(l) {
        Declared::Strict(v) => offer(c, v, None),
        Declared::Canonical {
            expression,
            original,
        } => {
            c.diagnostics.push(
                Diagnostic::warning(
                    "license-canonicalised",
                    key,
                    format!(
                        "{file} declares the license `{}`, which is not a strict SPDX expression; read as `{expression}`",
                        original.escape_debug()
                    ),
                )
                .hint(format!("declare `{expression}` in {file}")),
            );
            offer(
                c,
                expression,
                Some(format!("canonicalised from `{}`", original.escape_debug())),
            );
        }
        Declared::Ambiguous {
            original,
            term,
            candidates,
        } => {
            // The text decides only for a whole value (`BSD`), not for a part (`MIT OR BSD`).
            let whole = term == original;
            let detection =
                (whole && !cx.opts.no_detect && cx.has_files()).then(|| license::detect(&cx.root));
            let (resolved, text_says) = resolve_by_text(candidates, detection.as_ref());
            let shown = original.escape_debug().to_string();
            if let Some((id, files)) = resolved {
                c.diagnostics.push(
                    Diagnostic::warning(
                        "license-canonicalised",
                        key,
                        format!(
                            "{file} declares the license `{shown}`, which names several licenses; the text of {files} is `{id}`: read as `{id}`"
                        ),
                    )
                    .hint(format!("declare `{id}` in {file}")),
                );
                offer(
                    c,
                    id,
                    Some(format!("`{shown}` resolved by the text of {files}")),
                );
                return;
            }
            let why = match (&detection, text_says) {
                (_, Some(says)) => says,
                (None, _) if !whole => format!("`{}` is a part of it", term.escape_debug()),
                (None, _) if cx.opts.no_detect => {
                    "--no-detect: the license text is not read".into()
                }
                _ => "no license text in the checkout tells which".into(),
            };
            c.diagnostics.push(
                Diagnostic::warning(
                    "ambiguous-license",
                    key,
                    format!(
                        "{file} declares the license `{shown}`, which names several licenses ({}); {why}; licenses left out",
                        candidates.join(", ")
                    ),
                )
                .hint(format!(
                    "declare the SPDX identifier meant in {file} (such as `{}`), or pass --licenses",
                    candidates.last().copied().unwrap_or_default()
                )),
            );
            c.withhold(key);
        }
        Declared::NoLicense(v) | Declared::Invalid { original: v, .. } => c.diagnostics.push(
            Diagnostic::warning(
                "ignored-value",
                key,
                format!(
                    "ignored the license in {file}: `{}` is not an SPDX expression",
                    v.escape_debug()
                ),
            )
            .hint("declare an SPDX expression, or pass --licenses"),
        ),
    }
}

/// The one candidate the license text is, with its files; else what the text says.
fn resolve_by_text(
    candidates: &[&str],
    detection: Option<&license::Detection>,
) -> (Option<(String, String)>, Option<String>) {
    let is_candidate = |expr: &str| {
        let license = expr.split(" WITH ").next().unwrap_or(expr);
        candidates.contains(&license)
    };
    match detection {
        Some(license::Detection::Found(d)) => {
            let files = d.files.join(" + ");
            if is_candidate(&d.expression) {
                (Some((d.expression.clone(), files)), None)
            } else {
                (
                    None,
                    Some(format!(
                        "the text of {files} is `{}`, not one of them",
                        d.expression
                    )),
                )
            }
        }
        Some(license::Detection::Ambiguous {
            files,
            candidates: c2,
        }) => {
            let both: Vec<&String> = c2.iter().filter(|c| is_candidate(c)).collect();
            let files = files.join(" + ");
            match both.as_slice() {
                [one] => (Some(((*one).clone(), files)), None),
                [] => (
                    None,
                    Some(format!(
                        "the text of {files} is {}, not one of them",
                        c2.join(" or ")
                    )),
                ),
                more => (
                    None,
                    Some(format!(
                        "the text of {files} is shared by {}",
                        more.iter()
                            .map(|s| format!("`{s}`"))
                            .collect::<Vec<_>>()
                            .join(" and ")
                    )),
                ),
            }
        }
        Some(license::Detection::NotRecognised { files, .. }) => (
            None,
            Some(format!(
                "the text of {} is not recognised",
                files.join(", ")
            )),
        ),
        Some(license::Detection::Nothing) | None => (None, None),
    }
}

/// What detection found, offered as `licenses` or reported; `declared_in` names the project
/// file that pointed at the license file.
fn offer_detection(c: &mut Collected, d: license::Detection, declared_in: Option<&str>) {
    let key = spec::ANNOTATION_LICENSES;
    let withhold_if_declared = |c: &mut Collected| {
        if declared_in.is_some() {
            c.withhold(key);
        }
    };
    match d {
        license::Detection::Found(d) => {
            let note = match declared_in {
                Some(f) => format!("named by {f}; {:.0}% text match", d.score * 100.0),
                None => format!("{:.0}% text match; {}", d.score * 100.0, d.rule),
            };
            c.offer_fact(
                key,
                Fact {
                    value: d.expression,
                    source: Source::LicenseFile(d.files.join(" + ")),
                    note: Some(note),
                    levels: None,
                },
            );
        }
        license::Detection::Ambiguous { files, candidates } => {
            c.diagnostics.push(
                Diagnostic::warning(
                    "ambiguous-license",
                    key,
                    format!(
                        "the text of {} is shared by several licenses ({}); which applies is said in the sources' notices; licenses left out",
                        files.join(" + "),
                        candidates.join(", ")
                    ),
                )
                .hint(format!(
                    "declare the one meant (such as `{}`) in the project file, or pass --licenses",
                    candidates.last().map(String::as_str).unwrap_or_default()
                )),
            );
            withhold_if_declared(c);
        }
        license::Detection::NotRecognised { files, others } => {
            let others = if others.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    others
                        .iter()
                        .map(|(f, id)| format!("{f} is `{id}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            c.diagnostics.push(
                Diagnostic::warning(
                    "license-not-recognised",
                    key,
                    format!(
                        "the license file {} is not a license text oci-stamp recognises{others}; licenses left out",
                        files.join(", ")
                    ),
                )
                .hint("declare the license in the project file, or pass --licenses EXPR"),
            );
            withhold_if_declared(c);
        }
        license::Detection::Nothing => {
            if let Some(f) = declared_in {
                c.diagnostics.push(Diagnostic::warning(
                    "license-not-recognised",
                    key,
                    format!("{f} names a license file that cannot be read; licenses left out"),
                ));
                c.withhold(key);
            }
        }
    }
}

/// `url` (a forge's page) and `title` (the repository's name) from the source URL.
fn derived(_cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if let Some(source) = c.value(spec::ANNOTATION_SOURCE).map(str::to_string) {
        if remote::is_forge(&source) {
            c.offer(
                spec::ANNOTATION_URL,
                source.clone(),
                Source::Derived(format!("forge page of {}", spec::ANNOTATION_SOURCE)),
            );
        }
        if let Some(name) = remote::repository_name(&source) {
            c.offer(
                spec::ANNOTATION_TITLE,
                name,
                Source::Derived("repository name".into()),
            );
        }
    }
    Ok(())
}

/// `version` from the nearest of this package's release tags: the release at it, else the
/// development version of a commit past it ([`version::development`]).
fn describe(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if c.decided(spec::ANNOTATION_VERSION) {
        return Ok(());
    }
    let (Some(described), Some(rel)) = (cx.described(), cx.releases()) else {
        return Ok(());
    };
    let rule = cx.tag_rule();
    let go_hint;
    let tag_hint = match rule.dir.as_deref().filter(|_| rule.dir_only) {
        Some(dir) => {
            go_hint = format!("tag the module's releases `{dir}/vX.Y.Z`, or pass -a version=…");
            go_hint.as_str()
        }
        None => "pass --tag-prefix PREFIX for tags such as `release-1.0.0`, or -a version=…",
    };
    match described {
        git::Describe::Found {
            tag,
            distance,
            short,
        } => {
            let base = rel.version(tag).unwrap_or(tag);
            let (value, note) = if *distance == 0 {
                (base.to_string(), None)
            } else {
                let passed = cx
                    .project
                    .as_ref()
                    .and_then(|p| p.version.as_ref().map(|v| (&p.file, v)))
                    .map(|(f, v)| format!("; {f} says {v}, the release's or older"))
                    .unwrap_or_default();
                (
                    version::development(base, *distance, short),
                    Some(format!(
                        "development version: {distance} commit{} past {tag}{passed}",
                        if *distance == 1 { "" } else { "s" }
                    )),
                )
            };
            c.offer_fact(
                spec::ANNOTATION_VERSION,
                Fact {
                    value,
                    source: Source::Git(format!("describe (tag {tag})")),
                    note,
                    levels: None,
                },
            );
        }
        git::Describe::GaveUp { walked } => c.diagnostics.push(
            Diagnostic::warning(
                "describe-gave-up",
                spec::ANNOTATION_VERSION,
                format!(
                    "no release tag ({}) within {walked} commits of HEAD; no version from git describe",
                    rule.describe()
                ),
            )
            .hint(match rel.others_hint() {
                Some(others) => format!("{others}; or tag the release, or -a version=…"),
                None => format!("tag the release, or {tag_hint}"),
            }),
        ),
        git::Describe::NoTags if rel.tags > 0 => {
            let message = if rel.any() {
                format!(
                    "none of this package's release tags ({}) is in HEAD's history; no version from git",
                    rule.describe()
                )
            } else {
                format!(
                    "the repository has {} tag{}, but none is a release tag of this package ({}); no version from git",
                    rel.tags,
                    if rel.tags == 1 { "" } else { "s" },
                    rule.describe()
                )
            };
            c.diagnostics.push(
                Diagnostic::warning("no-release-tag", spec::ANNOTATION_VERSION, message).hint(
                    match rel.others_hint() {
                        Some(others) => format!("{others}; or -a version=…"),
                        None => tag_hint.to_string(),
                    },
                ),
            );
        }
        git::Describe::NoTags => {}
    }
    Ok(())
}

/// `title` from the checkout directory's name.
fn directory_name(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if cx.git.as_ref().is_some_and(|g| !g.bare) {
        if let Some(name) = cx.root.file_name().and_then(|n| n.to_str()) {
            c.offer(
                spec::ANNOTATION_TITLE,
                name,
                Source::Derived("checkout directory name".into()),
            );
        }
    }
    Ok(())
}

/// `licenses` detected from the license files' text, when nothing declared one.
fn detected_license(cx: &Context<'_>, c: &mut Collected) -> Result<(), Error> {
    if !c.decided(spec::ANNOTATION_LICENSES) && !cx.opts.no_detect && cx.has_files() {
        offer_detection(c, license::detect(&cx.root), None);
    }
    Ok(())
}

/// The legacy label-schema keys mirror the final values (`--label-schema`).
fn label_schema(cx: &Context<'_>, c: &mut Collected) {
    if cx.opts.label_schema {
        c.offer(
            "org.label-schema.schema-version",
            "1.0",
            Source::Derived("--label-schema".into()),
        );
        for (legacy, short) in LABEL_SCHEMA {
            let full = annotations::full_key(short).unwrap_or_default();
            if let Some(v) = c.value(full).map(str::to_string) {
                c.offer(
                    legacy,
                    v,
                    Source::Derived(format!("--label-schema (from {full})")),
                );
            }
        }
    }
}

/// `--require`: every key named must have a value by now.
fn require(cx: &Context<'_>, c: &mut Collected) {
    let ns = cx
        .opts
        .namespace
        .as_deref()
        .map(|n| n.trim_end_matches('.'));
    for key in &cx.opts.require {
        let is_extension = EXTENSIONS.contains(&key.as_str());
        let full = match ns {
            Some(n) if is_extension => format!("{n}.{key}"),
            _ => annotations::expand_key(key),
        };
        // A name is checked as `-a` checks a key: `revison` is a near miss of `revision`.
        if !is_extension {
            if let Some(d) = validate::check_key(&full).filter(Diagnostic::is_error) {
                c.diagnostics.push(Diagnostic {
                    message: format!("--require {}: {}", key.escape_debug(), d.message),
                    ..d
                });
                continue;
            }
        }
        if c.value(&full).is_none() {
            let removed_by = c.removed.get(&full).cloned();
            let (message, hint) = if let Some(by) = removed_by {
                (
                    format!(
                        "`{full}` is required (--require) but {by} removed it with an empty value"
                    ),
                    format!("drop the empty `{key}=` or drop `{key}` from --require"),
                )
            } else if ns.is_none() && is_extension {
                // `-a branch=…` would only make a key named `branch`
                (
                    format!("`{full}` is required (--require) but no source provided it"),
                    format!("`{key}` is collected only under --namespace NS (as `NS.{key}`); add --namespace"),
                )
            } else if full == spec::ANNOTATION_LICENSES {
                (
                    format!("`{full}` is required (--require) but no source provided it"),
                    "declare the license in the project file or pass --licenses EXPR (an SPDX expression)".to_string(),
                )
            } else {
                (
                    format!("`{full}` is required (--require) but no source provided it"),
                    format!(
                        "pass -a {key}=… or run where it can be found (a git checkout, a CI job)"
                    ),
                )
            };
            c.diagnostics
                .push(Diagnostic::error("missing-required", &full, message).hint(hint));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_args_parse_like_buildx() {
        let a: AnnotationArg = "version=1.2".parse().unwrap();
        assert_eq!(a.key, spec::ANNOTATION_VERSION);
        assert_eq!(a.levels, None);
        let a: AnnotationArg = "index,manifest[linux/amd64]:com.example.x=a=b:c"
            .parse()
            .unwrap();
        assert_eq!(a.key, "com.example.x");
        assert_eq!(a.value, "a=b:c");
        assert_eq!(a.levels.unwrap().to_string(), "index,manifest[linux/amd64]");
        let a: AnnotationArg = "title=".parse().unwrap();
        assert_eq!(a.value, "");
        assert!("novalue".parse::<AnnotationArg>().is_err());
        assert!("bogus:k=v"
            .parse::<AnnotationArg>()
            .unwrap_err()
            .contains("unknown level `bogus`"));
        // a key with a colon after valid levels is named as the problem
        let e = "index,manifest:com.example:x=1"
            .parse::<AnnotationArg>()
            .unwrap_err();
        assert!(e.contains("the key `com.example:x` contains `:`"), "{e}");
        let e = "com.example:x=1".parse::<AnnotationArg>().unwrap_err();
        assert!(e.contains("a key cannot hold `:`"), "{e}");
    }

    #[test]
    fn explicit_empty_value_removes_a_key() {
        let mut c = Collected::default();
        c.offer("k.x", "", Source::Option(Origin::Flag("-a")));
        assert!(!c.offer("k.x", "v", Source::Git("HEAD".into())));
        assert_eq!(c.value("k.x"), None);
        assert!(c.decided("k.x"));
    }

    #[test]
    fn invalid_found_values_are_dropped_with_a_warning() {
        let mut c = Collected::default();
        assert!(!c.offer(
            spec::ANNOTATION_URL,
            "example.com",
            Source::Project("Cargo.toml".into(), "homepage")
        ));
        assert_eq!(c.diagnostics[0].code, "ignored-value");
        assert!(c.offer(
            spec::ANNOTATION_URL,
            "https://example.com",
            Source::Derived("x".into())
        ));
    }
}
