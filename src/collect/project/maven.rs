//! Maven `pom.xml`: `name` (else `artifactId`), `version`, `description`, `url`,
//! `licenses/license/name`, `developers` (authors), `organization/name` (vendor), `scm/url`.
//!
//! Maven builds a module from its POM and its parents: the version may be the parent's, and
//! values may be `${…}` references to properties. The parents found in the checkout
//! (`<parent><relativePath>`, by default `../pom.xml`, when its coordinates match) are read,
//! and references are resolved as Maven would resolve them for this module: `project.*`
//! values, `-Dname=value` in `.mvn/maven.config`, then the properties of the POM and of its
//! parents, nearest first. A value that still holds a reference (a property given only on
//! the command line, a parent from a repository) is left out with a warning. Licenses,
//! developers and the organization are inherited from the nearest POM that declares them;
//! name, description, URL and SCM URL are the module's own (Maven appends the module's path
//! to inherited URLs, which would be a guess here).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{join_authors, parse_xml, person, xml_children, xml_text, Input, ProjectFacts};

/// How many parent POMs are followed, at most.
const MAX_PARENTS: usize = 10;

#[derive(Debug, Default)]
struct ParentRef {
    group: Option<String>,
    artifact: Option<String>,
    version: Option<String>,
    /// `None`: the default `../pom.xml`; `Some("")`: no local parent.
    relative: Option<String>,
}

#[derive(Debug, Default)]
struct Pom {
    shown: String,
    group: Option<String>,
    artifact: Option<String>,
    version: Option<String>,
    name: Option<String>,
    description: Option<String>,
    url: Option<String>,
    licenses: Vec<String>,
    developers: Vec<String>,
    organization: Option<String>,
    scm_url: Option<String>,
    properties: HashMap<String, String>,
    parent: Option<ParentRef>,
}

fn parse_pom(text: &str, shown: &str) -> Result<Pom, String> {
    let doc = parse_xml(text)?;
    let project = doc.root_element();
    if project.tag_name().name() != "project" {
        return Err(format!(
            "the root element is `{}`, not a POM's `project`",
            project.tag_name().name()
        ));
    }
    let one = |name: &str| xml_text(project, name);
    let section = |name: &'static str| xml_children(project, name).next();
    let mut pom = Pom {
        shown: shown.to_string(),
        group: one("groupId"),
        artifact: one("artifactId"),
        version: one("version"),
        name: one("name"),
        description: one("description"),
        url: one("url"),
        organization: section("organization").and_then(|o| xml_text(o, "name")),
        scm_url: section("scm").and_then(|s| xml_text(s, "url")),
        ..Pom::default()
    };
    if let Some(licenses) = section("licenses") {
        pom.licenses = xml_children(licenses, "license")
            .filter_map(|l| xml_text(l, "name"))
            .collect();
    }
    if let Some(developers) = section("developers") {
        pom.developers = xml_children(developers, "developer")
            .filter_map(|d| {
                person(
                    xml_text(d, "name").as_deref(),
                    xml_text(d, "email").as_deref(),
                )
            })
            .collect();
    }
    if let Some(props) = section("properties") {
        for p in props.children().filter(|c| c.is_element()) {
            pom.properties.insert(
                p.tag_name().name().to_string(),
                p.text().unwrap_or("").trim().to_string(),
            );
        }
    }
    if let Some(parent) = section("parent") {
        pom.parent = Some(ParentRef {
            group: xml_text(parent, "groupId"),
            artifact: xml_text(parent, "artifactId"),
            version: xml_text(parent, "version"),
            relative: xml_children(parent, "relativePath")
                .next()
                .map(|r| r.text().unwrap_or("").trim().to_string()),
        });
    }
    Ok(pom)
}

/// The module's POM and the parents found in the checkout, nearest first.
fn chain(input: &Input<'_>, pom: Pom) -> Vec<Pom> {
    let mut chain = vec![pom];
    let mut dir = input.dir.to_path_buf();
    while chain.len() <= MAX_PARENTS {
        let Some(parent) = &chain[chain.len() - 1].parent else {
            break;
        };
        let rel = parent.relative.as_deref().unwrap_or("../pom.xml");
        if rel.is_empty() {
            break;
        }
        let mut path = dir.join(rel);
        if path.is_dir() {
            path = path.join("pom.xml");
        }
        let Ok(path) = std::fs::canonicalize(&path) else {
            break;
        };
        if !path.starts_with(input.root) {
            break;
        }
        let Some(p) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| parse_pom(&t, &input.show(&path)).ok())
        else {
            break;
        };
        // Maven takes the file only when it is the parent named (else it looks in the
        // repositories): the artifactId must match.
        if parent.artifact.is_some() && p.artifact != parent.artifact {
            break;
        }
        dir = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        chain.push(p);
    }
    chain
}

