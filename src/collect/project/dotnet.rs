//! .NET project files (`*.csproj`, `*.fsproj`) with the nearest `Directory.Build.props`
//! above them, which MSBuild imports first (the project's own properties win): `Version`
//! (else `VersionPrefix` and `VersionSuffix`), `Description`, `Authors`, `Company` (vendor),
//! `PackageLicenseExpression`, `PackageProjectUrl`, `RepositoryUrl`; the name is `PackageId`,
//! else `AssemblyName`, else the file's name.
//!
//! `$(Name)` references to properties of these files are resolved. A property under a
//! `Condition` depends on the build (configuration, target framework) and is not read; one
//! that is wanted is left out with a warning, as is a reference to a property these files do
//! not define.

use std::collections::HashMap;
use std::path::Path;

use super::{join_authors, parse_xml, Input, ProjectFacts};

#[derive(Default)]
struct Props {
    /// lower-case name → (value, file)
    values: HashMap<String, (String, String)>,
    conditional: Vec<(String, String)>,
}

fn read_props(text: &str, shown: &str, props: &mut Props) -> Result<(), String> {
    let doc = parse_xml(text)?;
    let project = doc.root_element();
    if project.tag_name().name() != "Project" {
        return Err(format!(
            "the root element is `{}`, not an MSBuild `Project`",
            project.tag_name().name()
        ));
    }
    for group in project
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "PropertyGroup")
    {
        let group_conditional = group.has_attribute("Condition");
        for p in group.children().filter(|c| c.is_element()) {
            let name = p.tag_name().name().to_ascii_lowercase();
            if group_conditional || p.has_attribute("Condition") {
                props.conditional.push((name, shown.to_string()));
                continue;
            }
            let value = p.text().unwrap_or("").trim().to_string();
            props.values.insert(name, (value, shown.to_string()));
        }
    }
    Ok(())
}

