//! `package.json`: the npm package (a workspace package is read from its own directory).
//! One with neither `name` nor `version` is no package (a monorepo root that only lists
//! `workspaces`, a front-end build's dependency list) and falls through.

use serde_json::Value as Json;

use super::{join_authors, nonempty, person, Input, ProjectFacts};

fn npm_person(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => nonempty(Some(s)),
        Json::Object(o) => person(
            o.get("name").and_then(Json::as_str),
            o.get("email").and_then(Json::as_str),
        ),
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

pub(super) fn read(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    read_text(input.text)
}

fn read_text(text: &str) -> Result<Option<ProjectFacts>, String> {
    let doc: Json = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let Some(o) = doc.as_object() else {
        return Err("the top level is not a JSON object".into());
    };
    let s = |k: &str| nonempty(o.get(k).and_then(Json::as_str));
    if s("name").is_none() && s("version").is_none() {
        return Ok(None);
    }
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
        .and_then(|l| super::relative_file(l.strip_prefix("SEE LICENSE IN ")?));
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
    fn package_json_forms() {
        let f = read_text(
            r#"{"name":"@s/web","version":"3.1.0","license":{"type":"ISC"},
                "repository":"github:o/web","author":{"name":"Bo","email":"bo@x"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.license.as_deref(), Some("ISC"));
        assert_eq!(f.repository.as_deref(), Some("https://github.com/o/web"));
        assert_eq!(f.authors.as_deref(), Some("Bo <bo@x>"));
        assert!(read_text("[1]").is_err());
        assert!(read_text("{").is_err());
        // a root that only lists workspaces declares no package
        assert_eq!(
            read_text(r#"{"private":true,"workspaces":["packages/*"]}"#).unwrap(),
            None
        );
    }
}
