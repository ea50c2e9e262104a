//! Project files at the repository root — `Cargo.toml`, `pyproject.toml`, `package.json` —
//! and what they declare: name, version, license, description, URLs, authors.
//!
//! The first of these files that declares a package is used, and only that one, so that a
//! name never comes from one ecosystem and a version from another.

use std::path::Path;

use serde_json::Value as Json;
use toml::{Table, Value as Toml};

/// What one project file declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProjectFacts {
    /// The file it came from (`Cargo.toml`).
    pub(crate) file: &'static str,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) license: Option<String>,
    /// The license file a project file points at instead (npm's `SEE LICENSE IN <file>`).
    pub(crate) license_file: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) homepage: Option<String>,
    pub(crate) repository: Option<String>,
    pub(crate) documentation: Option<String>,
    pub(crate) authors: Option<String>,
}

/// A project file that exists but cannot be read is reported, not fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectProblem {
    pub(crate) file: &'static str,
    pub(crate) message: String,
}

type Reader = fn(&str) -> Result<Option<ProjectFacts>, String>;

const FILES: &[(&str, Reader)] = &[
    ("Cargo.toml", read_cargo),
    ("pyproject.toml", read_pyproject),
    ("package.json", read_package_json),
];

/// Reads the first project file at `root` that declares a package.
pub(crate) fn read(root: &Path) -> (Option<ProjectFacts>, Vec<ProjectProblem>) {
    let mut problems = Vec::new();
    for (file, reader) in FILES {
        let path = root.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        match reader(&text) {
            Ok(Some(mut facts)) => {
                facts.file = file;
                return (Some(facts), problems);
            }
            Ok(None) => {}
            Err(message) => problems.push(ProjectProblem { file, message }),
        }
    }
    (None, problems)
}

/// A file named by a project file, inside the checkout (`./LICENSE.md` → `LICENSE.md`).
fn relative_file(name: &str) -> Option<String> {
    let rel = name.trim().trim_start_matches("./");
    (!rel.is_empty() && !rel.starts_with('/') && !rel.split('/').any(|p| p == ".."))
        .then(|| rel.to_string())
}

fn nonempty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn join_authors(list: Vec<String>) -> Option<String> {
    let list: Vec<String> = list.into_iter().filter(|s| !s.trim().is_empty()).collect();
    (!list.is_empty()).then(|| list.join(", "))
}

fn parse_toml(text: &str) -> Result<Table, String> {
    text.parse::<Table>().map_err(|e| {
        let msg = e.to_string();
        msg.lines().next().unwrap_or("invalid TOML").to_string()
    })
}

fn toml_str<'a>(t: &'a Table, key: &str) -> Option<&'a str> {
    t.get(key).and_then(Toml::as_str)
}

/// An array of author strings (`["A <a@x>", "B"]`), joined.
fn toml_authors(v: &Toml) -> Option<String> {
    let list = v.as_array()?;
    join_authors(
        list.iter()
            .filter_map(Toml::as_str)
            .map(str::to_string)
            .collect(),
    )
}

fn read_cargo(text: &str) -> Result<Option<ProjectFacts>, String> {
    let doc = parse_toml(text)?;
    let Some(package) = doc.get("package").and_then(Toml::as_table) else {
        return Ok(None); // a virtual workspace
    };
    let inherited = doc
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(Toml::as_table);
    // `field.workspace = true` takes the value from [workspace.package] of the same file.
    let field = |key: &str| -> Option<&Toml> {
        match package.get(key) {
            Some(Toml::Table(t)) if t.get("workspace").and_then(Toml::as_bool) == Some(true) => {
                inherited.and_then(|w| w.get(key))
            }
            other => other,
        }
    };
    let s = |key: &str| nonempty(field(key).and_then(Toml::as_str));
    let authors = field("authors").and_then(toml_authors);
    let license = s("license");
    let license_file = s("license-file")
        .filter(|_| license.is_none())
        .and_then(|f| relative_file(&f));
    Ok(Some(ProjectFacts {
        name: s("name"),
        version: s("version"),
        license,
        license_file,
        description: s("description"),
        homepage: s("homepage"),
        repository: s("repository"),
        documentation: s("documentation"),
        authors,
        ..ProjectFacts::default()
    }))
}

