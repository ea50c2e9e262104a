//! Go `go.mod`: the module path gives the title (its last element, without the major
//! version suffix: `example.com/cmd/tool/v2` → `tool`) and, on hosts whose repository is the
//! path's first two elements (github.com, bitbucket.org), a source URL for when there is no
//! git remote. go.mod holds no version: a module's releases are its tags, `vX.Y.Z` at the
//! repository root and `DIR/vX.Y.Z` for the module in `DIR` ([`tag_version`]).

use super::{Input, ProjectFacts};

/// The `module` directive's path.
fn module_path(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.split("//").next().unwrap_or("").trim();
        if let Some(rest) = line.strip_prefix("module") {
            if !rest.starts_with([' ', '\t', '"', '`']) {
                continue;
            }
            let path = rest.trim().trim_matches(['"', '`']).trim();
            return (!path.is_empty()).then(|| path.to_string());
        }
    }
    None
}

/// Whether a path element is a major version suffix (`v2`, `v10`).
fn is_major(element: &str) -> bool {
    element.strip_prefix('v').is_some_and(|n| {
        !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n != "0" && n != "1"
    })
}

/// The module's name: its last path element, without a major version suffix (`/v2`, and
/// gopkg.in's `.v3`).
pub(crate) fn module_name(path: &str) -> Option<String> {
    let mut elements: Vec<&str> = path.split('/').filter(|e| !e.is_empty()).collect();
    if elements.len() > 1 && elements.last().is_some_and(|e| is_major(e)) {
        elements.pop();
    }
    let last = *elements.last()?;
    let last = match last.rsplit_once(".v") {
        Some((name, n))
            if path.starts_with("gopkg.in/")
                && !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => last,
    };
    Some(last.to_string())
}

/// The repository of a module path on a host where it is the first two path elements.
fn source_url(path: &str) -> Option<String> {
    let elements: Vec<&str> = path.split('/').collect();
    match elements.as_slice() {
        [host @ ("github.com" | "bitbucket.org"), owner, repo, ..] => {
            Some(format!("https://{host}/{owner}/{repo}"))
        }
        _ => None,
    }
}

pub(super) fn read(input: &Input<'_>) -> Result<Option<ProjectFacts>, String> {
    let Some(path) = module_path(input.text) else {
        return Err("no `module` directive".into());
    };
    let mut facts = ProjectFacts {
        name: module_name(&path),
        repository: source_url(&path),
        ..ProjectFacts::default()
    };
    facts.noted("name", format!("last element of module path `{path}`"));
    if facts.repository.is_some() {
        facts.noted("repository", format!("from module path `{path}`"));
    }
    Ok(Some(facts))
}

/// The version a Go module's tag gives: `cmd/tool/v0.3.0` for the module in `cmd/tool` (the
/// directory relative to the repository root, `/`-separated). Tags of the root module
/// (`v1.2.3`) are not this function's: any `vX…` tag is theirs.
pub(crate) fn tag_version<'t>(dir: &str, tag: &'t str) -> Option<&'t str> {
    if dir.is_empty() {
        return None;
    }
    let v = tag.strip_prefix(dir)?.strip_prefix("/v")?;
    v.starts_with(|c: char| c.is_ascii_digit()).then_some(v)
}

/// The release among `tags` (all on one commit) that names the module in `dir`: the highest
/// version, a release above its pre-releases (`v0.23.0` above `v0.23.0-pre.2`).
pub(crate) fn best_tag<'t>(dir: &str, tags: &'t [String]) -> Option<(&'t str, &'t str)> {
    let rank = |v: &str| {
        let (core, pre) = v
            .split_once(['-', '+'])
            .map_or((v, false), |(c, _)| (c, true));
        let nums: Vec<u64> = core.split('.').map(|n| n.parse().unwrap_or(0)).collect();
        (nums, !pre, v.to_string())
    };
    tags.iter()
        .filter_map(|t| tag_version(dir, t).map(|v| (t.as_str(), v)))
        .max_by_key(|(_, v)| rank(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_paths() {
        let text = "// comment\nmodule   github.com/o/r/cmd/tool/v2 // the tool\n\ngo 1.22\n";
        assert_eq!(
            module_path(text).as_deref(),
            Some("github.com/o/r/cmd/tool/v2")
        );
        assert_eq!(
            module_path("module \"example.com/q\"\n").as_deref(),
            Some("example.com/q")
        );
        assert_eq!(module_path("modules x\n"), None);
        assert_eq!(
            module_name("github.com/o/r/cmd/tool/v2").as_deref(),
            Some("tool")
        );
        assert_eq!(module_name("example.com/v1").as_deref(), Some("v1"));
        assert_eq!(module_name("gopkg.in/yaml.v3").as_deref(), Some("yaml"));
        assert_eq!(module_name("tool").as_deref(), Some("tool"));
        assert_eq!(
            source_url("github.com/o/r/cmd/tool/v2").as_deref(),
            Some("https://github.com/o/r")
        );
        assert_eq!(source_url("gitlab.com/group/sub/repo"), None);
        assert_eq!(source_url("golang.org/x/tools"), None);
    }

    #[test]
    fn nested_module_tags() {
        assert_eq!(tag_version("cmd/tool", "cmd/tool/v0.3.0"), Some("0.3.0"));
        assert_eq!(tag_version("cmd/tool", "cmd/toolbox/v0.3.0"), None);
        assert_eq!(tag_version("cmd/tool", "v1.0.0"), None);
        assert_eq!(tag_version("cmd/tool", "cmd/tool/vnext"), None);
        assert_eq!(tag_version("", "v1.0.0"), None);
        let tags: Vec<String> = [
            "gopls/v0.23.0-pre.2",
            "gopls/v0.23.0",
            "gopls/v0.9.5",
            "v0.47.0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(best_tag("gopls", &tags), Some(("gopls/v0.23.0", "0.23.0")));
    }
}
