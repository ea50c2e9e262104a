//! The policy file, `oci-stamp.toml` at the repository root (or `--policy FILE`,
//! `OCI_STAMP_POLICY`): the organisation's rules for every command that collects.
//!
//! ```toml
//! require = ["revision", "source"]
//! require-clean = true
//! namespace = "com.example"
//! levels = "index,manifest"
//! label-schema = false
//!
//! [annotations]                       # fixed values; flags and -a still win
//! vendor = "Example Corp"
//! "index,manifest:documentation" = "https://docs.example.com"
//!
//! [licenses]
//! allow = ["MIT", "Apache-2.0", "LLVM-exception"]
//! deny = ["GPL-3.0-only"]
//! ```
//!
//! The file is read here, and only read: the license rule is the model's
//! ([`crate::annotations::license_policy`]). Unknown keys (with a did-you-mean) and wrong
//! types (with their line) are errors (exit 2).

use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::AnnotationArg;
use crate::annotations::Levels;
use crate::error::Error;

/// The file looked for at the repository root.
pub(crate) const FILE_NAME: &str = "oci-stamp.toml";

/// A policy file, read and checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Policy {
    /// Where it was read from (`--explain` names it).
    pub(crate) path: PathBuf,
    /// As `--require` takes them (short names, extension names).
    pub(crate) require: Vec<String>,
    pub(crate) require_clean: Option<bool>,
    pub(crate) namespace: Option<String>,
    pub(crate) levels: Option<Levels>,
    pub(crate) label_schema: Option<bool>,
    pub(crate) annotations: Vec<AnnotationArg>,
    /// `None`: no allow list (every license not denied is allowed).
    pub(crate) allow: Option<Vec<String>>,
    pub(crate) deny: Vec<String>,
}

const TOP: &[&str] = &[
    "require",
    "require-clean",
    "namespace",
    "levels",
    "label-schema",
    "annotations",
    "licenses",
];
const LICENSES: &[&str] = &["allow", "deny"];

/// The policy for a run: `explicit` (`--policy`), else `oci-stamp.toml` at the root of the
/// repository holding `repo` (else in `repo`), when there is one.
pub(crate) fn load(explicit: Option<&Path>, repo: &Path) -> Result<Option<Policy>, Error> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let root = work_tree_root(repo).unwrap_or_else(|| repo.to_path_buf());
            let p = root.join(FILE_NAME);
            if !p.is_file() {
                return Ok(None);
            }
            p
        }
    };
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    parse(&path, &text)
        .map(Some)
        .map_err(|message| Error::BadInput { path, message })
}

/// The work tree holding `dir`: the nearest of it and its parents with a `.git` (a
/// directory, or a worktree's or submodule's `.git` file), as git discovers a repository.
/// `None` when there is none, or a bare repository (a directory holding `HEAD`, `objects`
/// and `refs` itself) comes first: it has no work tree. This costs a few `lstat` calls,
/// where opening the repository through libgit2 (its configuration files and all) was a
/// tenth of a whole `flags` run; collection opens it once, later.
fn work_tree_root(dir: &Path) -> Option<PathBuf> {
    let dir = std::path::absolute(dir).ok()?;
    for d in dir.ancestors() {
        if d.join(".git").symlink_metadata().is_ok() {
            return Some(d.to_path_buf());
        }
        if d.join("HEAD").is_file() && d.join("objects").is_dir() && d.join("refs").is_dir() {
            return None;
        }
    }
    None
}

/// The line of a byte offset, counted from 1.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

struct Reader<'t> {
    text: &'t str,
}

