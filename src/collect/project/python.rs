//! Python: `pyproject.toml` (PEP 621 `[project]`, else `[tool.poetry]`) and `setup.cfg`
//! `[metadata]`. A version declared dynamic is read where the build backend would read it,
//! when that is a literal: `[tool.setuptools.dynamic]` `attr` (a `__version__ = "…"`
//! assignment in that module's file) or `file`, `[tool.hatch.version] path`, and setup.cfg's
//! `attr:`/`file:` forms. Anything else (a computed `__version__`, a missing file) leaves the
//! version out with a warning; a version from the VCS (`setuptools_scm`, hatch-vcs) is the
//! git tag's, which collection reads anyway.

use std::collections::BTreeMap;
use std::path::PathBuf;

use toml::Value as Toml;

use super::{
    join_authors, nonempty, parse_toml, person, toml_authors, toml_str, Input, ProjectFacts,
};

/// A `[project.urls]` label as PyPA's well-known-labels rule compares them: ASCII
/// punctuation and whitespace removed, lower case (`Source-Code` → `sourcecode`).
fn normalise_url_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The URL of the first well-known label present (labels compared normalised).
fn labelled_url<'a>(
    urls: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    labels: &[&str],
) -> Option<String> {
    labels.iter().find_map(|l| {
        urls.clone()
            .find(|(k, _)| normalise_url_label(k) == *l)
            .and_then(|(_, v)| nonempty(Some(v)))
    })
}

const HOMEPAGE: &[&str] = &["homepage", "home"];
const SOURCE: &[&str] = &[
    "source",
    "repository",
    "sourcecode",
    "github",
    "gitlab",
    "code",
];
const DOCS: &[&str] = &["documentation", "docs"];

fn pep621_people(v: Option<&Toml>) -> Option<String> {
    let list = v?.as_array()?;
    join_authors(
        list.iter()
            .filter_map(|p| {
                let t = p.as_table()?;
                person(toml_str(t, "name"), toml_str(t, "email"))
            })
            .collect(),
    )
}

/// The literal string assigned to `name` at the top level of a Python file
/// (`__version__ = "1.2.3"`, `__version__: str = '1.2.3'`).
fn python_assignment(text: &str, names: &[&str]) -> Option<String> {
    for line in text.lines() {
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let lhs = lhs.split(':').next().unwrap_or(lhs).trim_end();
        if !names.contains(&lhs) || rhs.starts_with('=') {
            continue;
        }
        let rhs = rhs.split(" #").next().unwrap_or(rhs).trim();
        for q in ['"', '\''] {
            if let Some(v) = rhs.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
                if !v.contains(q) && !v.contains('\\') {
                    return nonempty(Some(v));
                }
            }
        }
    }
    None
}

/// A file of the project, if it stays within the repository.
fn project_file(input: &Input<'_>, rel: &str) -> Option<PathBuf> {
    let path = input.dir.join(rel);
    let path = std::fs::canonicalize(path).ok()?;
    (path.starts_with(input.root) && path.is_file()).then_some(path)
}

