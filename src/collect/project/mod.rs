//! Project files — `Cargo.toml`, `pyproject.toml`, `setup.cfg`, `pom.xml`, `go.mod`,
//! `composer.json`, `*.csproj`/`*.fsproj`, `package.json` — and what they declare: name,
//! version, license, description, URLs, authors, vendor.
//!
//! The package being built is described by the project file nearest to the directory
//! collection runs in (`--repo`), walking up to the repository root: a crate inside a Cargo
//! workspace, an npm workspace package, a Maven module. Within one directory, [`FILES`]
//! decides: the first file that declares a package is used, and only that one, so that a
//! name never comes from one ecosystem and a version from another. A file that declares no
//! package of its own (a virtual Cargo workspace, a `pyproject.toml` with only
//! `[build-system]`) falls through to the next one, then to the directory above.
//!
//! A reader fills only the keys it knows, says where a value came from when it is not the
//! file's own field (a workspace, a parent POM, a module's `__version__`), and leaves out —
//! with a warning — what it cannot read as written.

mod cargo;
mod composer;
mod dotnet;
pub(crate) mod golang;
mod maven;
mod npm;
mod python;

use std::path::{Path, PathBuf};

use toml::{Table, Value as Toml};

/// What one project file declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProjectFacts {
    /// The file it came from, relative to the repository root (`crates/ignore/Cargo.toml`).
    pub(crate) file: String,
    /// The package's directory relative to the repository root (empty at the root): the
    /// prefix of its tags in monorepos (Go's `cmd/tool/v0.3.0`).
    pub(crate) dir: PathBuf,
    /// Which reader: `cargo`, `python`, `maven`, `go`, `composer`, `dotnet`, `npm`.
    pub(crate) ecosystem: &'static str,
    pub(crate) name: Option<String>,
    pub(crate) version: Option<String>,
    pub(crate) license: Option<String>,
    /// The license file a project file points at instead (npm's `SEE LICENSE IN <file>`,
    /// pyproject's `license = {file = …}`, Cargo's `license-file`), relative to the project
    /// file's directory.
    pub(crate) license_file: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) homepage: Option<String>,
    pub(crate) repository: Option<String>,
    pub(crate) documentation: Option<String>,
    pub(crate) authors: Option<String>,
    pub(crate) vendor: Option<String>,
    /// Where a field's value came from when not simply from the field of this file
    /// (`("version", "[workspace.package] of Cargo.toml")`).
    pub(crate) notes: Vec<(&'static str, String)>,
    /// Why this file and not the root's, when both exist.
    pub(crate) chosen: Option<String>,
    /// Values the file holds but that were left out, and why.
    pub(crate) warnings: Vec<ProjectWarning>,
}

impl ProjectFacts {
    /// The note on a field's value: where it came from, and why this file was used.
    pub(crate) fn note(&self, field: &str) -> Option<String> {
        let parts: Vec<&str> = self
            .notes
            .iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, n)| n.as_str())
            .chain(self.chosen.as_deref())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    fn noted(&mut self, field: &'static str, note: impl Into<String>) {
        self.notes.push((field, note.into()));
    }

    fn warn(&mut self, field: &'static str, message: impl Into<String>, hint: impl Into<String>) {
        self.warnings.push(ProjectWarning {
            field,
            message: message.into(),
            hint: hint.into(),
        });
    }
}

/// A value a project file holds that could not be read as written, and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectWarning {
    /// The field of [`ProjectFacts`] it concerns (`version`).
    pub(crate) field: &'static str,
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// A project file that exists but cannot be read is reported, not fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProjectProblem {
    pub(crate) file: String,
    pub(crate) message: String,
}

/// What a reader is given: one project file, and where it is.
pub(crate) struct Input<'a> {
    /// The file, as shown (relative to the repository root).
    pub(crate) shown: &'a str,
    pub(crate) path: &'a Path,
    /// Its directory.
    pub(crate) dir: &'a Path,
    /// The repository root: readers that look at other files (a workspace root, a parent
    /// POM, `Directory.Build.props`) look no higher.
    pub(crate) root: &'a Path,
    pub(crate) text: &'a str,
}

