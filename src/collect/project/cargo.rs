//! `Cargo.toml`: `[package]`, with `field.workspace = true` taken from the workspace root's
//! `[workspace.package]` (the same file, `package.workspace = "path"`, or the nearest
//! `Cargo.toml` above with a `[workspace]` table, as Cargo finds it).

use std::path::{Path, PathBuf};

use toml::{Table, Value as Toml};

use super::{nonempty, parse_toml, toml_authors, Input, ProjectFacts};

/// The fields read, as [`ProjectFacts`] names them (the same names in `[package]`).
const FIELDS: &[&str] = &[
    "version",
    "license",
    "license-file",
    "description",
    "homepage",
    "repository",
    "documentation",
    "authors",
];

/// The workspace root's manifest: where it is, and its table.
fn workspace_root(input: &Input<'_>, doc: &Table, package: &Table) -> Option<(PathBuf, Table)> {
    if doc.contains_key("workspace") {
        return Some((input.path.to_path_buf(), doc.clone()));
    }
    let read = |path: &Path| -> Option<Table> {
        let text = std::fs::read_to_string(path).ok()?;
        parse_toml(&text).ok()
    };
    if let Some(rel) = toml_str_path(package.get("workspace")) {
        let path = input.dir.join(rel).join("Cargo.toml");
        return read(&path).map(|t| (path, t));
    }
    input
        .dir
        .ancestors()
        .skip(1)
        .take_while(|d| d.starts_with(input.root))
        .map(|d| d.join("Cargo.toml"))
        .filter(|p| p.is_file())
        .find_map(|p| {
            read(&p)
                .filter(|t| t.contains_key("workspace"))
                .map(|t| (p, t))
        })
}

fn toml_str_path(v: Option<&Toml>) -> Option<&str> {
    v.and_then(Toml::as_str)
}

pub(super) fn read(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let doc = parse_toml(input.text)?;
    let Some(package) = doc.get("package").and_then(Toml::as_table) else {
        return Ok(None); // a virtual workspace
    };
    let mut facts = ProjectFacts {
        name: nonempty(package.get("name").and_then(Toml::as_str)),
        ..ProjectFacts::default()
    };
    let inherits = |v: &Toml| {
        v.as_table()
            .and_then(|t| t.get("workspace"))
            .and_then(Toml::as_bool)
            == Some(true)
    };
    let mut root: Option<Option<(PathBuf, Table)>> = None;
    for &field in FIELDS {
        let Some(value) = package.get(field) else {
            continue;
        };
        let value = if inherits(value) {
            let ws = root.get_or_insert_with(|| workspace_root(input, &doc, package));
            let Some((path, table)) = ws else {
                facts.warn(
                    field,
                    format!(
                        "{} has `{field}.workspace = true`, but no workspace root was found above it",
                        input.shown
                    ),
                    "run where the whole workspace is checked out, or pass the value with -a",
                );
                continue;
            };
            let shown = input.show(path);
            match table
                .get("workspace")
                .and_then(|w| w.get("package"))
                .and_then(|p| p.get(field))
            {
                Some(v) => {
                    if path != input.path {
                        facts.noted(field, format!("from [workspace.package] of {shown}"));
                    }
                    v.clone()
                }
                None => {
                    facts.warn(
                        field,
                        format!(
                            "{} has `{field}.workspace = true`, but [workspace.package] of {shown} has no `{field}`",
                            input.shown
                        ),
                        format!("add `{field}` to [workspace.package], or pass the value with -a"),
                    );
                    continue;
                }
            }
        } else {
            value.clone()
        };
        let s = || nonempty(value.as_str());
        match field {
            "version" => facts.version = s(),
            "license" => facts.license = s(),
            "license-file" => facts.license_file = s().and_then(|f| super::relative_file(&f)),
            "description" => facts.description = s(),
            "homepage" => facts.homepage = s(),
            "repository" => facts.repository = s(),
            "documentation" => facts.documentation = s(),
            "authors" => facts.authors = toml_authors(&value),
            _ => {}
        }
    }
    Ok(Some(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Option<ProjectFacts>, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Cargo.toml");
        read(&Input {
            shown: "Cargo.toml",
            path: &path,
            dir: dir.path(),
            root: dir.path(),
            text,
        })
    }

    #[test]
    fn cargo_with_workspace_inheritance() {
        let f = read_text(
            r#"
[workspace.package]
version = "1.4.0"
license = "MIT/Apache-2.0"
[package]
name = "demo"
version.workspace = true
license.workspace = true
description.workspace = true
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
        assert_eq!(f.description, None);
        assert!(f.warnings[0].message.contains("has no `description`"));
        assert_eq!(read_text("[workspace]\nmembers=[]\n").unwrap(), None);
        assert!(read_text("[package\n").is_err());
        // a member whose workspace root is not there
        let f = read_text("[package]\nname='m'\nversion.workspace=true\n")
            .unwrap()
            .unwrap();
        assert_eq!(f.version, None);
        assert!(f.warnings[0].message.contains("no workspace root"));
    }
}
