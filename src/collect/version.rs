//! Which tags are this package's releases, and the version of a commit past one.
//!
//! A release tag is, in this order of preference:
//! - with `--tag-prefix PREFIX`: `PREFIX` then a version (`release-9.0.0`, `PREFIX` = `release-`);
//! - the package's name (from its project file), a separator (`-`, `_`, `@`, `/`) and a
//!   version: `tokio-1.53.1`, `gson-parent-2.14.0`, `@scope/pkg@3.1.0`, `pkg@9.0.0`;
//! - the package's directory in the repository, `/` and a version, as Go tags modules in
//!   subdirectories: `cmd/tool/v0.3.0`;
//! - else, when none of those exist, a bare version: `v1.2.3`, `1.2.3`.
//!
//! A version is digits, optionally after `v`; a prefixed one needs a dot (`1.2`), so that
//! `tokio-stream-0.1.19` is never a `tokio` release. The tags of other packages of a
//! monorepo are never this package's.
//!
//! A commit past a release gets the development version
//! `NEXT-dev.DISTANCE.gHASH`: NEXT is the release with its last number raised (`1.2.3` →
//! `1.2.4`; a pre-release such as `1.2.3-rc.1` gets `.dev.…` appended instead), DISTANCE the
//! commits since the release as `git describe` counts them, HASH the abbreviated commit as
//! `git describe` prints it. It cannot be mistaken for a release (a SemVer pre-release), sorts
//! after the release and before the next one, and among builds on one line by distance; it
//! holds no `+`, so it is also a valid image tag. Go's pseudo-versions and setuptools-scm raise
//! the last number the same way.

/// What selects this package's release tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TagRule {
    /// `--tag-prefix`.
    pub(crate) prefix: Option<String>,
    /// The package's name, from its project file.
    pub(crate) package: Option<String>,
    /// The package's directory in the repository (`cmd/tool`), when not the root.
    pub(crate) dir: Option<String>,
    /// Only `DIR/vVERSION` tags are releases: a Go module in a subdirectory, whose versions
    /// are by Go's rules only its directory's tags (a bare `v1.2.3` is the root module's).
    pub(crate) dir_only: bool,
}

/// How a tag is a release: the kind of prefix it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Bare,
    Dir,
    Package,
    Explicit,
}

/// `v1.2.3` / `1.2.3` → `1.2.3`; `needs_dot` for a version after a prefix.
fn version_part(s: &str, needs_dot: bool) -> Option<&str> {
    let v = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    if needs_dot {
        let rest = &v[digits..];
        if !rest.starts_with('.') || !rest[1..].starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
    }
    Some(v)
}

