//! git, through libgit2: the revision, branch, upstream remote, tags, committer time,
//! shallowness and (only when asked) whether tracked files are modified.
//!
//! Every read is bounded: tags are looked up by the commit they point at, `describe` walks at
//! most [`DESCRIBE_LIMIT`] commits and says when it gave up, and nothing walks the full log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use git2::{BranchType, ErrorCode, Oid, Repository, StatusOptions};

/// The most commits `describe` looks at before giving up.
pub(crate) const DESCRIBE_LIMIT: usize = 500;

/// An opened repository and what was read from it eagerly (the cheap facts).
pub(crate) struct GitRepo {
    repo: Repository,
    /// The working tree, or the git directory of a bare repository.
    pub(crate) root: PathBuf,
    pub(crate) bare: bool,
    pub(crate) head: Option<Oid>,
    /// `refs/heads/<name>` HEAD points to, also when that branch is unborn.
    pub(crate) branch: Option<String>,
    pub(crate) detached: bool,
    pub(crate) shallow: bool,
}

/// The remote `source` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remote {
    pub(crate) name: String,
    pub(crate) url: String,
    /// Why this remote: `upstream of main`, or empty for the `origin` fallback.
    pub(crate) why: String,
}

/// The nearest tag within [`DESCRIBE_LIMIT`] commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Describe {
    Found {
        tag: String,
        distance: usize,
        short: String,
    },
    NoTags,
    GaveUp {
        walked: usize,
    },
}

/// Why the repository could not be opened (other than there being none).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the git repository at {path}: {message}")]
pub(crate) struct GitError {
    pub(crate) path: PathBuf,
    pub(crate) message: String,
}

fn git_error(path: &Path, e: &git2::Error) -> GitError {
    GitError {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    }
}

/// Lets libgit2 read a checkout owned by another user (CI containers run as root on a
/// workspace the runner user owns). git's `safe.directory` check guards against a hostile
/// repository's config making git run programs (hooks, fsmonitor, filters); oci-stamp only
/// reads objects and refs through libgit2, which runs none of those, so the check guards
/// nothing here and only gets in the way.
#[allow(unsafe_code)]
pub(crate) fn allow_any_owner() {
    // SAFETY: libgit2 documents this option as process-global and not synchronised; it is
    // called once, from `run`, before any repository is opened and before any thread starts.
    let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
}