impl Input<'_> {
    /// Another file, as shown relative to the root.
    fn show(&self, path: &Path) -> String {
        shown(self.root, path)
    }
}

/// Reads one file: `Ok(None)` when it declares no package of its own.
type Reader = fn(&Input<'_>) -> Result<Option<ProjectFacts>, String>;

/// The project files, in the order they are consulted within one directory (a new source is
/// a reader module and one line here). A language's own project file comes before
/// `package.json`, which in a Rust, Python, Java, Go, PHP or .NET project is usually the npm
/// wrapper or the front-end build, not the package the image is built from. `*.csproj`
/// style names match any one file with that extension (several are refused, as `dotnet
/// build` refuses them).
pub(crate) const FILES: &[(&str, &str, Reader)] = &[
    ("Cargo.toml", "cargo", cargo::read),
    ("pyproject.toml", "python", python::read_pyproject),
    ("setup.cfg", "python", python::read_setup_cfg),
    ("pom.xml", "maven", maven::read),
    ("go.mod", "go", golang::read),
    ("composer.json", "composer", composer::read),
    ("*.csproj", "dotnet", dotnet::read),
    ("*.fsproj", "dotnet", dotnet::read),
    ("package.json", "npm", npm::read),
];

/// A path as shown: relative to the root, with `/` separators.
fn shown(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The files of `dir` that a [`FILES`] name matches; several for a `*.ext` name is an error.
fn matching(dir: &Path, name: &str) -> Result<Option<PathBuf>, String> {
    let Some(ext) = name.strip_prefix("*.") else {
        let path = dir.join(name);
        return Ok(path.is_file().then_some(path));
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(None);
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        n => Err(format!(
            "{n} project files ({}); `dotnet build` would not choose one, nor does oci-stamp",
            found
                .iter()
                .filter_map(|p| p.file_name()?.to_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The first project file of `dir` that declares a package.
fn read_dir(dir: &Path, root: &Path, problems: &mut Vec<ProjectProblem>) -> Option<ProjectFacts> {
    for (name, ecosystem, reader) in FILES {
        let path = match matching(dir, name) {
            Ok(Some(p)) => p,
            Ok(None) => continue,
            Err(message) => {
                problems.push(ProjectProblem {
                    file: shown(root, &dir.join(name)),
                    message,
                });
                continue;
            }
        };
        let file = shown(root, &path);
        let text = match std::fs::read(&path).map(String::from_utf8) {
            Ok(Ok(t)) => t,
            Ok(Err(_)) => {
                problems.push(ProjectProblem {
                    file,
                    message: "not UTF-8 text".into(),
                });
                continue;
            }
            Err(e) => {
                problems.push(ProjectProblem {
                    file,
                    message: e.to_string(),
                });
                continue;
            }
        };
        let input = Input {
            shown: &file,
            path: &path,
            dir,
            root,
            text: text.trim_start_matches('\u{feff}'),
        };
        match reader(&input) {
            Ok(Some(mut facts)) => {
                facts.file = file;
                facts.ecosystem = ecosystem;
                facts.dir = dir
                    .strip_prefix(root)
                    .unwrap_or(Path::new(""))
                    .to_path_buf();
                return Some(facts);
            }
            Ok(None) => {}
            Err(message) => problems.push(ProjectProblem { file, message }),
        }
    }
    None
}

/// The first project file at the root, whatever it declares.
fn root_file(root: &Path) -> Option<String> {
    FILES
        .iter()
        .find_map(|(name, _, _)| matching(root, name).ok().flatten())
        .map(|p| shown(root, &p))
}

/// Reads the project file nearest to `start` that declares a package, walking up to `root`.
pub(crate) fn read(start: &Path, root: &Path) -> (Option<ProjectFacts>, Vec<ProjectProblem>) {
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let start = std::fs::canonicalize(start).unwrap_or_else(|_| start.to_path_buf());
    // Outside the root (a `--repo` that is not in the work tree): that directory only.
    let dirs: Vec<&Path> = if start.starts_with(&root) {
        start
            .ancestors()
            .take_while(|d| d.starts_with(&root))
            .collect()
    } else {
        vec![start.as_path()]
    };
    let mut problems = Vec::new();
    for dir in dirs {
        if let Some(mut facts) = read_dir(dir, &root, &mut problems) {
            if dir != root {
                if let Some(other) = root_file(&root) {
                    facts.chosen = Some(format!(
                        "the project file nearest to {}, not the root's {other}",
                        shown(&root, &start)
                    ));
                }
            }
            return (Some(facts), problems);
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
    let list: Vec<String> = list
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    (!list.is_empty()).then(|| list.join(", "))
}

/// `Name <email>`, `Name` or `email`.
fn person(name: Option<&str>, email: Option<&str>) -> Option<String> {
    let name = name.map(str::trim).filter(|s| !s.is_empty());
    let email = email.map(str::trim).filter(|s| !s.is_empty());
    match (name, email) {
        (Some(n), Some(e)) => Some(format!("{n} <{e}>")),
        (Some(n), None) => Some(n.to_string()),
        (None, Some(e)) => Some(e.to_string()),
        (None, None) => None,
    }
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

/// An XML element's child elements named `name` (namespaces aside, as in a POM).
fn xml_children<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The trimmed text of an XML element's first child element `name`.
fn xml_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    let child = node
        .children()
        .find(|c| c.is_element() && c.tag_name().name() == name)?;
    nonempty(child.text())
}

/// Parses XML, refusing a document type declaration (no entities are expanded).
fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, String> {
    roxmltree::Document::parse(text).map_err(|e| format!("invalid XML: {e}"))
}

/// For the readers' unit tests: `files` written into a temporary checkout, and `reader` run
/// on `file` there (which must declare a package).
#[cfg(test)]
pub(super) fn read_tree(
    reader: fn(&Input<'_>) -> Result<Option<ProjectFacts>, String>,
    file: &str,
    files: &[(&str, &str)],
) -> ProjectFacts {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    for (f, t) in files {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    }
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    reader(&Input {
        shown: file,
        path: &path,
        dir: path.parent().unwrap(),
        root: &root,
        text: &text,
    })
    .unwrap()
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    #[test]
    fn the_nearest_file_describes_the_package() {
        let t = tree(&[
            (
                "Cargo.toml",
                "[workspace]\nmembers=['crates/*']\n[workspace.package]\nversion='2.0.0'\n",
            ),
            (
                "crates/a/Cargo.toml",
                "[package]\nname='a'\nversion.workspace=true\n",
            ),
            ("crates/a/src/lib.rs", ""),
        ]);
        let (f, problems) = read(&t.path().join("crates/a/src"), t.path());
        let f = f.unwrap();
        assert!(problems.is_empty());
        assert_eq!(f.file, "crates/a/Cargo.toml");
        assert_eq!(f.dir, Path::new("crates/a"));
        assert_eq!(f.version.as_deref(), Some("2.0.0"));
        assert_eq!(
            f.note("version").unwrap(),
            "from [workspace.package] of Cargo.toml; \
             the project file nearest to crates/a/src, not the root's Cargo.toml"
        );
        // the virtual workspace at the root declares nothing
        assert_eq!(read(t.path(), t.path()).0, None);
    }

    #[test]
    fn within_a_directory_the_list_decides() {
        let t = tree(&[
            ("package.json", r#"{"name":"wrapper","version":"9.9.9"}"#),
            ("Cargo.toml", "[package]\nname='tool'\nversion='1.0.0'\n"),
        ]);
        let f = read(t.path(), t.path()).0.unwrap();
        assert_eq!((f.file.as_str(), f.ecosystem), ("Cargo.toml", "cargo"));
        assert_eq!(f.chosen, None);
        // several project files of one kind are refused
        let t = tree(&[("A.csproj", "<Project/>"), ("B.csproj", "<Project/>")]);
        let (f, problems) = read(t.path(), t.path());
        assert_eq!(f, None);
        assert!(
            problems[0].message.contains("A.csproj, B.csproj"),
            "{problems:?}"
        );
    }
}