/// `-Dname=value` options of `.mvn/maven.config`, the nearest one up to the root.
fn maven_config(input: &Input<'_>) -> (HashMap<String, String>, Option<String>) {
    for dir in input
        .dir
        .ancestors()
        .take_while(|d| d.starts_with(input.root))
    {
        let path = dir.join(".mvn/maven.config");
        if let Ok(text) = std::fs::read_to_string(&path) {
            let mut props = HashMap::new();
            for word in text.split_whitespace() {
                if let Some((k, v)) = word.strip_prefix("-D").and_then(|d| d.split_once('=')) {
                    props.insert(k.to_string(), v.to_string());
                }
            }
            return (props, Some(input.show(&path)));
        }
    }
    (HashMap::new(), None)
}

struct Resolver<'a> {
    chain: &'a [Pom],
    config: HashMap<String, String>,
    config_file: Option<String>,
}

impl Resolver<'_> {
    /// The module's version as written (its own, else its parent element's).
    fn raw_version(&self) -> Option<(String, Option<String>)> {
        let own = &self.chain[0];
        match (
            &own.version,
            own.parent.as_ref().and_then(|p| p.version.as_ref()),
        ) {
            (Some(v), _) => Some((v.clone(), None)),
            (None, Some(v)) => Some((v.clone(), Some(format!("the <parent> of {}", own.shown)))),
            (None, None) => None,
        }
    }

    /// What `${expr}` stands for, and where that was defined.
    fn lookup(&self, expr: &str, depth: usize) -> Result<(String, String), String> {
        let own = &self.chain[0];
        let parent = own.parent.as_ref();
        let project = |v: Option<&String>, what: &str| {
            v.cloned()
                .map(|v| (v, format!("{what} of {}", own.shown)))
                .ok_or_else(|| expr.to_string())
        };
        let (value, origin) = match expr {
            "project.version" | "pom.version" | "version" => {
                let (v, from) = self.raw_version().ok_or_else(|| expr.to_string())?;
                (
                    v,
                    from.unwrap_or_else(|| format!("<version> of {}", own.shown)),
                )
            }
            "project.artifactId" | "pom.artifactId" | "artifactId" => {
                project(own.artifact.as_ref(), "<artifactId>")?
            }
            "project.groupId" | "pom.groupId" | "groupId" => project(
                own.group.as_ref().or(parent.and_then(|p| p.group.as_ref())),
                "<groupId>",
            )?,
            "project.name" | "pom.name" => project(own.name.as_ref(), "<name>")?,
            "project.parent.version" | "parent.version" => {
                project(parent.and_then(|p| p.version.as_ref()), "<parent><version>")?
            }
            _ => {
                if let Some(v) = self.config.get(expr) {
                    (v.clone(), self.config_file.clone().unwrap_or_default())
                } else {
                    self.chain
                        .iter()
                        .find_map(|p| {
                            p.properties
                                .get(expr)
                                .map(|v| (v.clone(), format!("<properties> of {}", p.shown)))
                        })
                        .ok_or_else(|| expr.to_string())?
                }
            }
        };
        let (value, _) = self.resolve(&value, depth + 1)?;
        Ok((value, origin))
    }

    /// `value` with every `${…}` replaced: `Ok((value, origins))`, or the reference that is
    /// not defined here.
    fn resolve(&self, value: &str, depth: usize) -> Result<(String, Vec<String>), String> {
        if depth > 16 {
            return Err(value.to_string());
        }
        let mut out = String::new();
        let mut origins = Vec::new();
        let mut rest = value;
        while let Some(at) = rest.find("${") {
            out.push_str(&rest[..at]);
            let Some(end) = rest[at..].find('}') else {
                return Err(rest[at..].to_string());
            };
            let expr = &rest[at + 2..at + end];
            let (v, origin) = self.lookup(expr, depth)?;
            out.push_str(&v);
            origins.push(format!("`${{{expr}}}` from {origin}"));
            rest = &rest[at + end + 1..];
        }
        out.push_str(rest);
        Ok((out, origins))
    }
}