impl TagRule {
    fn classify<'t>(&self, tag: &'t str) -> Option<(Kind, &'t str)> {
        if let Some(p) = self.prefix.as_deref().filter(|p| !p.is_empty()) {
            return tag
                .strip_prefix(p)
                .and_then(|rest| version_part(rest, false))
                .map(|v| (Kind::Explicit, v));
        }
        if let Some(name) = self
            .package
            .as_deref()
            .filter(|n| !n.is_empty() && !self.dir_only)
        {
            if let Some(rest) = tag.strip_prefix(name) {
                if let Some(rest) = rest.strip_prefix(['-', '_', '@', '/']) {
                    if let Some(v) = version_part(rest, true) {
                        return Some((Kind::Package, v));
                    }
                }
            }
        }
        if let Some(dir) = self.dir.as_deref().filter(|d| !d.is_empty()) {
            if let Some(rest) = tag.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) {
                if let Some(v) = version_part(rest, false) {
                    return Some((Kind::Dir, v));
                }
            }
        }
        if self.dir_only {
            return None;
        }
        version_part(tag, false).map(|v| (Kind::Bare, v))
    }

    /// The most specific kind of release tag [`TagRule::classify`] can find by this rule.
    fn top_kind(&self) -> Kind {
        let set = |o: &Option<String>| o.as_deref().is_some_and(|v| !v.is_empty());
        if set(&self.prefix) {
            Kind::Explicit
        } else if set(&self.package) && !self.dir_only {
            Kind::Package
        } else if set(&self.dir) {
            Kind::Dir
        } else {
            Kind::Bare
        }
    }

    /// The tags of `all` that are this package's releases: only those of the most specific
    /// kind present (the package's own tags hide the bare ones).
    pub(crate) fn releases<'a>(&self, all: impl Iterator<Item = &'a str>) -> Releases {
        let mut best: Option<Kind> = None;
        // Once a tag of the most specific kind this rule knows is found, no other tag can
        // change `best`: the rest are only counted.
        let top = Some(self.top_kind());
        let mut any = 0usize;
        let mut prefixes: std::collections::BTreeMap<&str, usize> = Default::default();
        for t in all {
            any += 1;
            if best != top {
                if let Some((k, _)) = self.classify(t) {
                    best = best.max(Some(k));
                }
            }
            if let Some(p) = prefix_of(t) {
                *prefixes.entry(p).or_default() += 1;
            }
        }
        // The prefixes of tags that are not this package's releases, most common first.
        let mut others: Vec<(String, usize)> = prefixes
            .into_iter()
            .filter(|(p, _)| {
                self.classify(&format!("{p}1.0"))
                    .is_none_or(|(k, _)| Some(k) != best)
            })
            .map(|(p, n)| (p.to_string(), n))
            .collect();
        others.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        others.truncate(3);
        Releases {
            rule: self.clone(),
            kind: best,
            tags: any,
            other_prefixes: others,
        }
    }

    /// What the rule looks for, for messages.
    pub(crate) fn describe(&self) -> String {
        if let Some(p) = self.prefix.as_deref().filter(|p| !p.is_empty()) {
            return format!("`{p}VERSION` (--tag-prefix)");
        }
        if let Some(d) = self.dir.as_deref().filter(|_| self.dir_only) {
            return format!("`{d}/vVERSION`, as Go versions a module in a subdirectory");
        }
        let mut forms = Vec::new();
        if let Some(n) = &self.package {
            forms.push(format!("`{n}-VERSION`, `{n}@VERSION`"));
        }
        if let Some(d) = &self.dir {
            forms.push(format!("`{d}/vVERSION`"));
        }
        forms.push("`vVERSION`".into());
        forms.join(", ")
    }
}

/// The release tags of a repository for one package.
#[derive(Debug, Clone)]
pub(crate) struct Releases {
    rule: TagRule,
    kind: Option<Kind>,
    /// How many tags the repository has.
    pub(crate) tags: usize,
    /// The commonest prefixes (at most three, with their counts) of tags that are no
    /// release of this package: `tokio-util-` of `tokio-util-0.7.11`. What `--tag-prefix`
    /// would select, for messages.
    pub(crate) other_prefixes: Vec<(String, usize)>,
}

/// The text before a tag's version (`tokio-stream-` of `tokio-stream-0.1.19`, `release-v`
/// of `release-v9.0.0`), when it has a `MAJOR.MINOR` version after a prefix that is more
/// than a `v`.
fn prefix_of(tag: &str) -> Option<&str> {
    let at = tag.bytes().position(|b| b.is_ascii_digit())?;
    let (prefix, rest) = tag.split_at(at);
    // The cheap test first: most repositories' tags are bare `v1.2.3`.
    (!prefix.is_empty() && !prefix.eq_ignore_ascii_case("v") && version_part(rest, true).is_some())
        .then_some(prefix)
}

impl Releases {
    /// The version a tag names, when it is one of this package's releases.
    pub(crate) fn version<'t>(&self, tag: &'t str) -> Option<&'t str> {
        let kind = self.kind?;
        self.rule
            .classify(tag)
            .filter(|(k, _)| *k == kind)
            .map(|(_, v)| v)
    }

    /// `; this repository's other tags: `tokio-VERSION` (201), …` for messages, with the
    /// `--tag-prefix` that would select the commonest; empty when there are none.
    pub(crate) fn others_hint(&self) -> Option<String> {
        // A Go module's versions are its directory's tags only: others are other modules'.
        if self.rule.dir_only {
            return None;
        }
        let (first, _) = self.other_prefixes.first()?;
        let list: Vec<String> = self
            .other_prefixes
            .iter()
            .map(|(p, n)| format!("`{}VERSION` ({n})", p.escape_debug()))
            .collect();
        Some(format!(
            "this repository's other tags are {}: pass --tag-prefix `{}` to take versions from the first",
            list.join(", "),
            first.escape_debug()
        ))
    }

    /// Whether there is any release tag at all.
    pub(crate) fn any(&self) -> bool {
        self.kind.is_some()
    }

    /// The best release among tags on one commit: the highest version, a release above its
    /// own pre-releases (`v2.0.3` over `v2.0.3-rc.1` on the same commit).
    pub(crate) fn best<'t, S: AsRef<str>>(&self, tags: &'t [S]) -> Option<&'t str> {
        tags.iter()
            .map(AsRef::as_ref)
            .filter_map(|t| self.version(t).map(|v| (numbers(v), !is_prerelease(v), t)))
            .max()
            .map(|(_, _, t)| t)
    }
}