impl Reader<'_> {
    fn at(&self, span: std::ops::Range<usize>, message: String) -> String {
        format!("line {}: {message}", line_of(self.text, span.start))
    }

    fn wrong(&self, name: &str, v: &Spanned<DeValue<'_>>, want: &str) -> String {
        self.at(
            v.span(),
            format!("`{name}` must be {want}, not {}", type_name(v.get_ref())),
        )
    }

    fn unknown(
        &self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        known: &[&str],
        within: &str,
    ) -> String {
        let name = key.get_ref().as_ref();
        let near = known
            .iter()
            .map(|k| (strsim::jaro_winkler(name, k), *k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        self.at(
            key.span(),
            format!(
                "unknown key `{}`{within}{near}; known: {}",
                name.escape_debug(),
                known.join(", ")
            ),
        )
    }

    fn string(&self, name: &str, v: &Spanned<DeValue<'_>>) -> Result<String, String> {
        match v.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            _ => Err(self.wrong(name, v, "a string")),
        }
    }

    fn boolean(&self, name: &str, v: &Spanned<DeValue<'_>>) -> Result<bool, String> {
        match v.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong(name, v, "true or false")),
        }
    }

    fn strings(&self, name: &str, v: &Spanned<DeValue<'_>>) -> Result<Vec<String>, String> {
        match v.get_ref() {
            DeValue::Array(items) => items
                .iter()
                .map(|item| match item.get_ref() {
                    DeValue::String(s) => Ok(s.to_string()),
                    _ => Err(self.wrong(&format!("{name}` item `"), item, "a string")),
                })
                .collect(),
            _ => Err(self.wrong(name, v, "an array of strings")),
        }
    }

    fn table<'a, 'i>(
        &self,
        name: &str,
        v: &'a Spanned<DeValue<'i>>,
    ) -> Result<&'a DeTable<'i>, String> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            _ => Err(self.wrong(name, v, "a table")),
        }
    }
}

/// The policy's fixed annotations, offered below flags, `-a` and the annotation file.
pub(super) fn offer(cx: &super::Context<'_>, c: &mut super::Collected) -> Result<(), Error> {
    if let Some(p) = &cx.opts.policy {
        let shown = p.path.display().to_string();
        for arg in &p.annotations {
            c.offer_fact(
                &arg.key,
                super::Fact {
                    value: arg.value.clone(),
                    source: super::Source::Policy(shown.clone()),
                    note: None,
                    levels: arg.levels.clone(),
                },
            );
        }
    }
    Ok(())
}

/// The policy's `[licenses]` rule on the collected `licenses`.
pub(super) fn check_licenses(cx: &super::Context<'_>, c: &mut super::Collected) {
    let Some(p) = &cx.opts.policy else { return };
    if p.allow.is_none() && p.deny.is_empty() {
        return;
    }
    let key = crate::annotations::spec::ANNOTATION_LICENSES;
    let shown = p.path.display().to_string();
    match c.value(key).map(str::to_string) {
        Some(value) => c
            .diagnostics
            .extend(crate::annotations::license_policy::check(
                key,
                &value,
                p.allow.as_deref(),
                &p.deny,
                &shown,
            )),
        None => c.diagnostics.push(
            crate::annotations::Diagnostic::warning(
                "license-not-allowed",
                key,
                format!("no `{key}` value to check against the policy's [licenses] ({shown})"),
            )
            .hint("declare the license in the project file, or give --licenses"),
        ),
    }
}

/// A license or exception identifier the policy may name.
fn check_license_id(
    r: &Reader<'_>,
    list: &str,
    v: &Spanned<DeValue<'_>>,
    id: &str,
) -> Result<(), String> {
    let known = spdx::license_id(id).is_some()
        || spdx::exception_id(id).is_some()
        || id.starts_with("LicenseRef-")
        || id.starts_with("AdditionRef-");
    if known {
        return Ok(());
    }
    let hint = spdx::imprecise_license_id(id)
        .map(|(l, _)| format!(" (did you mean `{}`?)", l.name))
        .unwrap_or_default();
    Err(r.at(
        v.span(),
        format!(
            "`[licenses] {list}`: `{}` is no SPDX license or exception identifier{hint}",
            id.escape_debug()
        ),
    ))
}