/// Where `what` says the version is, read: `Ok((version, note))`, or why not.
fn dynamic_version(input: &Input<'_>, how: &Dynamic) -> Result<(String, String), String> {
    match how {
        Dynamic::Attr(attr, via) => {
            let Some((module, name)) = attr.rsplit_once('.') else {
                return Err(format!("{via} `attr = {attr:?}` names no module"));
            };
            let rel = module.replace('.', "/");
            let candidates = [
                format!("{rel}.py"),
                format!("{rel}/__init__.py"),
                format!("src/{rel}.py"),
                format!("src/{rel}/__init__.py"),
            ];
            let Some(path) = candidates.iter().find_map(|c| project_file(input, c)) else {
                return Err(format!(
                    "{via} `attr = {attr:?}`: no {rel}.py or {rel}/__init__.py (nor under src/) beside {}",
                    input.shown
                ));
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let shown = input.show(&path);
            python_assignment(&text, &[name])
                .map(|v| (v, format!("from `{name}` in {shown} ({via} attr)")))
                .ok_or_else(|| {
                    format!("{via} `attr = {attr:?}`: {shown} has no `{name} = \"…\"` literal")
                })
        }
        Dynamic::File(file, via) => {
            let Some(path) = project_file(input, file) else {
                return Err(format!(
                    "{via} `file = {file:?}`: no such file beside {}",
                    input.shown
                ));
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            nonempty(Some(&text))
                .filter(|v| !v.contains('\n'))
                .map(|v| (v, format!("from {} ({via} file)", input.show(&path))))
                .ok_or_else(|| format!("{via} `file = {file:?}` is not one line"))
        }
        Dynamic::Hatch(file) => {
            let Some(path) = project_file(input, file) else {
                return Err(format!(
                    "[tool.hatch.version] `path = {file:?}`: no such file beside {}",
                    input.shown
                ));
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let shown = input.show(&path);
            python_assignment(&text, &["__version__", "VERSION"])
                .map(|v| {
                    let v = v.strip_prefix('v').map(str::to_string).unwrap_or(v);
                    (v, format!("from {shown} ([tool.hatch.version] path)"))
                })
                .ok_or_else(|| {
                    format!("[tool.hatch.version] `path = {file:?}`: {shown} has no `__version__ = \"…\"` literal")
                })
        }
    }
}

enum Dynamic {
    /// `pkg.mod.__version__`, and which table said so.
    Attr(String, &'static str),
    File(String, &'static str),
    Hatch(String),
}

fn read_dynamic(input: &Input<'_>, facts: &mut ProjectFacts, how: Option<Dynamic>) {
    let Some(how) = how else {
        return;
    };
    match dynamic_version(input, &how) {
        Ok((v, note)) => {
            facts.version = Some(v);
            facts.noted("version", note);
        }
        Err(e) => facts.warn(
            "version",
            format!("the dynamic version of {} is not read: {e}", input.shown),
            "pass -a version=…, or tag the release",
        ),
    }
}

pub(super) fn read_pyproject(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let doc = parse_toml(input.text)?;
    let tool = doc.get("tool").and_then(Toml::as_table);
    if let Some(project) = doc.get("project").and_then(Toml::as_table) {
        let urls: Vec<(&str, &str)> = project
            .get("urls")
            .and_then(Toml::as_table)
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                    .collect()
            })
            .unwrap_or_default();
        let license = match project.get("license") {
            Some(Toml::String(s)) => nonempty(Some(s)),
            Some(Toml::Table(t)) => nonempty(toml_str(t, "text")),
            _ => None,
        };
        // `license = { file = "LICENSE.txt" }`: the license is that file's text.
        let license_file = project
            .get("license")
            .and_then(Toml::as_table)
            .filter(|_| license.is_none())
            .and_then(|t| super::relative_file(toml_str(t, "file")?));
        let authors = pep621_people(project.get("authors"))
            .or_else(|| pep621_people(project.get("maintainers")));
        let mut facts = ProjectFacts {
            name: nonempty(toml_str(project, "name")),
            version: nonempty(toml_str(project, "version")),
            license,
            license_file,
            description: nonempty(toml_str(project, "description")),
            homepage: labelled_url(urls.iter().copied(), HOMEPAGE),
            repository: labelled_url(urls.iter().copied(), SOURCE),
            documentation: labelled_url(urls.iter().copied(), DOCS),
            authors,
            ..ProjectFacts::default()
        };
        let dynamic = project
            .get("dynamic")
            .and_then(Toml::as_array)
            .is_some_and(|d| d.iter().any(|v| v.as_str() == Some("version")));
        if facts.version.is_none() && dynamic {
            let setuptools = tool
                .and_then(|t| t.get("setuptools"))
                .and_then(|s| s.get("dynamic"))
                .and_then(|d| d.get("version"));
            let hatch = tool
                .and_then(|t| t.get("hatch"))
                .and_then(|h| h.get("version"))
                .and_then(|v| v.get("path"))
                .and_then(Toml::as_str);
            const VIA: &str = "[tool.setuptools.dynamic] version";
            let how = match setuptools {
                Some(v) if v.get("attr").is_some() => v
                    .get("attr")
                    .and_then(Toml::as_str)
                    .map(|a| Dynamic::Attr(a.trim().to_string(), VIA)),
                Some(v) => match v.get("file") {
                    Some(Toml::String(f)) => Some(Dynamic::File(f.clone(), VIA)),
                    Some(Toml::Array(a)) if a.len() == 1 => {
                        a[0].as_str().map(|f| Dynamic::File(f.to_string(), VIA))
                    }
                    _ => None,
                },
                None => hatch.map(|p| Dynamic::Hatch(p.to_string())),
            };
            read_dynamic(input, &mut facts, how);
        }
        return Ok(Some(facts));
    }
    let Some(poetry) = tool.and_then(|t| t.get("poetry")).and_then(Toml::as_table) else {
        return Ok(None);
    };
    let authors = poetry
        .get("authors")
        .and_then(toml_authors)
        .or_else(|| poetry.get("maintainers").and_then(toml_authors));
    Ok(Some(ProjectFacts {
        name: nonempty(toml_str(poetry, "name")),
        version: nonempty(toml_str(poetry, "version")),
        license: nonempty(toml_str(poetry, "license")),
        description: nonempty(toml_str(poetry, "description")),
        homepage: nonempty(toml_str(poetry, "homepage")),
        repository: nonempty(toml_str(poetry, "repository")),
        documentation: nonempty(toml_str(poetry, "documentation")),
        authors,
        ..ProjectFacts::default()
    }))
}

/// An INI file as Python's configparser reads setup.cfg: `[section]`, `key = value` or
/// `key: value`, indented continuation lines, `#`/`;` comment lines. Keys lower case.
fn parse_ini(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut section = String::new();
    let mut last: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(key) = &last {
                if let Some(v) = out.get_mut(&section).and_then(|s| s.get_mut(key)) {
                    v.push('\n');
                    v.push_str(trimmed);
                }
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_string();
            last = None;
            continue;
        }
        let at = trimmed.find(['=', ':']);
        if let Some(at) = at {
            let key = trimmed[..at].trim().to_lowercase().replace('-', "_");
            let value = trimmed[at + 1..].trim().to_string();
            out.entry(section.clone())
                .or_default()
                .insert(key.clone(), value);
            last = Some(key);
        }
    }
    out
}

pub(super) fn read_setup_cfg(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let ini = parse_ini(input.text);
    let Some(meta) = ini.get("metadata") else {
        return Ok(None); // tool configuration only (flake8, pytest, …)
    };
    let get = |k: &str| nonempty(meta.get(k).map(String::as_str));
    if get("name").is_none() && get("version").is_none() {
        return Ok(None);
    }
    let urls: Vec<(&str, &str)> = meta
        .get("project_urls")
        .map(|v| {
            v.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.trim(), v.trim()))
                .collect()
        })
        .unwrap_or_default();
    let authors = person(get("author").as_deref(), get("author_email").as_deref()).or_else(|| {
        person(
            get("maintainer").as_deref(),
            get("maintainer_email").as_deref(),
        )
    });
    let mut facts = ProjectFacts {
        name: get("name"),
        description: get("description"),
        homepage: get("url")
            .or_else(|| get("home_page"))
            .or_else(|| labelled_url(urls.iter().copied(), HOMEPAGE)),
        repository: labelled_url(urls.iter().copied(), SOURCE),
        documentation: labelled_url(urls.iter().copied(), DOCS),
        license: get("license"),
        authors,
        ..ProjectFacts::default()
    };
    const VIA: &str = "setup.cfg version";
    match get("version") {
        Some(v) if v.starts_with("attr:") => {
            let attr = v["attr:".len()..].trim().to_string();
            read_dynamic(input, &mut facts, Some(Dynamic::Attr(attr, VIA)));
        }
        Some(v) if v.starts_with("file:") => {
            let file = v["file:".len()..].trim().to_string();
            read_dynamic(input, &mut facts, Some(Dynamic::File(file, VIA)));
        }
        v => facts.version = v,
    }
    Ok(Some(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_files(
        name: &str,
        text: &str,
        files: &[(&str, &str)],
        reader: fn(&Input<'_>) -> Result<Option<ProjectFacts>, String>,
    ) -> Result<Option<ProjectFacts>, String> {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        for (f, t) in files {
            let p = root.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, t).unwrap();
        }
        let path = root.join(name);
        reader(&Input {
            shown: name,
            path: &path,
            dir: &root,
            root: &root,
            text,
        })
    }

    fn pyproject(text: &str) -> Result<Option<ProjectFacts>, String> {
        with_files("pyproject.toml", text, &[], read_pyproject)
    }

    #[test]
    fn pyproject_pep621_and_poetry() {
        let f = pyproject(
            r#"
[project]
name = "pkg"
version = "2.0"
license = { text = "BSD-3-Clause" }
authors = [{ name = "Ann", email = "ann@x" }]
[project.urls]
Homepage = "https://pkg.example"
Source = "https://github.com/o/pkg"
Documentation = "https://docs.pkg.example"
"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.license.as_deref(), Some("BSD-3-Clause"));
        assert_eq!(f.repository.as_deref(), Some("https://github.com/o/pkg"));
        assert_eq!(f.documentation.as_deref(), Some("https://docs.pkg.example"));
        assert_eq!(f.authors.as_deref(), Some("Ann <ann@x>"));
        // well-known labels in their other spellings (attrs: `GitHub`; `Source-Code`; `Home Page`)
        let f = pyproject(
            "[project]\nname='a'\n[project.urls]\nGitHub='https://github.com/o/a'\n\
             'Home Page'='https://a.example'\nDOCS='https://docs.a.example'\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.repository.as_deref(), Some("https://github.com/o/a"));
        assert_eq!(f.homepage.as_deref(), Some("https://a.example"));
        assert_eq!(f.documentation.as_deref(), Some("https://docs.a.example"));
        // `Source` is preferred to `GitHub` whatever the order in the table
        let f = pyproject(
            "[project]\nname='a'\n[project.urls]\nGitHub='https://github.com/o/mirror'\n\
             Source-Code='https://git.example/o/a'\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.repository.as_deref(), Some("https://git.example/o/a"));
        let p = pyproject(
            "[tool.poetry]\nname='x'\nversion='0.1.0'\nlicense='MIT'\nmaintainers=['M <m@x>']\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.version.as_deref(), Some("0.1.0"));
        assert_eq!(p.authors.as_deref(), Some("M <m@x>"));
        assert_eq!(pyproject("[build-system]\nrequires=[]\n").unwrap(), None);
        // maintainers when there are no authors
        let f = pyproject("[project]\nname='a'\nmaintainers=[{name='Mo'}]\n")
            .unwrap()
            .unwrap();
        assert_eq!(f.authors.as_deref(), Some("Mo"));
    }

    #[test]
    fn dynamic_versions() {
        let attr = "[project]\nname='p'\ndynamic=['version']\n\
                    [tool.setuptools.dynamic]\nversion={attr='p.about.__version__'}\n";
        let f = with_files(
            "pyproject.toml",
            attr,
            &[(
                "src/p/about.py",
                "import os\n__version__: str = '1.5.0'  # the release\n",
            )],
            read_pyproject,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.version.as_deref(), Some("1.5.0"));
        assert!(f.note("version").unwrap().contains("src/p/about.py"));
        // a computed version is left out with a warning
        let f = with_files(
            "pyproject.toml",
            attr,
            &[("p/about.py", "__version__ = '.'.join(map(str, VERSION))\n")],
            read_pyproject,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.version, None);
        assert!(f.warnings[0]
            .message
            .contains("no `__version__ = \"…\"` literal"));
        let f = with_files(
            "pyproject.toml",
            "[project]\nname='p'\ndynamic=['version']\n[tool.hatch.version]\npath='p/__about__.py'\n",
            &[("p/__about__.py", "__version__ = \"v0.9.1\"\n")],
            read_pyproject,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.version.as_deref(), Some("0.9.1"));
        let f = with_files(
            "pyproject.toml",
            "[project]\nname='p'\ndynamic=['version']\n[tool.setuptools.dynamic]\nversion={file='VERSION'}\n",
            &[("VERSION", "3.1.4\n")],
            read_pyproject,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.version.as_deref(), Some("3.1.4"));
    }

    #[test]
    fn setup_cfg_metadata() {
        let cfg = "[metadata]\nname = legacy\nversion = attr: legacy.__version__\n\
                   description = Old style\nurl = https://legacy.example\nlicense = MIT\n\
                   maintainer = Mae\nmaintainer_email = mae@x\nproject_urls =\n    \
                   Source = https://github.com/o/legacy\n\n[flake8]\nmax-line-length = 99\n";
        let f = with_files(
            "setup.cfg",
            cfg,
            &[("legacy/__init__.py", "__version__ = \"4.0.0\"\n")],
            read_setup_cfg,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.name.as_deref(), Some("legacy"));
        assert_eq!(f.version.as_deref(), Some("4.0.0"));
        assert_eq!(f.homepage.as_deref(), Some("https://legacy.example"));
        assert_eq!(f.repository.as_deref(), Some("https://github.com/o/legacy"));
        assert_eq!(f.authors.as_deref(), Some("Mae <mae@x>"));
        // tool configuration only: no package
        assert_eq!(
            with_files("setup.cfg", "[flake8]\nx = 1\n", &[], read_setup_cfg).unwrap(),
            None
        );
    }
}