/// The numbers of a version's release part (`1.10.0-rc.1` → `[1, 10, 0]`).
fn numbers(v: &str) -> Vec<u64> {
    release_part(v)
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

/// `1.2.3-rc.1+b` → `1.2.3`.
fn release_part(v: &str) -> &str {
    let end = v.find(['-', '+']).unwrap_or(v.len());
    &v[..end]
}

fn is_prerelease(v: &str) -> bool {
    v[release_part(v).len()..].starts_with('-')
}

/// The development version of a commit `distance` commits past the release `version`, whose
/// abbreviated hash is `short` (see the module's documentation).
pub(crate) fn development(version: &str, distance: usize, short: &str) -> String {
    let v = version.split('+').next().unwrap_or(version);
    if is_prerelease(v) {
        return format!("{v}.dev.{distance}.g{short}");
    }
    let release = release_part(v);
    let rest = &v[release.len()..];
    // Raise the last number of the release part, keeping the others as written.
    let cut = release
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let next = match release[cut..].parse::<u64>() {
        Ok(n) => format!("{}{}", &release[..cut], n + 1),
        Err(_) => format!("{release}.1"),
    };
    format!("{next}{rest}-dev.{distance}.g{short}")
}

/// Whether a project file's version is ahead of the release `tagged` (`49.0.0-dev` after
/// `48.0.0`): then it is kept. Equal or older, it would name the release, or an older one,
/// for a commit that is neither.
pub(crate) fn is_ahead(project: &str, tagged: &str) -> bool {
    let (p, t) = (numbers(project), numbers(tagged));
    let len = p.len().max(t.len());
    let pad = |mut v: Vec<u64>| {
        v.resize(len, 0);
        v
    };
    pad(p) > pad(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_tags_name_the_prefix_that_would_select_them() {
        for (tag, want) in [
            ("tokio-stream-0.1.19", Some("tokio-stream-")),
            ("release-v9.0.0", Some("release-v")),
            ("gson-parent-2.8.9", Some("gson-parent-")),
            ("v1.2.3", None),
            ("1.2.3", None),
            ("build-7", None),
            ("latest", None),
        ] {
            assert_eq!(prefix_of(tag), want, "{tag}");
        }
        let tags = [
            "tokio-1.0.0",
            "tokio-1.1.0",
            "tokio-util-0.7.0",
            "v0.1.0",
            "nightly",
        ];
        // Bare `v` tags are this package's releases: the others are named, commonest first.
        let rel = rule(None, None, None).releases(tags.into_iter());
        assert_eq!(
            rel.other_prefixes,
            [("tokio-".to_string(), 2), ("tokio-util-".to_string(), 1)]
        );
        assert!(rel
            .others_hint()
            .unwrap()
            .contains("pass --tag-prefix `tokio-`"));
        // The package's own prefix is not "other".
        let rel = rule(None, Some("tokio"), None).releases(tags.into_iter());
        assert_eq!(rel.other_prefixes, [("tokio-util-".to_string(), 1)]);
        let rel = rule(None, None, None).releases(["v1.0.0", "nightly"].into_iter());
        assert_eq!(rel.others_hint(), None);
    }

    #[test]
    fn a_release_is_better_than_its_prerelease_on_one_commit() {
        let rel = rule(None, None, None).releases(["v2.0.3"].into_iter());
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(rel.best(&tags(&["v2.0.3-rc.1", "v2.0.3"])), Some("v2.0.3"));
        assert_eq!(rel.best(&tags(&["v2.0.3", "v2.0.3-rc.1"])), Some("v2.0.3"));
        assert_eq!(
            rel.best(&tags(&["v2.0.4-rc.1", "v2.0.3"])),
            Some("v2.0.4-rc.1")
        );
    }

    fn rule(prefix: Option<&str>, package: Option<&str>, dir: Option<&str>) -> TagRule {
        TagRule {
            dir_only: false,
            prefix: prefix.map(str::to_string),
            package: package.map(str::to_string),
            dir: dir.map(str::to_string),
        }
    }

    fn versions(r: &TagRule, tags: &[&str]) -> Vec<Option<String>> {
        let rel = r.releases(tags.iter().copied());
        tags.iter()
            .map(|t| rel.version(t).map(str::to_string))
            .collect()
    }

    #[test]
    fn prefixed_tags_belong_to_their_package() {
        let tokio = ["tokio-1.53.1", "tokio-stream-0.1.19", "tokio-macros-2.5.0"];
        assert_eq!(
            versions(&rule(None, Some("tokio"), None), &tokio),
            [Some("1.53.1".into()), None, None]
        );
        assert_eq!(
            versions(&rule(None, Some("tokio-stream"), None), &tokio),
            [None, Some("0.1.19".into()), None]
        );
        // no name (a virtual workspace): none is this package's
        assert_eq!(
            versions(&rule(None, None, None), &tokio),
            [None, None, None]
        );
        let npm = ["@scope/pkg@3.1.0", "pkg@9.0.0", "v1.0.0"];
        assert_eq!(
            versions(&rule(None, Some("@scope/pkg"), None), &npm),
            [Some("3.1.0".into()), None, None]
        );
        assert_eq!(
            versions(&rule(None, Some("pkg"), None), &npm),
            [None, Some("9.0.0".into()), None]
        );
        // the package's own tags hide the bare ones; without them, the bare ones count
        assert_eq!(
            versions(&rule(None, Some("other"), None), &npm),
            [None, None, Some("1.0.0".into())]
        );
        // ripgrep: bare versions, and the crates' prefixed tags are not ripgrep's
        assert_eq!(
            versions(
                &rule(None, Some("ripgrep"), None),
                &["15.2.0", "ignore-0.4.33"]
            ),
            [Some("15.2.0".into()), None]
        );
        assert_eq!(
            versions(
                &rule(None, None, Some("cmd/tool")),
                &["cmd/tool/v0.3.0", "v0.9.0"]
            ),
            [Some("0.3.0".into()), None]
        );
        assert_eq!(
            versions(
                &rule(Some("release-"), Some("x"), None),
                &["release-9.0.0", "v1.0"]
            ),
            [Some("9.0.0".into()), None]
        );
        assert_eq!(
            versions(&rule(None, None, None), &["nightly", "latest"]),
            [None, None]
        );
    }

    #[test]
    fn the_kind_found_does_not_depend_on_the_order_of_the_tags() {
        // `releases` stops classifying once it meets a tag of the rule's most specific
        // kind: a less specific one first, or the specific one first, must agree.
        let go = TagRule {
            dir_only: true,
            ..rule(None, Some("tool"), Some("cmd/tool"))
        };
        let rules = [
            rule(None, None, None),
            rule(None, Some("pkg"), None),
            rule(None, Some("pkg"), Some("cmd/tool")),
            rule(None, None, Some("cmd/tool")),
            rule(Some("release-"), Some("pkg"), None),
            go,
        ];
        let tags = [
            "v1.0.0",
            "cmd/tool/v0.3.0",
            "pkg-2.0.0",
            "release-9.0.0",
            "nightly",
        ];
        for r in &rules {
            let forward = versions(r, &tags);
            let mut reversed = tags;
            reversed.reverse();
            let mut backward = versions(r, &reversed);
            backward.reverse();
            assert_eq!(forward, backward, "{r:?}");
            assert_eq!(
                forward.iter().filter(|v| v.is_some()).count(),
                1,
                "{r:?}: one kind, one tag of it: {forward:?}"
            );
        }
    }

    #[test]
    fn development_versions() {
        assert_eq!(development("1.2.3", 26, "abc1234"), "1.2.4-dev.26.gabc1234");
        assert_eq!(development("15.2", 1, "abc1234"), "15.3-dev.1.gabc1234");
        assert_eq!(
            development("2.0.0-rc.1", 3, "abc1234"),
            "2.0.0-rc.1.dev.3.gabc1234"
        );
        assert_eq!(
            development("2024.01.09", 2, "abc1234"),
            "2024.01.10-dev.2.gabc1234"
        );
    }

    #[test]
    fn project_versions_ahead_of_the_tag() {
        assert!(is_ahead("49.0.0-dev", "48.0.0"));
        assert!(is_ahead("0.4.2", "0.4.0"));
        assert!(!is_ahead("0.4.2", "0.4.2"));
        assert!(!is_ahead("0.4.2-dev", "0.4.2"));
        assert!(!is_ahead("1.0", "1.0.0"));
        assert!(!is_ahead("0.3.0", "0.4.0"));
    }
}