/// Parses and checks a policy file's text; the error names the line.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Policy, String> {
    let root = DeTable::parse(text).map_err(|e| match e.span() {
        Some(span) => format!("line {}: {}", line_of(text, span.start), e.message()),
        None => e.message().to_string(),
    })?;
    let r = Reader { text };
    let mut p = Policy {
        path: path.to_path_buf(),
        ..Policy::default()
    };
    for (key, value) in root.get_ref().iter() {
        match key.get_ref().as_ref() {
            "require" => {
                p.require = r
                    .strings("require", value)?
                    .iter()
                    .map(|k| k.trim().to_string())
                    .filter(|k| !k.is_empty())
                    .collect();
            }
            "require-clean" => p.require_clean = Some(r.boolean("require-clean", value)?),
            "label-schema" => p.label_schema = Some(r.boolean("label-schema", value)?),
            "namespace" => p.namespace = Some(r.string("namespace", value)?),
            "levels" => {
                let s = r.string("levels", value)?;
                p.levels = Some(
                    s.parse::<Levels>()
                        .map_err(|e| r.at(value.span(), format!("`levels`: {e}")))?,
                );
            }
            "annotations" => {
                for (k, v) in r.table("annotations", value)?.iter() {
                    let name = k.get_ref().as_ref();
                    let value_text = r.string(&format!("annotations.{name}"), v)?;
                    let arg: AnnotationArg = format!("{name}={value_text}")
                        .parse()
                        .map_err(|e: String| r.at(k.span(), format!("`[annotations]`: {e}")))?;
                    p.annotations.push(arg);
                }
            }
            "licenses" => {
                for (k, v) in r.table("licenses", value)?.iter() {
                    let list = k.get_ref().as_ref();
                    if !LICENSES.contains(&list) {
                        return Err(r.unknown(k, LICENSES, " in [licenses]"));
                    }
                    let ids = r.strings(list, v)?;
                    if let DeValue::Array(items) = v.get_ref() {
                        for (item, id) in items.iter().zip(&ids) {
                            check_license_id(&r, list, item, id)?;
                        }
                    }
                    if list == "allow" {
                        p.allow = Some(ids);
                    } else {
                        p.deny = ids;
                    }
                }
            }
            _ => return Err(r.unknown(key, TOP, "")),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Policy, String> {
        parse(Path::new("oci-stamp.toml"), text)
    }

    #[test]
    fn a_complete_policy() {
        let p = parsed(
            "require = [\"revision\", \"com.example.x\"]\nrequire-clean = true\nnamespace = \"com.example\"\nlevels = \"index,manifest\"\nlabel-schema = true\n[annotations]\nvendor = \"Example\"\n\"index:documentation\" = \"https://docs.example.com\"\n[licenses]\nallow = [\"MIT\", \"Apache-2.0\", \"LLVM-exception\"]\ndeny = [\"GPL-3.0-only\"]\n",
        )
        .unwrap();
        assert_eq!(p.require, ["revision", "com.example.x"]);
        assert_eq!(p.require_clean, Some(true));
        assert_eq!(p.label_schema, Some(true));
        assert_eq!(p.levels.unwrap().to_string(), "index,manifest");
        assert_eq!(p.annotations.len(), 2);
        let by_key = |k: &str| p.annotations.iter().find(|a| a.key == k).expect(k);
        assert_eq!(by_key("org.opencontainers.image.vendor").value, "Example");
        let docs = by_key("org.opencontainers.image.documentation");
        assert_eq!(docs.levels.as_ref().unwrap().to_string(), "index");
        assert_eq!(p.allow.unwrap().len(), 3);
        assert_eq!(p.deny, ["GPL-3.0-only"]);
    }

    #[test]
    fn the_example_file_is_a_valid_policy() {
        let p = parsed(include_str!("../../examples/oci-stamp.toml")).unwrap();
        assert_eq!(p.require, ["revision", "source"]);
        assert!(p.allow.is_some() && !p.deny.is_empty());
    }

    #[test]
    fn every_malformed_file_names_its_line() {
        let cases = [
            (
                "requir = []\n",
                "line 1: unknown key `requir` (did you mean `require`?)",
            ),
            (
                "\n\nrequire-clean = \"yes\"\n",
                "line 3: `require-clean` must be true or false, not a string",
            ),
            (
                "require = \"revision\"\n",
                "line 1: `require` must be an array of strings",
            ),
            ("require = [1]\n", "line 1:"),
            (
                "[licenses]\nalow = []\n",
                "line 2: unknown key `alow` in [licenses] (did you mean `allow`?)",
            ),
            (
                "[licenses]\nallow = [\"MTI\"]\n",
                "line 2: `[licenses] allow`: `MTI` is no SPDX",
            ),
            ("levels = \"manifests\"\n", "line 1: `levels`:"),
            (
                "[annotations]\nversion = 1\n",
                "line 2: `annotations.version` must be a string, not an integer",
            ),
            (
                "[annotations]\n\"bogus:version\" = \"1\"\n",
                "line 2: `[annotations]`:",
            ),
            ("annotations = 3\n", "line 1: `annotations` must be a table"),
            ("require = [\n", "line "),
        ];
        for (text, want) in cases {
            let e = parsed(text).expect_err(text);
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }
}