impl GitRepo {
    /// Finds the repository containing `dir`. `Ok(None)` when there is none.
    pub(crate) fn discover(dir: &Path) -> Result<Option<GitRepo>, GitError> {
        let repo = match Repository::discover(dir) {
            Ok(r) => r,
            Err(e) if e.code() == ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(git_error(dir, &e)),
        };
        let bare = repo.is_bare();
        let root = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
        let (head, branch, detached) = match repo.head() {
            Ok(h) => {
                let oid = h.peel_to_commit().ok().map(|c| c.id());
                let branch = h
                    .is_branch()
                    .then(|| h.shorthand().ok().map(str::to_string))
                    .flatten();
                let detached = repo.head_detached().unwrap_or(false);
                (oid, branch, detached)
            }
            Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
                let branch = repo
                    .find_reference("HEAD")
                    .ok()
                    .and_then(|r| r.symbolic_target().ok().flatten().map(str::to_string))
                    .and_then(|t| t.strip_prefix("refs/heads/").map(str::to_string));
                (None, branch, false)
            }
            Err(e) => return Err(git_error(&root, &e)),
        };
        let shallow = repo.is_shallow();
        let mut git = GitRepo {
            repo,
            root,
            bare,
            head,
            branch,
            detached,
            shallow,
        };
        if git.detached {
            git.branch = git.branch_at_head();
        }
        Ok(Some(git))
    }

    /// A local branch whose tip is HEAD (for a detached HEAD), the first by name.
    fn branch_at_head(&self) -> Option<String> {
        let head = self.head?;
        let mut names: Vec<String> = self
            .repo
            .branches(Some(BranchType::Local))
            .ok()?
            .filter_map(Result::ok)
            .filter(|(b, _)| b.get().target() == Some(head))
            .filter_map(|(b, _)| b.name().ok().flatten().map(str::to_string))
            .collect();
        names.sort();
        names.into_iter().next()
    }

    /// The committer time of HEAD.
    pub(crate) fn commit_time(&self) -> Option<DateTime<Utc>> {
        let commit = self.repo.find_commit(self.head?).ok()?;
        Utc.timestamp_opt(commit.time().seconds(), 0).single()
    }

    /// The upstream remote of the current branch, else `origin`.
    pub(crate) fn remote(&self) -> Option<Remote> {
        let upstream = self
            .branch
            .as_ref()
            .filter(|_| !self.detached)
            .and_then(|b| {
                let refname = format!("refs/heads/{b}");
                let buf = self.repo.branch_upstream_remote(&refname).ok()?;
                Some((buf.as_str().ok()?.to_string(), format!("upstream of {b}")))
            });
        let (name, why) = upstream.unwrap_or_else(|| ("origin".to_string(), String::new()));
        let remote = self.repo.find_remote(&name).ok()?;
        let url = remote.url().ok()?.to_string();
        Some(Remote { name, url, why })
    }

    /// Tag names by the commit they point at (annotated tags peeled). Packed tags are read
    /// from `packed-refs`, whose `^` lines already carry the peeled commit, so thousands of
    /// tags cost one small file read instead of one object lookup each; loose tags (few) are
    /// peeled through libgit2.
    fn tags_by_commit(&self) -> HashMap<Oid, Vec<String>> {
        let mut by_name: HashMap<String, Oid> = match self.packed_tags() {
            Some(packed) => packed,
            None => return self.tags_by_commit_slow(),
        };
        let loose_root = self.repo.commondir().join("refs").join("tags");
        let mut stack = vec![loose_root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.filter_map(Result::ok) {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let Some(rel) = path.strip_prefix(&loose_root).ok().and_then(|r| r.to_str()) else {
                    continue;
                };
                let name = rel.replace(std::path::MAIN_SEPARATOR, "/");
                let peeled = self
                    .repo
                    .find_reference(&format!("refs/tags/{name}"))
                    .and_then(|r| r.peel_to_commit());
                match peeled {
                    Ok(c) => {
                        by_name.insert(name, c.id());
                    }
                    Err(_) => {
                        by_name.remove(&name);
                    }
                }
            }
        }
        let mut map: HashMap<Oid, Vec<String>> = HashMap::new();
        for (name, oid) in by_name {
            map.entry(oid).or_default().push(name);
        }
        map
    }

    /// Tags in `packed-refs`, when the file records peeled values (`fully-peeled`, which git
    /// has written for years); `None` means the slow path must be used.
    fn packed_tags(&self) -> Option<HashMap<String, Oid>> {
        let text = match std::fs::read_to_string(self.repo.commondir().join("packed-refs")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(HashMap::new()),
            Err(_) => return None,
        };
        let mut lines = text.lines().peekable();
        if !lines
            .peek()
            .is_some_and(|h| h.starts_with('#') && h.contains("fully-peeled"))
        {
            return None;
        }
        let mut map = HashMap::new();
        let mut last: Option<String> = None;
        for line in lines {
            if let Some(peeled) = line.strip_prefix('^') {
                if let (Some(name), Ok(oid)) = (last.take(), Oid::from_str(peeled.trim())) {
                    map.insert(name, oid);
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let (hex, refname) = line.split_once(' ')?;
            last = refname.strip_prefix("refs/tags/").map(str::to_string);
            if let (Some(name), Ok(oid)) = (&last, Oid::from_str(hex)) {
                map.insert(name.clone(), oid);
            }
        }
        Some(map)
    }

    /// Every tag peeled through libgit2 (reftable repositories, old packed-refs files).
    fn tags_by_commit_slow(&self) -> HashMap<Oid, Vec<String>> {
        let mut map: HashMap<Oid, Vec<String>> = HashMap::new();
        let Ok(refs) = self.repo.references_glob("refs/tags/*") else {
            return map;
        };
        for r in refs.filter_map(Result::ok) {
            let Some(name) = r.name().ok().and_then(|n| n.strip_prefix("refs/tags/")) else {
                continue;
            };
            let name = name.to_string();
            if let Ok(commit) = r.peel_to_commit() {
                map.entry(commit.id()).or_default().push(name);
            }
        }
        map
    }

    /// The tag on HEAD; with several, a version-like one, highest first.
    pub(crate) fn exact_tag(&self) -> Option<String> {
        let head = self.head?;
        let mut tags = self.tags_by_commit().remove(&head)?;
        tags.sort_by_key(|t| std::cmp::Reverse(tag_rank(t)));
        tags.into_iter().next()
    }

    /// `git describe --tags`, bounded.
    pub(crate) fn describe(&self) -> Describe {
        let Some(head) = self.head else {
            return Describe::NoTags;
        };
        let tags = self.tags_by_commit();
        if tags.is_empty() {
            return Describe::NoTags;
        }
        let Ok(mut walk) = self.repo.revwalk() else {
            return Describe::NoTags;
        };
        if walk.push(head).is_err() {
            return Describe::NoTags;
        }
        let short = head.to_string()[..7].to_string();
        let mut walked = 0;
        for oid in walk.filter_map(Result::ok) {
            if let Some(names) = tags.get(&oid) {
                let mut names = names.clone();
                names.sort_by_key(|t| std::cmp::Reverse(tag_rank(t)));
                return Describe::Found {
                    tag: names.swap_remove(0),
                    distance: self.distance(head, oid).unwrap_or(walked),
                    short,
                };
            }
            walked += 1;
            if walked >= DESCRIBE_LIMIT {
                return Describe::GaveUp { walked };
            }
        }
        Describe::NoTags
    }

    /// How many commits are in `head`'s history but not in `base`'s, as `git describe`
    /// counts them (a merged side branch older than `base` counts too). `None` past
    /// [`DESCRIBE_LIMIT`].
    fn distance(&self, head: Oid, base: Oid) -> Option<usize> {
        let mut walk = self.repo.revwalk().ok()?;
        walk.push(head).ok()?;
        walk.hide(base).ok()?;
        let n = walk.take(DESCRIBE_LIMIT + 1).count();
        (n <= DESCRIBE_LIMIT).then_some(n)
    }

    /// Tracked files modified in the index or working tree (untracked files do not count).
    /// Returns how many and the first few paths.
    pub(crate) fn modified(&self) -> Result<(usize, Vec<String>), GitError> {
        if self.bare {
            return Ok((0, Vec::new()));
        }
        let mut opts = StatusOptions::new();
        opts.include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(false)
            .renames_head_to_index(false);
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|e| git_error(&self.root, &e))?;
        let paths: Vec<String> = statuses
            .iter()
            .filter(|s| {
                !s.status().is_empty() && !s.status().is_ignored() && !s.status().is_wt_new()
            })
            .filter_map(|s| s.path().ok().map(str::to_string))
            .collect();
        Ok((paths.len(), paths.into_iter().take(3).collect()))
    }
}

/// Ranks tags: version-like (`v1.2.3`, `1.2`) above others, then by numeric components.
fn tag_rank(tag: &str) -> (bool, Vec<u64>, String) {
    let v = version_from_tag(tag);
    let is_version = v.is_some();
    let nums = v
        .unwrap_or(tag)
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect();
    (is_version, nums, tag.to_string())
}

/// The version a tag names: `v1.2.3` → `1.2.3`, `1.2.3` → `1.2.3`; `release-x` → none.
pub(crate) fn version_from_tag(tag: &str) -> Option<&str> {
    let t = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    t.starts_with(|c: char| c.is_ascii_digit()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_tags() {
        assert_eq!(version_from_tag("v1.2.3"), Some("1.2.3"));
        assert_eq!(version_from_tag("1.0"), Some("1.0"));
        assert_eq!(version_from_tag("vnext"), None);
        assert_eq!(version_from_tag("release"), None);
    }

    #[test]
    fn version_like_tags_rank_first() {
        let mut tags = vec!["latest", "v1.9.0", "v1.10.0", "1.2"];
        tags.sort_by_key(|t| std::cmp::Reverse(tag_rank(t)));
        assert_eq!(tags, ["v1.10.0", "v1.9.0", "1.2", "latest"]);
    }
}