pub(super) fn read(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let pom = parse_pom(input.text, input.shown)?;
    let chain = chain(input, pom);
    let (config, config_file) = maven_config(input);
    let r = Resolver {
        chain: &chain,
        config,
        config_file,
    };
    let own = &chain[0];
    let mut facts = ProjectFacts::default();
    let shown = input.shown;
    let take = |facts: &mut ProjectFacts,
                field: &'static str,
                element: &str,
                value: Option<&String>,
                from: Option<String>|
     -> Option<String> {
        let value = value?;
        match r.resolve(value, 0) {
            Ok((v, mut origins)) => {
                origins.extend(from);
                if !origins.is_empty() {
                    facts.noted(field, origins.join(", "));
                }
                Some(v)
            }
            Err(expr) => {
                facts.warn(
                    field,
                    format!(
                        "the {element} of {shown} is `{value}`, and `{expr}` is defined neither there nor in its parents in this checkout",
                    ),
                    "define the property in the POM (or .mvn/maven.config), or pass the value with -a",
                );
                None
            }
        }
    };
    facts.name = take(&mut facts, "name", "<name>", own.name.as_ref(), None).or_else(|| {
        take(
            &mut facts,
            "name",
            "<artifactId>",
            own.artifact.as_ref(),
            None,
        )
    });
    let (version, from) = r.raw_version().unzip();
    facts.version = take(
        &mut facts,
        "version",
        "<version>",
        version.as_ref(),
        from.flatten(),
    );
    facts.description = take(
        &mut facts,
        "description",
        "<description>",
        own.description.as_ref(),
        None,
    );
    facts.homepage = take(&mut facts, "homepage", "<url>", own.url.as_ref(), None);
    facts.repository = take(
        &mut facts,
        "repository",
        "<scm><url>",
        own.scm_url.as_ref(),
        None,
    );
    let inherited = |what: &str, p: &Pom| {
        (p.shown != own.shown).then(|| format!("{what} of the parent POM {}", p.shown))
    };
    if let Some(p) = chain.iter().find(|p| !p.licenses.is_empty()) {
        if let [one] = p.licenses.as_slice() {
            let from = inherited("<licenses>", p);
            facts.license = take(&mut facts, "license", "<license><name>", Some(one), from);
        } else {
            facts.warn(
                "license",
                format!(
                    "{} names {} licenses ({}), and a POM does not say whether all apply or one is chosen",
                    p.shown,
                    p.licenses.len(),
                    p.licenses.iter().map(|l| format!("`{l}`")).collect::<Vec<_>>().join(", ")
                ),
                "pass the SPDX expression with --licenses (`A AND B` or `A OR B`)",
            );
        }
    }
    if let Some(p) = chain.iter().find(|p| !p.developers.is_empty()) {
        facts.authors = join_authors(p.developers.clone());
        if let Some(note) = inherited("<developers>", p) {
            facts.noted("authors", note);
        }
    }
    if let Some(p) = chain.iter().find(|p| p.organization.is_some()) {
        let from = inherited("<organization>", p);
        facts.vendor = take(
            &mut facts,
            "vendor",
            "<organization><name>",
            p.organization.as_ref(),
            from,
        );
    }
    Ok(Some(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_tree(module: &str, files: &[(&str, &str)]) -> ProjectFacts {
        super::super::read_tree(read, module, files)
    }

    const PARENT: &str = r#"<?xml version="1.0"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <groupId>com.example</groupId><artifactId>parent</artifactId><version>${revision}</version>
  <packaging>pom</packaging>
  <properties><revision>2.3.0${changelist}</revision><changelist></changelist></properties>
  <licenses><license><name>Apache-2.0</name></license></licenses>
  <organization><name>Example Corp</name></organization>
  <developers><developer><name>Dev</name><email>dev@example.com</email></developer></developers>
</project>"#;

    #[test]
    fn a_module_with_its_parent_and_revision() {
        let module = r#"<project>
  <parent><groupId>com.example</groupId><artifactId>parent</artifactId><version>${revision}</version></parent>
  <artifactId>service</artifactId>
  <name>${project.artifactId} server</name>
  <description>The service</description>
</project>"#;
        let f = read_tree(
            "service/pom.xml",
            &[("pom.xml", PARENT), ("service/pom.xml", module)],
        );
        assert_eq!(f.name.as_deref(), Some("service server"));
        assert_eq!(f.version.as_deref(), Some("2.3.0"));
        assert!(
            f.note("version")
                .unwrap()
                .contains("<properties> of pom.xml"),
            "{f:?}"
        );
        assert_eq!(f.license.as_deref(), Some("Apache-2.0"));
        assert_eq!(f.vendor.as_deref(), Some("Example Corp"));
        assert_eq!(f.authors.as_deref(), Some("Dev <dev@example.com>"));
        assert!(f.warnings.is_empty(), "{:?}", f.warnings);
        // .mvn/maven.config wins over the POM's properties
        let f = read_tree(
            "service/pom.xml",
            &[
                ("pom.xml", PARENT),
                ("service/pom.xml", module),
                (".mvn/maven.config", "-B -Drevision=9.0.0\n"),
            ],
        );
        assert_eq!(f.version.as_deref(), Some("9.0.0"));
    }

    #[test]
    fn what_cannot_be_resolved_is_left_out() {
        let pom = r#"<project><artifactId>lone</artifactId><version>${revision}</version>
  <licenses><license><name>MIT</name></license><license><name>Apache-2.0</name></license></licenses>
</project>"#;
        let f = read_tree("pom.xml", &[("pom.xml", pom)]);
        assert_eq!(f.name.as_deref(), Some("lone"));
        assert_eq!(f.version, None);
        assert_eq!(f.license, None);
        let messages: Vec<&str> = f.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(
            messages[0].contains("`revision` is defined neither there"),
            "{messages:?}"
        );
        assert!(messages[1].contains("2 licenses"), "{messages:?}");
        // not a POM
        let dir = tempfile::tempdir().unwrap();
        let bad = |text: &str| {
            read(&Input {
                shown: "pom.xml",
                path: &dir.path().join("pom.xml"),
                dir: dir.path(),
                root: dir.path(),
                text,
            })
        };
        assert!(bad("<settings/>").unwrap_err().contains("not a POM"));
        assert!(bad("<project>").is_err());
        assert!(bad("<!DOCTYPE x [<!ENTITY a 'b'>]><project/>").is_err());
    }
}
