//! PHP `composer.json`: `name`, `description`, `license` (an array is a choice: Composer
//! documents it as an `OR`), `homepage`, `authors`, `version` when present, and
//! `support.source` as the source hint. One with neither name nor version (an application's
//! dependency list) falls through.

use serde_json::Value as Json;

use super::{join_authors, nonempty, person, Input, ProjectFacts};

pub(super) fn read(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let doc: Json = serde_json::from_str(input.text).map_err(|e| e.to_string())?;
    let Some(o) = doc.as_object() else {
        return Err("the top level is not a JSON object".into());
    };
    let s = |k: &str| nonempty(o.get(k).and_then(Json::as_str));
    if s("name").is_none() && s("version").is_none() {
        return Ok(None);
    }
    let mut facts = ProjectFacts {
        name: s("name"),
        version: s("version"),
        description: s("description"),
        homepage: s("homepage"),
        repository: o
            .get("support")
            .and_then(|s| s.get("source"))
            .and_then(Json::as_str)
            .and_then(|s| nonempty(Some(s))),
        ..ProjectFacts::default()
    };
    if facts.repository.is_some() {
        facts.noted("repository", "support.source");
    }
    match o.get("license") {
        Some(Json::String(l)) => facts.license = nonempty(Some(l)),
        Some(Json::Array(list)) => {
            let names: Vec<&str> = list
                .iter()
                .filter_map(Json::as_str)
                .map(str::trim)
                .collect();
            if names.len() != list.len() || names.iter().any(|n| n.is_empty()) {
                facts.warn(
                    "license",
                    format!(
                        "the license array of {} holds something that is not a license name",
                        input.shown
                    ),
                    "list SPDX identifiers, or pass --licenses",
                );
            } else if !names.is_empty() {
                let expr = names
                    .iter()
                    .map(|n| {
                        if n.contains(' ') {
                            format!("({n})")
                        } else {
                            n.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" OR ");
                if names.len() > 1 {
                    facts.noted("license", "the array is a choice (Composer: OR)");
                }
                facts.license = Some(expr);
            }
        }
        _ => {}
    }
    if let Some(list) = o.get("authors").and_then(Json::as_array) {
        facts.authors = join_authors(
            list.iter()
                .filter_map(|a| {
                    person(
                        a.get("name").and_then(Json::as_str),
                        a.get("email").and_then(Json::as_str),
                    )
                })
                .collect(),
        );
    }
    Ok(Some(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Option<ProjectFacts>, String> {
        let dir = std::env::temp_dir();
        read(&Input {
            shown: "composer.json",
            path: &dir.join("composer.json"),
            dir: &dir,
            root: &dir,
            text,
        })
    }

    #[test]
    fn composer_json() {
        let f = read_text(
            r#"{"name":"acme/shop","description":"A shop","license":["MIT","GPL-3.0-or-later"],
                "homepage":"https://shop.example","version":"1.2.0",
                "authors":[{"name":"Ann","email":"ann@example.com","role":"Developer"},{"name":"Bo"}],
                "support":{"source":"https://github.com/acme/shop"}}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(f.name.as_deref(), Some("acme/shop"));
        assert_eq!(f.license.as_deref(), Some("MIT OR GPL-3.0-or-later"));
        assert_eq!(f.authors.as_deref(), Some("Ann <ann@example.com>, Bo"));
        assert_eq!(f.version.as_deref(), Some("1.2.0"));
        assert_eq!(
            f.repository.as_deref(),
            Some("https://github.com/acme/shop")
        );
        let f = read_text(r#"{"name":"a/b","license":"proprietary"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(f.license.as_deref(), Some("proprietary"));
        let f = read_text(r#"{"name":"a/b","license":[1]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(f.license, None);
        assert_eq!(f.warnings.len(), 1);
        assert_eq!(read_text(r#"{"require":{"php":">=8.1"}}"#).unwrap(), None);
    }
}