/// `value` with `$(Name)` replaced by properties, or the first name not defined.
fn resolve(props: &Props, value: &str, depth: usize) -> Result<String, String> {
    if depth > 16 {
        return Err(value.to_string());
    }
    let mut out = String::new();
    let mut rest = value;
    while let Some(at) = rest.find("$(") {
        out.push_str(&rest[..at]);
        let Some(end) = rest[at..].find(')') else {
            return Err(rest[at..].to_string());
        };
        let name = &rest[at + 2..at + end];
        let (v, _) = props
            .values
            .get(&name.to_ascii_lowercase())
            .ok_or_else(|| name.to_string())?;
        out.push_str(&resolve(props, v, depth + 1)?);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The nearest `Directory.Build.props` from the project's directory up to the root.
fn build_props(input: &Input<'_>) -> Option<std::path::PathBuf> {
    input
        .dir
        .ancestors()
        .take_while(|d| d.starts_with(input.root))
        .map(|d| d.join("Directory.Build.props"))
        .find(|p| p.is_file())
}

pub(super) fn read(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let mut props = Props::default();
    let mut facts = ProjectFacts::default();
    if let Some(path) = build_props(input) {
        let shown = input.show(&path);
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| read_props(&t, &shown, &mut props))
        {
            Ok(()) => {}
            Err(e) => facts.warn(
                "",
                format!(
                    "{shown} is not read ({e}); {} is read without it",
                    input.shown
                ),
                "fix the file, or pass the values with -a",
            ),
        }
    }
    read_props(input.text, input.shown, &mut props)?;
    let get = |facts: &mut ProjectFacts, field: &'static str, name: &str| -> Option<String> {
        let key = name.to_ascii_lowercase();
        let Some((raw, file)) = props.values.get(&key) else {
            if let Some((_, file)) = props.conditional.iter().find(|(n, _)| *n == key) {
                facts.warn(
                    field,
                    format!("<{name}> in {file} is under a Condition, which depends on the build; not read"),
                    format!("set <{name}> unconditionally, or pass the value with -a"),
                );
            }
            return None;
        };
        if raw.is_empty() {
            return None;
        }
        match resolve(&props, raw, 0) {
            Ok(v) => {
                if file != input.shown {
                    facts.noted(field, format!("<{name}> of {file}"));
                } else if v != *raw {
                    facts.noted(field, format!("<{name}> `{raw}`"));
                }
                Some(v).filter(|v| !v.trim().is_empty())
            }
            Err(missing) => {
                facts.warn(
                    field,
                    format!("<{name}> in {file} is `{raw}`, and `$({missing})` is not defined in the project's files"),
                    format!("define {missing} in the project or Directory.Build.props, or pass the value with -a"),
                );
                None
            }
        }
    };
    let stem = Path::new(input.shown)
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string);
    facts.name = get(&mut facts, "name", "PackageId")
        .or_else(|| get(&mut facts, "name", "AssemblyName"))
        .or(stem);
    facts.version = get(&mut facts, "version", "Version").or_else(|| {
        let prefix = get(&mut facts, "version", "VersionPrefix")?;
        Some(match get(&mut facts, "version", "VersionSuffix") {
            Some(suffix) => format!("{prefix}-{suffix}"),
            None => prefix,
        })
    });
    facts.description = get(&mut facts, "description", "Description");
    facts.authors = get(&mut facts, "authors", "Authors")
        .and_then(|a| join_authors(a.split([';', ',']).map(str::to_string).collect()));
    facts.vendor = get(&mut facts, "vendor", "Company");
    facts.license = get(&mut facts, "license", "PackageLicenseExpression");
    facts.homepage = get(&mut facts, "homepage", "PackageProjectUrl");
    facts.repository = get(&mut facts, "repository", "RepositoryUrl");
    Ok(Some(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_tree(project: &str, files: &[(&str, &str)]) -> ProjectFacts {
        super::super::read_tree(read, project, files)
    }

    const PROPS: &str = r#"<Project>
  <PropertyGroup>
    <VersionPrefix>3.2.0</VersionPrefix>
    <Company>Contoso</Company>
    <Authors>Ann;Bo</Authors>
    <PackageLicenseExpression>MIT</PackageLicenseExpression>
    <RepositoryUrl>https://github.com/contoso/app</RepositoryUrl>
  </PropertyGroup>
  <PropertyGroup Condition="'$(Configuration)' == 'Release'">
    <Description>Release build</Description>
  </PropertyGroup>
</Project>"#;

    #[test]
    fn csproj_with_directory_build_props() {
        let csproj = r#"<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <TargetFramework>net8.0</TargetFramework>
    <VersionSuffix>rc.1</VersionSuffix>
    <PackageProjectUrl>https://contoso.example/$(AssemblyName)</PackageProjectUrl>
    <AssemblyName>Contoso.App</AssemblyName>
  </PropertyGroup>
</Project>"#;
        let f = read_tree(
            "src/App/App.csproj",
            &[
                ("Directory.Build.props", PROPS),
                ("src/App/App.csproj", csproj),
            ],
        );
        assert_eq!(f.name.as_deref(), Some("Contoso.App"));
        assert_eq!(f.version.as_deref(), Some("3.2.0-rc.1"));
        assert_eq!(f.vendor.as_deref(), Some("Contoso"));
        assert_eq!(f.authors.as_deref(), Some("Ann, Bo"));
        assert_eq!(f.license.as_deref(), Some("MIT"));
        assert_eq!(
            f.homepage.as_deref(),
            Some("https://contoso.example/Contoso.App")
        );
        assert_eq!(
            f.note("vendor").unwrap(),
            "<Company> of Directory.Build.props"
        );
        assert_eq!(f.description, None);
        assert!(
            f.warnings[0].message.contains("under a Condition"),
            "{:?}",
            f.warnings
        );
        // an undefined property
        let f = read_tree(
            "A.fsproj",
            &[(
                "A.fsproj",
                "<Project><PropertyGroup><Version>$(Major).0</Version></PropertyGroup></Project>",
            )],
        );
        assert_eq!(f.name.as_deref(), Some("A"));
        assert_eq!(f.version, None);
        assert!(f.warnings[0].message.contains("`$(Major)` is not defined"));
    }
}