/// A `[project.urls]` label as PyPA's well-known-labels rule compares them: ASCII
/// punctuation and whitespace removed, lower case (`Source-Code` → `sourcecode`).
fn normalise_url_label(label: &str) -> String {
    label
        .chars()
        .filter(|c| !c.is_ascii_punctuation() && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn pep621_person(v: &Toml) -> Option<String> {
    let t = v.as_table()?;
    match (toml_str(t, "name"), toml_str(t, "email")) {
        (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(e)) => Some(e.to_string()),
        (None, None) => None,
    }
}

fn read_pyproject(text: &str) -> Result<Option<ProjectFacts>, String> {
    let doc = parse_toml(text)?;
    if let Some(project) = doc.get("project").and_then(Toml::as_table) {
        let urls = project.get("urls").and_then(Toml::as_table);
        // PEP 621 leaves the [project.urls] labels free. PyPA's well-known labels are
        // compared normalised (`Source Code`, `source-code` → `sourcecode`), and the first
        // label of the list that is present wins.
        let url = |labels: &[&str]| -> Option<String> {
            let urls = urls?;
            labels.iter().find_map(|l| {
                urls.iter()
                    .find(|(k, _)| normalise_url_label(k) == *l)
                    .and_then(|(_, v)| nonempty(v.as_str()))
            })
        };
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
            .and_then(|t| relative_file(toml_str(t, "file")?));
        let authors = project
            .get("authors")
            .and_then(Toml::as_array)
            .map(|a| a.iter().filter_map(pep621_person).collect())
            .and_then(join_authors);
        return Ok(Some(ProjectFacts {
            name: nonempty(toml_str(project, "name")),
            version: nonempty(toml_str(project, "version")),
            license,
            license_file,
            description: nonempty(toml_str(project, "description")),
            homepage: url(&["homepage", "home"]),
            repository: url(&[
                "source",
                "repository",
                "sourcecode",
                "github",
                "gitlab",
                "code",
            ]),
            documentation: url(&["documentation", "docs"]),
            authors,
            ..ProjectFacts::default()
        }));
    }
    let Some(poetry) = doc
        .get("tool")
        .and_then(|t| t.get("poetry"))
        .and_then(Toml::as_table)
    else {
        return Ok(None);
    };
    let authors = poetry.get("authors").and_then(toml_authors);
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

fn npm_person(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => nonempty(Some(s)),
        Json::Object(o) => {
            let name = o.get("name").and_then(Json::as_str);
            let email = o.get("email").and_then(Json::as_str);
            match (name, email) {
                (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
                (Some(n), None) => Some(n.to_string()),
                (None, Some(e)) => Some(e.to_string()),
                (None, None) => None,
            }
        }
        _ => None,
    }
}

/// npm's repository shorthands: `github:o/r`, `gitlab:g/p`, `bitbucket:o/r`, bare `o/r`.
fn npm_repository(s: &str) -> String {
    for (prefix, host) in [
        ("github:", "github.com"),
        ("gitlab:", "gitlab.com"),
        ("bitbucket:", "bitbucket.org"),
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            return format!("https://{host}/{rest}");
        }
    }
    let parts: Vec<&str> = s.split('/').collect();
    if parts.len() == 2 && !s.contains(':') && !s.starts_with('.') {
        return format!("https://github.com/{s}");
    }
    s.to_string()
}

fn read_package_json(text: &str) -> Result<Option<ProjectFacts>, String> {
    let doc: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(o) = doc.as_object() else {
        return Err("the top level is not a JSON object".into());
    };
    let s = |k: &str| nonempty(o.get(k).and_then(Json::as_str));
    let license_type = |v: &Json| match v {
        Json::String(s) => nonempty(Some(s)),
        Json::Object(l) => nonempty(l.get("type").and_then(Json::as_str)),
        _ => None,
    };
    let mut license = o.get("license").and_then(license_type);
    // The legacy `licenses` array: a choice of the licenses listed.
    if license.is_none() {
        let listed: Vec<String> = o
            .get("licenses")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(license_type).collect())
            .unwrap_or_default();
        license = match listed.as_slice() {
            [] => None,
            [one] => Some(one.clone()),
            more => Some(
                more.iter()
                    .map(|l| {
                        if l.contains(' ') {
                            format!("({l})")
                        } else {
                            l.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" OR "),
            ),
        };
    }
    // `SEE LICENSE IN <file>`: the license is that file's text.
    let license_file = license
        .as_deref()
        .and_then(|l| relative_file(l.strip_prefix("SEE LICENSE IN ")?));
    if license_file.is_some() {
        license = None;
    }
    let repository = match o.get("repository") {
        Some(Json::String(s)) => nonempty(Some(s)).map(|s| npm_repository(&s)),
        Some(Json::Object(r)) => nonempty(r.get("url").and_then(Json::as_str)),
        _ => None,
    };
    let mut people: Vec<String> = o.get("author").and_then(npm_person).into_iter().collect();
    if let Some(list) = o.get("contributors").and_then(Json::as_array) {
        if people.is_empty() {
            people.extend(list.iter().filter_map(npm_person));
        }
    }
    Ok(Some(ProjectFacts {
        name: s("name"),
        version: s("version"),
        license,
        license_file,
        description: s("description"),
        homepage: s("homepage"),
        repository,
        documentation: None,
        authors: join_authors(people),
        ..ProjectFacts::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_with_workspace_inheritance() {
        let f = read_cargo(
            r#"
[workspace.package]
version = "1.4.0"
license = "MIT/Apache-2.0"
[package]
name = "demo"
version.workspace = true
license.workspace = true
authors = ["A <a@x>", "B"]
repository = "https://github.com/o/demo"
"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.name.as_deref(), Some("demo"));
        assert_eq!(f.version.as_deref(), Some("1.4.0"));
        assert_eq!(f.license.as_deref(), Some("MIT/Apache-2.0"));
        assert_eq!(f.authors.as_deref(), Some("A <a@x>, B"));
        assert_eq!(read_cargo("[workspace]\nmembers=[]\n").unwrap(), None);
        assert!(read_cargo("[package\n").is_err());
    }

    #[test]
    fn pyproject_pep621_and_poetry() {
        let f = read_pyproject(
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
        let f = read_pyproject(
            "[project]\nname='a'\n[project.urls]\nGitHub='https://github.com/o/a'\n\
             'Home Page'='https://a.example'\nDOCS='https://docs.a.example'\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.repository.as_deref(), Some("https://github.com/o/a"));
        assert_eq!(f.homepage.as_deref(), Some("https://a.example"));
        assert_eq!(f.documentation.as_deref(), Some("https://docs.a.example"));
        // `Source` is preferred to `GitHub` whatever the order in the table
        let f = read_pyproject(
            "[project]\nname='a'\n[project.urls]\nGitHub='https://github.com/o/mirror'\n\
             Source-Code='https://git.example/o/a'\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.repository.as_deref(), Some("https://git.example/o/a"));
        let p = read_pyproject("[tool.poetry]\nname='x'\nversion='0.1.0'\nlicense='MIT'\n")
            .unwrap()
            .unwrap();
        assert_eq!(p.version.as_deref(), Some("0.1.0"));
        assert_eq!(
            read_pyproject("[build-system]\nrequires=[]\n").unwrap(),
            None
        );
    }

    #[test]
    fn package_json_forms() {
        let f = read_package_json(
            r#"{"name":"@s/web","version":"3.1.0","license":{"type":"ISC"},
                "repository":"github:o/web","author":{"name":"Bo","email":"bo@x"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.license.as_deref(), Some("ISC"));
        assert_eq!(f.repository.as_deref(), Some("https://github.com/o/web"));
        assert_eq!(f.authors.as_deref(), Some("Bo <bo@x>"));
        let f = read_package_json(r#"{"name":"a","license":"SEE LICENSE IN ./LICENSE.md"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(
            (f.license, f.license_file.as_deref()),
            (None, Some("LICENSE.md"))
        );
        let f =
            read_package_json(r#"{"name":"a","licenses":[{"type":"MIT"},{"type":"Apache-2.0"}]}"#)
                .unwrap()
                .unwrap();
        assert_eq!(f.license.as_deref(), Some("MIT OR Apache-2.0"));
        assert!(read_package_json("[1]").is_err());
        assert!(read_package_json("{").is_err());
    }
}
