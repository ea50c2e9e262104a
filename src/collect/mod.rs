//! Collection: facts about a checkout, each with where it came from.
//!
//! Sources are consulted in precedence order, highest first — explicit flags and
//! `OCI_STAMP_*` variables, the annotation file, git, the CI environment, project files,
//! detection — and the first to offer a value for a key wins. (`url` prefers a project's
//! declared homepage over the forge page derived from the remote.) An explicit empty value
//! removes a key so that nothing lower fills it.

pub(crate) mod ci;
pub(crate) mod commit_graph;
pub(crate) mod git;
pub(crate) mod license;
pub(crate) mod project;
pub(crate) mod remote;
pub(crate) mod time;
pub(crate) mod worktree;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use oci_spec::image as spec;

use crate::annotations::validate::{self, redact_url};
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
    Git(String),
    Ci(&'static str),
    Project(&'static str, &'static str),
    LicenseFile(String),
    Epoch,
    Clock,
    Derived(String),
}

impl Source {
    /// Explicit values are the user's word: invalid ones fail the run. Others are dropped
    /// with a warning when invalid.
    fn is_explicit(&self) -> bool {
        matches!(
            self,
            Source::Option(_) | Source::AnnotationFile(_) | Source::Epoch
        )
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Option(o) => write!(f, "{o}"),
            Source::AnnotationFile(p) => write!(f, "annotation file {p}"),
            Source::Git(what) => write!(f, "git {what}"),
            Source::Ci(var) => write!(f, "env {var}"),
            Source::Project(file, field) => write!(f, "{file} {field}"),
            Source::LicenseFile(files) => write!(f, "{files} (detected)"),
            Source::Epoch => f.write_str("env SOURCE_DATE_EPOCH"),
            Source::Clock => f.write_str("clock (now)"),
            Source::Derived(what) => f.write_str(what),
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
                Err(e) => return Err(levels_error(lhs, &e.to_string())),
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
fn levels_error(lhs: &str, e: &str) -> String {
    match lhs.split_once(':') {
        // valid levels before the first `:`: the rest is a key holding a `:`
        Some((levels, key)) if levels.parse::<Levels>().is_ok() => format!(
            "the key `{}` contains `:`, which buildx reads as the end of the levels; rename the key",
            key.escape_debug()
        ),
        _ => format!(
            "in `{}`: {e} (a key cannot hold `:`: what comes before it is read as levels)",
            lhs.escape_debug()
        ),
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
}

/// What collection found: the facts, and findings about the collection itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Collected {
    /// Key → fact; `None` marks a key removed by an explicit empty value.
    facts: BTreeMap<String, Option<Fact>>,
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

    fn offer_fact(&mut self, key: &str, fact: Fact) -> bool {
        if self.facts.contains_key(key) {
            return false;
        }
        if fact.value.is_empty() {
            // An explicit empty value removes the key; an empty found value is no value.
            if fact.source.is_explicit() {
                self.facts.insert(key.to_string(), None);
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
    let bytes = if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
            .map_err(|e| Error::io(path, e))?;
        buf
    } else {
        std::fs::read(path).map_err(|e| Error::io(path, e))?
    };
    let text = String::from_utf8(bytes).map_err(|_| Error::BadInput {
        path: path.to_path_buf(),
        message: "not UTF-8 text".into(),
    })?;
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

/// Collects every fact for `opts`, in precedence order.
pub(crate) fn collect(opts: &CollectOptions, env: &Env) -> Result<Collected, Error> {
    // A mistyped --repo is an error, not "no git here": it must name a directory.
    match std::fs::metadata(&opts.repo) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(Error::BadInput {
                path: opts.repo.clone(),
                message: "not a directory (--repo names the checkout to describe)".into(),
            })
        }
        Err(e) => return Err(Error::io(&opts.repo, e)),
    }
    let mut c = Collected::default();
    let ns = opts.namespace.as_deref().map(|n| n.trim_end_matches('.'));
    let ext = |name: &str| ns.map(|n| format!("{n}.{name}"));

    // 1. explicit: -a / OCI_STAMP_ANNOTATION, --licenses, --created
    for (arg, origin) in &opts.annotations {
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
    if let Some((expr, origin)) = &opts.licenses {
        c.offer(
            spec::ANNOTATION_LICENSES,
            expr.clone(),
            Source::Option(origin.clone()),
        );
    }

    // 2. the annotation file
    if let Some(path) = &opts.annotation_file {
        let shown = path.display().to_string();
        for arg in read_annotation_file(path)? {
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

    // git, opened once
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
    let ci = ci::detect(env);

    // created: --created, else auto (SOURCE_DATE_EPOCH, commit time, now)
    if !c.decided(spec::ANNOTATION_CREATED) {
        let (created_spec, origin) = opts
            .created
            .clone()
            .map_or((CreatedSpec::Auto, None), |(s, o)| (s, Some(o)));
        let commit_time = || git.as_ref().and_then(git::GitRepo::commit_time);
        let (t, source) = match created_spec {
            CreatedSpec::At(t) => (
                t,
                Source::Option(origin.clone().unwrap_or(Origin::Flag("--created"))),
            ),
            CreatedSpec::Now => (chrono::Utc::now(), Source::Clock),
            CreatedSpec::Commit => match commit_time() {
                Some(t) => (t, Source::Git("HEAD committer time".into())),
                None => {
                    return Err(Error::Usage(
                        "--created commit needs a commit, but there is no git HEAD here".into(),
                    ))
                }
            },
            CreatedSpec::Auto => match env.get("SOURCE_DATE_EPOCH") {
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
    }

    // 3. git
    let remote = git.as_ref().and_then(git::GitRepo::remote);
    if let Some(g) = &git {
        if let Some(head) = g.head {
            c.offer(
                spec::ANNOTATION_REVISION,
                head.to_string(),
                Source::Git("HEAD".into()),
            );
        }
        if let Some(r) = &remote {
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
                None => c.diagnostics.push(Diagnostic::warning(
                    "remote-not-url",
                    spec::ANNOTATION_SOURCE,
                    format!(
                        "remote {} is `{}`, not a URL others can reach; no source from it",
                        r.name,
                        redact_url(&r.url)
                    ),
                )),
            }
        }
        if !c.decided(spec::ANNOTATION_VERSION) {
            if let Some(tag) = &g.exact_tag() {
                if let Some(v) = git::version_from_tag(tag) {
                    c.offer(
                        spec::ANNOTATION_VERSION,
                        v,
                        Source::Git(format!("tag {tag}")),
                    );
                }
            }
        }
        if let Some(key) = ext("branch") {
            if let Some(b) = &g.branch {
                let what = if g.detached {
                    "branch at detached HEAD"
                } else {
                    "HEAD branch"
                };
                c.offer(&key, b.clone(), Source::Git(what.into()));
            }
        }
        let needs_dirty = opts.require_clean || ext("dirty").is_some_and(|k| !c.decided(&k));
        if needs_dirty && !g.bare {
            let (count, sample) = g.modified().map_err(Error::Git)?;
            if let Some(key) = ext("dirty") {
                c.offer(
                    &key,
                    (count > 0).to_string(),
                    Source::Git("status (tracked files)".into()),
                );
            }
            if opts.require_clean && count > 0 {
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
    }

    // 4. CI environment: fills what git could not tell
    if let Some(v) = &ci.revision {
        c.offer(
            spec::ANNOTATION_REVISION,
            v.value.clone(),
            Source::Ci(v.var),
        );
    }
    if let Some(v) = &ci.repository {
        c.offer(spec::ANNOTATION_SOURCE, v.value.clone(), Source::Ci(v.var));
    }
    if let Some(v) = &ci.tag {
        if let Some(version) = git::version_from_tag(&v.value) {
            c.offer(spec::ANNOTATION_VERSION, version, Source::Ci(v.var));
        }
    }
    if let Some(key) = ext("branch") {
        if let Some(v) = &ci.branch {
            c.offer(&key, v.value.clone(), Source::Ci(v.var));
        }
    }
    if let Some(key) = ext("pull-request") {
        if let Some(v) = &ci.pull_request {
            c.offer(&key, v.value.clone(), Source::Ci(v.var));
        }
    }
    if let Some(key) = ext("run-url") {
        if let Some(v) = &ci.run_url {
            c.offer(&key, v.value.clone(), Source::Ci(v.var));
        }
    }

    // 5. project files
    let root = git
        .as_ref()
        .map_or_else(|| opts.repo.clone(), |g| g.root.clone());
    let (project, problems) = if git.as_ref().is_some_and(|g| g.bare) {
        (None, Vec::new())
    } else {
        project::read(&root)
    };
    for p in problems {
        c.diagnostics.push(Diagnostic::warning(
            "project-file",
            "",
            format!("cannot read {}: {}", p.file, p.message),
        ));
    }
    if let Some(p) = &project {
        let file = p.file;
        let src = |field: &'static str| Source::Project(file, field);
        if let Some(v) = &p.version {
            c.offer(spec::ANNOTATION_VERSION, v.clone(), src("version"));
        }
        if let Some(l) = &p.license {
            if !c.decided(spec::ANNOTATION_LICENSES) {
                match annotations::spdx::canonicalise_declared(l) {
                    Ok((expr, original)) => {
                        c.offer_fact(
                            spec::ANNOTATION_LICENSES,
                            Fact {
                                value: expr,
                                source: src("license"),
                                note: original.map(|o| format!("canonicalised from `{o}`")),
                                levels: None,
                            },
                        );
                    }
                    Err(e) => c.diagnostics.push(
                        Diagnostic::warning(
                            "ignored-value",
                            spec::ANNOTATION_LICENSES,
                            format!("ignored the license in {file}: {e}"),
                        )
                        .hint("declare an SPDX expression, or pass --licenses"),
                    ),
                }
            }
        }
        if let Some(v) = &p.description {
            c.offer(spec::ANNOTATION_DESCRIPTION, v.clone(), src("description"));
        }
        if let Some(v) = &p.homepage {
            c.offer(spec::ANNOTATION_URL, v.clone(), src("homepage"));
        }
        if let Some(v) = &p.documentation {
            c.offer(
                spec::ANNOTATION_DOCUMENTATION,
                v.clone(),
                src("documentation"),
            );
        }
        if let Some(v) = &p.repository {
            if let Some(url) = remote::normalise(v) {
                c.offer(spec::ANNOTATION_SOURCE, url, src("repository"));
            }
        }
        if let Some(v) = &p.authors {
            c.offer(spec::ANNOTATION_AUTHORS, v.clone(), src("authors"));
        }
        if let Some(v) = &p.name {
            c.offer(spec::ANNOTATION_TITLE, v.clone(), src("name"));
        }
    }

    // 6. derived and detected: the lowest precedence
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
    if let Some(g) = &git {
        // An exact tag that is not a version (`nightly`) gave none: describe as git would.
        if !c.decided(spec::ANNOTATION_VERSION) {
            match g.describe() {
                git::Describe::Found {
                    tag,
                    distance,
                    short,
                } => {
                    let base = git::version_from_tag(&tag).unwrap_or(&tag);
                    let value = if distance == 0 {
                        base.to_string()
                    } else {
                        format!("{base}-{distance}-g{short}")
                    };
                    c.offer(
                        spec::ANNOTATION_VERSION,
                        value,
                        Source::Git(format!("describe (tag {tag})")),
                    );
                }
                git::Describe::GaveUp { walked } => c.diagnostics.push(
                    Diagnostic::warning(
                        "describe-gave-up",
                        spec::ANNOTATION_VERSION,
                        format!(
                            "no tag within {walked} commits of HEAD; no version from git describe"
                        ),
                    )
                    .hint("pass -a version=… or tag the release"),
                ),
                git::Describe::NoTags => {}
            }
        }
        if !g.bare {
            if let Some(name) = root.file_name().and_then(|n| n.to_str()) {
                c.offer(
                    spec::ANNOTATION_TITLE,
                    name,
                    Source::Derived("checkout directory name".into()),
                );
            }
        }
    }
    if !c.decided(spec::ANNOTATION_LICENSES)
        && !opts.no_detect
        && !git.as_ref().is_some_and(|g| g.bare)
    {
        if let Some(d) = license::detect(&root) {
            c.offer_fact(
                spec::ANNOTATION_LICENSES,
                Fact {
                    value: d.expression,
                    source: Source::LicenseFile(d.files.join(" + ")),
                    note: Some(format!("{:.0}% text match", d.score * 100.0)),
                    levels: None,
                },
            );
        }
    }

    // legacy label-schema keys mirror the final values
    if opts.label_schema {
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

    // policy
    for key in &opts.require {
        let full = match ns {
            Some(n) if EXTENSIONS.contains(&key.as_str()) => format!("{n}.{key}"),
            _ => annotations::expand_key(key),
        };
        if c.value(&full).is_none() {
            let hint = if ns.is_none() && EXTENSIONS.contains(&key.as_str()) {
                // `-a branch=…` would only make a key named `branch`
                format!("`{key}` is collected only under --namespace NS (as `NS.{key}`); add --namespace")
            } else {
                format!("pass -a {key}=… or run where it can be found (a git checkout, a CI job)")
            };
            c.diagnostics.push(
                Diagnostic::error(
                    "missing-required",
                    &full,
                    format!("`{full}` is required (--require) but no source provided it"),
                )
                .hint(hint),
            );
        }
    }
    Ok(c)
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
            Source::Project("Cargo.toml", "homepage")
        ));
        assert_eq!(c.diagnostics[0].code, "ignored-value");
        assert!(c.offer(
            spec::ANNOTATION_URL,
            "https://example.com",
            Source::Derived("x".into())
        ));
    }
}
