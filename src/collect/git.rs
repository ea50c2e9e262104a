//! git, through libgit2: the revision, branch, upstream remote, tags, committer time,
//! shallowness and (only when asked) whether tracked files are modified.
//!
//! Every read is bounded: tags are looked up by the commit they point at, `describe` walks at
//! most [`DESCRIBE_LIMIT`] commits and says when it gave up, and nothing walks the full log.

use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use git2::{BranchType, ErrorCode, Oid, Repository, StatusOptions, StatusShow};

use super::commit_graph::CommitGraph;
use super::tags::{oid_from_hex, read_packed, PackedRead, TagTable};
use super::worktree;
use crate::error::GitError;

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
    /// Tag names by the commit they point at, read once (both `exact_tag` and `describe` use
    /// them, and a repository may have thousands).
    tags: OnceCell<TagTable>,
    /// The numbers of `packed-refs` lines that could not be read (reading the tags fills it).
    packed_problems: std::cell::RefCell<Vec<usize>>,
    /// The dirty check's stat pass, when [`GitRepo::start_dirty_check`] started it.
    scan: std::cell::RefCell<Option<worktree::Scan>>,
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

fn git_error(path: &Path, e: &git2::Error) -> GitError {
    GitError {
        path: path.to_path_buf(),
        message: e.message().to_string(),
    }
}

/// Process-wide libgit2 settings, set once at start.
///
/// Owner validation is off, so libgit2 reads a checkout owned by another user (CI containers
/// run as root on a workspace the runner user owns). git's `safe.directory` check guards
/// against a hostile repository's config making git run programs (hooks, fsmonitor,
/// filters); oci-stamp only reads objects and refs through libgit2, which runs none of those,
/// so the check guards nothing here and only gets in the way.
#[allow(unsafe_code)]
pub(crate) fn configure_libgit2() {
    // SAFETY: libgit2 documents this option as process-global and not synchronised; it is
    // called once, from `run`, before any repository is opened and before any thread starts.
    let _ = unsafe { git2::opts::set_verify_owner_validation(false) };
    // libgit2 re-hashes every object it reads (SHA-1 with collision detection) to check it
    // against its name; the git CLI does not on ordinary reads, and for `describe` walking
    // hundreds of commits it was most of the time (callgrind on benches' `large`).
    git2::opts::strict_hash_verification(false);
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
            tags: OnceCell::new(),
            packed_problems: std::cell::RefCell::new(Vec::new()),
            scan: std::cell::RefCell::new(None),
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
        // Else `origin`; else the one remote there is (`git clone -o upstream`).
        let (name, why) = upstream.unwrap_or_else(|| ("origin".to_string(), String::new()));
        // One lookup each: every lookup copies the whole configuration.
        let (name, why, remote) = match self.repo.find_remote(&name) {
            Err(e) if e.code() == ErrorCode::NotFound && why.is_empty() => {
                let names = self.repo.remotes().ok()?;
                let only = match (names.get(0).ok().flatten(), names.len()) {
                    (Some(only), 1) => only.to_string(),
                    _ => return None,
                };
                let remote = self.repo.find_remote(&only).ok()?;
                (only, "the only remote".to_string(), remote)
            }
            found => (name, why, found.ok()?),
        };
        let url = remote.url().ok()?.to_string();
        Some(Remote { name, url, why })
    }

    /// Tag names by the commit they point at (annotated tags peeled). Packed tags are read
    /// from `packed-refs`, whose `^` lines already carry the peeled commit, so thousands of
    /// tags cost one small file read instead of one object lookup each; loose tags (few) are
    /// peeled through libgit2.
    fn tags_by_commit(&self) -> &TagTable {
        self.tags.get_or_init(|| self.read_tags())
    }

    fn read_tags(&self) -> TagTable {
        let read = read_packed(self.repo.commondir());
        if !read.complete {
            return self.tags_by_commit_slow();
        }
        let PackedRead {
            mut table,
            problems,
            loose,
            ..
        } = read;
        *self.packed_problems.borrow_mut() = problems;
        for name in &loose {
            let peeled = self
                .repo
                .find_reference(&format!("refs/tags/{name}"))
                .and_then(|r| r.peel_to_commit())
                .map(|c| c.id());
            if let Ok(oid) = peeled {
                table.push_oid(oid, name);
            }
        }
        table.finish();
        table
    }

    /// Every tag peeled through libgit2 (reftable repositories, old packed-refs files).
    fn tags_by_commit_slow(&self) -> TagTable {
        let mut table = TagTable::default();
        if let Ok(refs) = self.repo.references_glob("refs/tags/*") {
            for r in refs.filter_map(Result::ok) {
                let Some(name) = r.name().ok().and_then(|n| n.strip_prefix("refs/tags/")) else {
                    continue;
                };
                if let Ok(commit) = r.peel_to_commit() {
                    table.push_oid(commit.id(), name);
                }
            }
        }
        table.finish();
        table
    }

    /// `git describe --tags`, bounded, counting only the tags `accept` takes (this package's
    /// releases, [`super::version`]); with several on one commit, `best` picks.
    ///
    /// The walk goes newest commit first by committer time, as `git describe` and libgit2's
    /// revision walk do (ties in the order commits were found). Commits come from the
    /// commit-graph file when the repository has one ([`CommitGraph`]: a few bytes read per
    /// commit instead of an object inflated from a pack), else, and for commits newer than
    /// the graph, from libgit2.
    pub(crate) fn describe(
        &self,
        accept: &dyn Fn(&str) -> bool,
        best: &dyn Fn(&[&str]) -> Option<String>,
    ) -> Describe {
        let Some(head) = self.head else {
            return Describe::NoTags;
        };
        let tags = self.tags_by_commit();
        if tags.is_empty() {
            return Describe::NoTags;
        }
        let graph = self.commit_graph();
        let odb = (!self.history_rewritten())
            .then(|| self.repo.odb().ok())
            .flatten();
        let mut walk = DateWalk::new(&self.repo, graph.as_ref(), odb);
        if walk.push(head).is_none() {
            return Describe::NoTags;
        }
        // With a graph, a commit is walked by its position; its object name, which the tag
        // table is keyed by, costs a read. With few tags, the positions of their commits are
        // looked up once (a binary search each) and only a commit at one of them is named;
        // with many, every commit taken from the queue is.
        let tag_positions: Option<std::collections::HashSet<u32, WalkHash>> = graph
            .as_ref()
            .filter(|_| tags.len() <= FEW_TAGS)
            .map(|g| tags.commits().filter_map(|c| g.find(c)).collect());
        let short = self.abbrev(head);
        // git's `describe` (builtin/describe.c): up to ten candidate tags, each with a flag
        // that spreads to the commits it reaches; a candidate's depth counts the commits
        // walked that it does not reach; the least deep wins, then the first found.
        let mut cands: Vec<Candidate> = Vec::new();
        let mut seen_commits = 0usize;
        let mut annotated: HashMap<usize, bool> = HashMap::new();
        while let Some(item) = walk.pop() {
            seen_commits += 1;
            let named = match (item.key, &tag_positions) {
                (Key::Pos(pos), Some(at)) if !at.contains(&pos) => None,
                (key, _) => walk.oid(key),
            };
            if let Some((oid, tag)) =
                named.and_then(|oid| Some((oid, tags.candidate(&oid, accept, best)?)))
            {
                if cands.len() == MAX_CANDIDATES {
                    walk.requeue(item);
                    seen_commits -= 1;
                    break;
                }
                let flag = 1u16 << cands.len();
                cands.push(Candidate {
                    tag,
                    commit: oid,
                    depth: seen_commits - 1,
                    flag,
                });
                walk.add_flags(item.key, flag);
            }
            let flags = walk.flags(item.key);
            for c in cands.iter_mut() {
                if flags & c.flag == 0 {
                    c.depth += 1;
                }
            }
            // "Stop if last remaining path already covered by best candidate(s)": git
            // stops when the queue is empty and an annotated tag was among the candidates.
            if walk.is_empty() && !cands.is_empty() {
                let any_annotated = (0..cands.len()).any(|i| {
                    *annotated
                        .entry(i)
                        .or_insert_with(|| self.is_annotated(&cands[i].tag, cands[i].commit))
                });
                if any_annotated {
                    break;
                }
            }
            walk.expand(item);
            if seen_commits >= DESCRIBE_LIMIT {
                if cands.is_empty() {
                    return Describe::GaveUp {
                        walked: seen_commits,
                    };
                }
                break;
            }
        }
        if cands.is_empty() {
            return Describe::NoTags;
        }
        // Least deep, then first found (a stable sort keeps the found order).
        cands.sort_by_key(|c| c.depth);
        let best = cands.swap_remove(0);
        // git's `finish_depth_computation`: walk on until every queued commit is one the
        // best candidate reaches, counting those it does not. Bounded: past the bound, the
        // count of commits in HEAD's history and not in the tag's stands in.
        let mut depth = Some(best.depth);
        let mut extra = 0usize;
        while let Some(item) = walk.pop() {
            extra += 1;
            if extra > DESCRIBE_LIMIT {
                depth = None;
                break;
            }
            if walk.flags(item.key) & best.flag != 0 {
                if walk.all_flagged(best.flag) {
                    break;
                }
            } else {
                depth = depth.map(|d| d + 1);
            }
            walk.expand(item);
        }
        let distance = depth
            .or_else(|| self.distance(graph.as_ref(), head, best.commit))
            .unwrap_or(seen_commits);
        Describe::Found {
            tag: best.tag,
            distance,
            short,
        }
    }

    /// Whether tag `name` (on `commit`) is an annotated tag: its ref names a tag object,
    /// not the commit.
    fn is_annotated(&self, name: &str, commit: Oid) -> bool {
        self.repo
            .find_reference(&format!("refs/tags/{name}"))
            .ok()
            .and_then(|r| r.target())
            .is_some_and(|t| t != commit)
    }

    /// The repository's commit-graph, unless history is rewritten in a way the graph does
    /// not record (a shallow clone's cut-off parents, grafts), where git ignores it too.
    fn commit_graph(&self) -> Option<CommitGraph> {
        if self.history_rewritten() {
            return None;
        }
        let common = self.repo.commondir();
        let hash_len = self.head?.as_bytes().len();
        CommitGraph::open(&common.join("objects"), hash_len)
    }

    /// Whether the parents of some commits are not the ones their objects name: a shallow
    /// clone's cut-off commits, grafts (libgit2 applies both when it reads a commit).
    fn history_rewritten(&self) -> bool {
        self.shallow || self.repo.commondir().join("info").join("grafts").exists()
    }

    /// The abbreviated name of a commit as `git describe` prints it: unique in the
    /// repository, at least `core.abbrev` (7) digits.
    pub(crate) fn abbrev(&self, oid: Oid) -> String {
        let hex = oid.to_string();
        let unique = self
            .repo
            .find_object(oid, None)
            .ok()
            .and_then(|o| o.short_id().ok())
            .and_then(|b| b.as_str().ok().map(str::len))
            .unwrap_or(7);
        // git's `core.abbrev=auto` (the default): enough digits for the repository's size,
        // half the bits of its packed object count, rounded up, at least 7.
        let auto = self
            .repo
            .config()
            .ok()
            .and_then(|c| c.get_string("core.abbrev").ok())
            .is_none_or(|v| v == "auto");
        let sized = if auto {
            let count = packed_object_count(&self.repo.commondir().join("objects/pack"));
            let bits = (u64::BITS - count.leading_zeros()) as usize;
            bits.div_ceil(2).max(7)
        } else {
            7
        };
        hex[..unique.max(sized).min(hex.len())].to_string()
    }

    /// Every tag name of the repository.
    pub(crate) fn tag_names(&self) -> impl Iterator<Item = &str> {
        self.tags_by_commit().names()
    }

    /// The tags on HEAD.
    pub(crate) fn tags_at_head(&self) -> Vec<String> {
        self.head
            .map(|h| self.tags_by_commit().at(&h).map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// The `packed-refs` lines that could not be read, by number, once the tags are read.
    /// Empty when the tags were not read (no value came from them).
    pub(crate) fn packed_refs_problems(&self) -> Vec<usize> {
        self.packed_problems.borrow().clone()
    }

    /// How many commits are in `head`'s history but not in `base`'s, as `git describe`
    /// counts them (a merged side branch older than `base` counts too). `None` past
    /// [`DESCRIBE_LIMIT`].
    fn distance(&self, graph: Option<&CommitGraph>, head: Oid, base: Oid) -> Option<usize> {
        if let Some(g) = graph {
            if let (Some(h), Some(b)) = (g.find(head.as_bytes()), g.find(base.as_bytes())) {
                if let Some(d) = graph_distance(g, h, b, DESCRIBE_LIMIT) {
                    return d;
                }
            }
        }
        let mut walk = self.repo.revwalk().ok()?;
        walk.push(head).ok()?;
        walk.hide(base).ok()?;
        let n = walk.take(DESCRIBE_LIMIT + 1).count();
        (n <= DESCRIBE_LIMIT).then_some(n)
    }

    /// Starts the stat pass of [`GitRepo::modified`] on a thread of its own, to run while
    /// the rest of collection does (on a 20,000-file checkout it is most of the run, and the
    /// describe walk most of the rest). Nothing for a bare repository.
    pub(crate) fn start_dirty_check(&self) {
        if self.bare {
            return;
        }
        let hash_len = self.head.map_or(20, |h| h.as_bytes().len());
        *self.scan.borrow_mut() = worktree::Scan::start(
            self.repo.path().join("index"),
            self.root.clone(),
            hash_len,
            self.stat_rules(),
        );
    }

    /// Tracked files modified in the index or working tree (untracked files do not count).
    /// Returns how many and the first few paths.
    ///
    /// The fast path ([`worktree`]) reads the index file itself (every kind git writes,
    /// split and sparse included) and settles the common case, a clean or nearly clean
    /// checkout, the way `git status` does. libgit2 decides only what stat data cannot:
    /// staged changes when the index's cached tree is not HEAD's, and the suspect files'
    /// content, each time from an in-memory index of the entries read here (libgit2 reads
    /// neither split nor sparse index files). Only an index the fast path does not read at
    /// all goes to libgit2's own status.
    pub(crate) fn modified(&self) -> Result<(usize, Vec<String>), GitError> {
        if self.bare {
            return Ok((0, Vec::new()));
        }
        let head_tree = match self.head {
            Some(head) => Some(
                self.repo
                    .find_commit(head)
                    .map_err(|e| git_error(&self.root, &e))?
                    .tree_id(),
            ),
            None => None,
        };
        let hash_len = head_tree.map_or(20, |t| t.as_bytes().len());
        let mut paths = BTreeSet::new();
        // The stat pass started ahead, else run here.
        let scanned = match self.scan.borrow_mut().take() {
            Some(scan) => scan.finish(),
            None => worktree::Index::read(&self.repo.path().join("index"), hash_len).map(|index| {
                let suspects = index.suspects(&self.root, self.stat_rules());
                worktree::Scanned { index, suspects }
            }),
        };
        let Some(worktree::Scanned { index, suspects }) = scanned else {
            self.status_paths(StatusShow::IndexAndWorkdir, None, &mut paths)?;
            return Ok(summary(paths));
        };
        let suspects: Vec<(&worktree::Entry, bool)> = suspects
            .iter()
            .map(|&(i, racy_only)| (&index.entries[i], racy_only))
            .collect();
        match self.modified_fast(&index, &suspects, head_tree, hash_len, &mut paths) {
            Some(result) => result?,
            // An entry libgit2 would not take (an object name of another length).
            None => {
                paths.clear();
                self.status_paths(StatusShow::IndexAndWorkdir, None, &mut paths)?;
            }
        }
        Ok(summary(paths))
    }

    /// [`GitRepo::modified`] from the index read by [`worktree`]; `None` when an entry
    /// cannot be handed to libgit2.
    fn modified_fast(
        &self,
        index: &worktree::Index,
        suspects: &[(&worktree::Entry, bool)],
        head_tree: Option<Oid>,
        hash_len: usize,
        paths: &mut BTreeSet<String>,
    ) -> Option<Result<(), GitError>> {
        use worktree::Index;
        let lossy = |p: &[u8]| String::from_utf8_lossy(p).into_owned();
        // Conflicts and `git add -N` entries: `git status` lists each of them.
        paths.extend(
            index
                .entries
                .iter()
                .filter(|e| Index::is_conflict(e) || Index::is_intent_to_add(e))
                .map(|e| lossy(index.path(e))),
        );
        // Staged changes: none when the index's cached root tree is HEAD's tree, else
        // compared directory by directory over the cached tree, as git does; libgit2 only
        // where that cannot tell.
        let staged_settled = match (head_tree, &index.root_tree) {
            (Some(head), Some(cached)) if head.as_bytes() == &cached[..] => true,
            (None, _) => index.entries.is_empty(),
            (Some(head), _) => {
                match index.staged_changes(head.as_bytes(), &mut |id| self.tree_items(id)) {
                    Some(staged) => {
                        paths.extend(staged.iter().map(|p| lossy(p)));
                        true
                    }
                    None => false,
                }
            }
        };
        if staged_settled && suspects.is_empty() {
            return Some(Ok(()));
        }
        self.ask_libgit2(index, head_tree, hash_len, staged_settled, suspects, paths)
    }

    /// The part of the dirty check stat data cannot settle, by libgit2 on an in-memory copy
    /// of `index`: HEAD's tree against it unless `staged_settled` (already compared), and
    /// the `suspects` against the work tree. The racily clean suspects go in with their size smudged, so that
    /// libgit2 compares their content. The in-memory index is also the repository's (a
    /// second handle on it), for what libgit2 reads from the index along the way
    /// (`.gitattributes`, submodules). `None` when an entry cannot be handed to libgit2.
    fn ask_libgit2(
        &self,
        index: &worktree::Index,
        head_tree: Option<Oid>,
        hash_len: usize,
        staged_settled: bool,
        suspects: &[(&worktree::Entry, bool)],
        paths: &mut BTreeSet<String>,
    ) -> Option<Result<(), GitError>> {
        use worktree::Index;
        let err = |e: git2::Error| git_error(&self.root, &e);
        let smudged: std::collections::HashSet<&[u8]> = suspects
            .iter()
            .filter(|(_, racy_only)| *racy_only)
            .map(|(e, _)| index.path(e))
            .collect();
        let mut mem = match git2::Index::new() {
            Ok(m) => m,
            Err(e) => return Some(Err(err(e))),
        };
        for e in index.entries.iter() {
            if Index::is_conflict(e) || Index::is_intent_to_add(e) {
                continue;
            }
            let entry = index.git2_entry(e, hash_len, smudged.contains(index.path(e)))?;
            let added = if Index::mode(e) == worktree::MODE_TREE {
                // A sparse index's directory: the tree's blobs, outside the cone.
                self.add_sparse_tree(&mut mem, &entry)
            } else {
                mem.add(&entry).map_err(err)
            };
            if let Err(e) = added {
                return Some(Err(e));
            }
        }
        let mut run = || -> Result<(), GitError> {
            let repo = Repository::open(&self.root).map_err(err)?;
            repo.set_index(&mut mem).map_err(err)?;
            let mem = repo.index().map_err(err)?;
            if !staged_settled {
                let tree = head_tree
                    .map(|t| repo.find_tree(t))
                    .transpose()
                    .map_err(err)?;
                let mut opts = diff_options();
                let diff = repo
                    .diff_tree_to_index(tree.as_ref(), Some(&mem), Some(&mut opts))
                    .map_err(err)?;
                changed_paths(&diff, paths);
            }
            if !suspects.is_empty() {
                let mut opts = diff_options();
                if suspects.len() <= PATHSPEC_LIMIT {
                    opts.disable_pathspec_match(true);
                    for (e, _) in suspects {
                        opts.pathspec(index.path(e));
                    }
                }
                let diff = repo
                    .diff_index_to_workdir(Some(&mem), Some(&mut opts))
                    .map_err(err)?;
                changed_paths(&diff, paths);
            }
            Ok(())
        };
        Some(run())
    }

    /// The entries of the tree named `id`, for [`worktree::Index::staged_changes`]; `None`
    /// when it cannot be read (the caller then asks libgit2, which says why).
    fn tree_items(&self, id: &[u8]) -> Option<Vec<worktree::TreeItem>> {
        let tree = self.repo.find_tree(Oid::from_bytes(id).ok()?).ok()?;
        let items = tree
            .iter()
            .map(|t| worktree::TreeItem {
                name: t.name_bytes().to_vec(),
                mode: t.filemode() as u32,
                id: t.id().as_bytes().to_vec(),
            })
            .collect();
        Some(items)
    }

    /// Adds the blobs of a sparse index's directory entry to `mem`, skip-worktree, as a
    /// full index would hold them.
    fn add_sparse_tree(
        &self,
        mem: &mut git2::Index,
        dir: &git2::IndexEntry,
    ) -> Result<(), GitError> {
        let err = |e: git2::Error| git_error(&self.root, &e);
        let tree = self.repo.find_tree(dir.id).map_err(err)?;
        let prefix = dir.path.strip_suffix(b"/").unwrap_or(&dir.path).to_vec();
        let mut failed = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |parent, item| {
            if item.kind() == Some(git2::ObjectType::Tree) {
                return git2::TreeWalkResult::Ok;
            }
            let mut path = prefix.clone();
            path.push(b'/');
            path.extend_from_slice(parent.as_bytes());
            path.extend_from_slice(item.name_bytes());
            let entry = git2::IndexEntry {
                ctime: git2::IndexTime::new(0, 0),
                mtime: git2::IndexTime::new(0, 0),
                dev: 0,
                ino: 0,
                mode: item.filemode() as u32,
                uid: 0,
                gid: 0,
                file_size: 0,
                id: item.id(),
                flags: 0,
                flags_extended: dir.flags_extended,
                path,
            };
            match mem.add(&entry) {
                Ok(()) => git2::TreeWalkResult::Ok,
                Err(e) => {
                    failed = Some(e);
                    git2::TreeWalkResult::Abort
                }
            }
        })
        .map_err(err)?;
        failed.map_or(Ok(()), |e| Err(err(e)))
    }

    /// What the stat comparison may trust, from the repository's configuration.
    fn stat_rules(&self) -> worktree::StatRules {
        let config = self.repo.config().ok();
        let flag = |name: &str| {
            config
                .as_ref()
                .and_then(|c| c.get_bool(name).ok())
                .unwrap_or(true)
        };
        worktree::StatRules {
            filemode: flag("core.filemode"),
            symlinks: flag("core.symlinks"),
            trust_ctime: flag("core.trustctime"),
            minimal: config
                .as_ref()
                .and_then(|c| c.get_string("core.checkstat").ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("minimal")),
        }
    }

    /// Adds the paths libgit2's status reports as modified (`show`: HEAD against the index,
    /// or the index against the work tree), for the listed paths only when given.
    fn status_paths(
        &self,
        show: StatusShow,
        only: Option<&[&[u8]]>,
        into: &mut BTreeSet<String>,
    ) -> Result<(), GitError> {
        let mut opts = StatusOptions::new();
        opts.show(show)
            .include_untracked(false)
            .include_ignored(false)
            .exclude_submodules(false)
            .renames_head_to_index(false);
        if let Some(only) = only {
            opts.disable_pathspec_match(true);
            for p in only {
                opts.pathspec(*p);
            }
        }
        let statuses = self
            .repo
            .statuses(Some(&mut opts))
            .map_err(|e| git_error(&self.root, &e))?;
        into.extend(
            statuses
                .iter()
                .filter(|s| {
                    !s.status().is_empty() && !s.status().is_ignored() && !s.status().is_wt_new()
                })
                .map(|s| String::from_utf8_lossy(s.path_bytes()).into_owned()),
        );
        Ok(())
    }
}

/// The objects in a repository's packs, from the pack indexes' headers (version 2: the last
/// fan-out entry), as git counts them for `core.abbrev=auto`.
fn packed_object_count(pack_dir: &Path) -> u64 {
    let mut count = 0u64;
    for e in std::fs::read_dir(pack_dir).into_iter().flatten().flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "idx") {
            continue;
        }
        let mut head = [0u8; 8 + 256 * 4];
        let ok = std::fs::File::open(&path)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok();
        if ok && head[..4] == [0xff, b't', b'O', b'c'] {
            let last = &head[8 + 255 * 4..];
            count += u64::from(u32::from_be_bytes([last[0], last[1], last[2], last[3]]));
        }
    }
    count
}

/// The hasher of the walks' maps, keyed by object names and graph positions. Their keys are
/// not chosen by an adversary the way a web request's are (an object name is a hash, a
/// position an index git wrote), so SipHash's defence buys nothing here and cost a tenth of
/// the walk: each word written is folded in by a multiply and a rotate (the Fx hash
/// rustc uses for its own tables).
#[derive(Default, Clone, Copy)]
struct WalkHash;

impl std::hash::BuildHasher for WalkHash {
    type Hasher = WalkHasher;
    fn build_hasher(&self) -> WalkHasher {
        WalkHasher(0)
    }
}

struct WalkHasher(u64);

impl WalkHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for WalkHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            self.add(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A commit in [`DateWalk`]: its position in the commit-graph when the graph holds it (its
/// object name is then read only when needed), else its object name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Pos(u32),
    Id(Oid),
}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match self {
            Key::Pos(p) => state.write_u32(*p),
            Key::Id(oid) => state.write(oid.as_bytes()),
        }
    }
}

/// A commit waiting in [`DateWalk`]'s queue, with its parents.
struct Queued {
    time: i64,
    seq: u64,
    key: Key,
    parents: Parents,
}

enum Parents {
    /// Positions in the commit-graph.
    Graph(super::commit_graph::Parents),
    /// Read from the commit object by libgit2.
    Odb(Vec<Oid>),
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    /// Newest first; among equal times, the one queued first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.time
            .cmp(&other.time)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

/// A walk from HEAD newest commit first by committer time, each commit once: the order of
/// libgit2's revision walk without sorting flags (a list kept sorted by date, a commit
/// inserted after those of the same time) and of `git describe`. Commits the commit-graph
/// holds are read from it; the rest through libgit2. A commit that cannot be read ends its
/// line of history, as a walk that skips errors would.
struct DateWalk<'r> {
    repo: &'r Repository,
    graph: Option<&'r CommitGraph>,
    /// The object database, when commits may be read from their raw text
    /// ([`commit_header`]) rather than through libgit2's commit parser.
    odb: Option<git2::Odb<'r>>,
    queue: std::collections::BinaryHeap<Queued>,
    /// Every commit queued so far, with the candidate flags that reached it.
    flags: HashMap<Key, u16, WalkHash>,
    seq: u64,
}

impl<'r> DateWalk<'r> {
    fn new(
        repo: &'r Repository,
        graph: Option<&'r CommitGraph>,
        odb: Option<git2::Odb<'r>>,
    ) -> Self {
        DateWalk {
            repo,
            graph,
            odb,
            queue: std::collections::BinaryHeap::new(),
            flags: HashMap::default(),
            seq: 0,
        }
    }

    /// The key of the commit named `oid`: its graph position when the graph holds it.
    fn key_of(&self, oid: Oid) -> Key {
        self.graph
            .and_then(|g| g.find(oid.as_bytes()))
            .map_or(Key::Id(oid), Key::Pos)
    }

    /// The object name of a commit in the walk.
    fn oid(&self, key: Key) -> Option<Oid> {
        match key {
            Key::Id(oid) => Some(oid),
            Key::Pos(pos) => self
                .graph
                .and_then(|g| g.id(pos))
                .and_then(|raw| Oid::from_bytes(raw.as_slice()).ok()),
        }
    }

    /// Queues a commit; false when it cannot be read.
    fn queue(&mut self, key: Key, flags: u16) -> bool {
        if let Some(f) = self.flags.get_mut(&key) {
            *f |= flags;
            return true;
        }
        self.flags.insert(key, flags);
        let from_odb = |oid: Oid| {
            let raw = || {
                let object = self.odb.as_ref()?.read(oid).ok()?;
                let (time, parents) = (object.kind() == git2::ObjectType::Commit)
                    .then(|| commit_header(object.data()))
                    .flatten()?;
                Some((time, Parents::Odb(parents)))
            };
            raw().or_else(|| {
                let c = self.repo.find_commit(oid).ok()?;
                Some((c.time().seconds(), Parents::Odb(c.parent_ids().collect())))
            })
        };
        let found = match key {
            // A row the graph cannot give: the commit object, as without a graph.
            Key::Pos(pos) => self
                .graph
                .and_then(|g| g.commit(pos))
                .map(|c| (c.time, Parents::Graph(c.parents)))
                .or_else(|| self.oid(key).and_then(from_odb)),
            Key::Id(oid) => from_odb(oid),
        };
        let Some((time, parents)) = found else {
            return false;
        };
        self.seq += 1;
        self.queue.push(Queued {
            time,
            seq: self.seq,
            key,
            parents,
        });
        true
    }

    fn push(&mut self, oid: Oid) -> Option<Key> {
        let key = self.key_of(oid);
        self.queue(key, 0).then_some(key)
    }

    /// The newest queued commit.
    fn pop(&mut self) -> Option<Queued> {
        self.queue.pop()
    }

    /// Puts a popped commit back (git's `gave_up_on`).
    fn requeue(&mut self, item: Queued) {
        self.queue.push(item);
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn flags(&self, key: Key) -> u16 {
        self.flags.get(&key).copied().unwrap_or(0)
    }

    fn add_flags(&mut self, key: Key, flags: u16) {
        *self.flags.entry(key).or_insert(0) |= flags;
    }

    /// Whether every queued commit carries `flag`.
    fn all_flagged(&self, flag: u16) -> bool {
        self.queue.iter().all(|q| self.flags(q.key) & flag != 0)
    }

    /// Queues a popped commit's parents (once each), passing its flags on to them. A
    /// parent in the graph is queued by its position, its object name not read.
    fn expand(&mut self, item: Queued) {
        let flags = self.flags(item.key);
        match item.parents {
            Parents::Graph(positions) => {
                for &pos in positions.as_slice() {
                    self.queue(Key::Pos(pos), flags);
                }
            }
            Parents::Odb(ids) => {
                for id in ids {
                    let key = self.key_of(id);
                    self.queue(key, flags);
                }
            }
        }
    }
}

/// The committer time and parents of a commit object, from its text, when it has the shape
/// git writes (`tree`, `parent` lines, `author` and `committer` lines ending in `> TIME` and
/// a zone); `None` for anything else, which the caller hands to libgit2's commit parser.
/// Reading only these lines skips libgit2's full parse and its object cache for each of the
/// hundreds of commits `describe` walks; on every commit it takes, the answer is libgit2's
/// (its signature parser takes the time after the line's last `>`, with a `<` before it).
fn commit_header(data: &[u8]) -> Option<(i64, Vec<Oid>)> {
    let hex_line = |rest: &[u8]| -> Option<Oid> {
        if rest.get(40) != Some(&b'\n') {
            return None;
        }
        oid_from_hex(rest.get(..40)?)
    };
    let rest = data.strip_prefix(b"tree ")?;
    hex_line(rest)?;
    let mut rest = &rest[41..];
    let mut parents = Vec::with_capacity(2);
    while let Some(line) = rest.strip_prefix(b"parent ") {
        parents.push(hex_line(line)?);
        rest = &line[41..];
    }
    // The time of a signature line (without its header and line break).
    let time = |line: &[u8]| -> Option<i64> {
        let gt = line.iter().rposition(|&b| b == b'>')?;
        let lt = line.iter().rposition(|&b| b == b'<')?;
        if lt >= gt {
            return None;
        }
        let after = line.get(gt + 1..)?.strip_prefix(b" ")?;
        let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 || digits > 15 || !matches!(after.get(digits), None | Some(b' ')) {
            return None;
        }
        std::str::from_utf8(&after[..digits]).ok()?.parse().ok()
    };
    let rest = rest.strip_prefix(b"author ")?;
    let end = rest.iter().position(|&b| b == b'\n')?;
    time(&rest[..end])?;
    let rest = rest[end + 1..].strip_prefix(b"committer ")?;
    let end = rest.iter().position(|&b| b == b'\n')?;
    Some((time(&rest[..end])?, parents))
}

/// A tag `describe` may name, as git's `possible_tag`.
struct Candidate {
    tag: String,
    commit: Oid,
    depth: usize,
    flag: u16,
}

/// git describe's default `--candidates`.
const MAX_CANDIDATES: usize = 10;

/// Up to this many tags, `describe` looks up their commits' graph positions (a binary
/// search of about a dozen reads each) rather than read the object name of every commit it
/// takes from the queue (one read each, up to [`DESCRIBE_LIMIT`]).
const FEW_TAGS: usize = 16;

/// [`GitRepo::distance`] on the commit-graph: commits reachable from `head` and not from
/// `base`, counted by painting both histories down in order of generation number (a commit
/// comes off the queue only after every queued commit that can reach it), until only
/// commits `base` reaches are left. `Some(None)` past `limit`; `None` when the graph cannot
/// tell (no generation numbers, a read error, or too long a walk on `base`'s side).
fn graph_distance(g: &CommitGraph, head: u32, base: u32, limit: usize) -> Option<Option<usize>> {
    const HEAD: u8 = 1;
    const BASE: u8 = 2;
    let mut flags: HashMap<u32, u8, WalkHash> = HashMap::default();
    let mut queue = std::collections::BinaryHeap::new();
    // How many queued commits only `head` reaches so far.
    let mut interesting = 0usize;
    for (pos, flag) in [(head, HEAD), (base, BASE)] {
        let f = flags.entry(pos).or_insert(0);
        if *f == 0 {
            let generation = g.commit(pos)?.generation;
            if generation == 0 {
                return None;
            }
            queue.push((generation, pos));
        }
        *f |= flag;
    }
    if flags[&head] == HEAD {
        interesting += 1;
    }
    let mut count = 0;
    let mut popped = 0usize;
    while interesting > 0 {
        let (_, pos) = queue.pop()?;
        popped += 1;
        if popped > limit.saturating_mul(20) {
            return None;
        }
        let flag = flags[&pos];
        if flag == HEAD {
            interesting -= 1;
            count += 1;
            if count > limit {
                return Some(None);
            }
        }
        for &parent in g.commit(pos)?.parents.as_slice() {
            let f = flags.entry(parent).or_insert(0);
            let (old, new) = (*f, *f | flag);
            if old == new {
                continue;
            }
            *f = new;
            if old == 0 {
                let generation = g.commit(parent)?.generation;
                if generation == 0 {
                    return None;
                }
                queue.push((generation, parent));
                if new == HEAD {
                    interesting += 1;
                }
            } else if old == HEAD {
                // Queued as reached from `head` only; `base` reaches it too.
                interesting -= 1;
            }
        }
    }
    Some(Some(count))
}

/// Diff options for the dirty check: tracked files only, submodules by their own rules,
/// type changes as one change, no binary detection (only whether a file changed counts).
fn diff_options() -> git2::DiffOptions {
    let mut opts = git2::DiffOptions::new();
    opts.include_untracked(false)
        .include_ignored(false)
        .include_typechange(true)
        .skip_binary_check(true);
    opts
}

/// Adds the path of every change in `diff`.
fn changed_paths(diff: &git2::Diff<'_>, into: &mut BTreeSet<String>) {
    use git2::Delta;
    for d in diff.deltas() {
        if matches!(
            d.status(),
            Delta::Unmodified | Delta::Untracked | Delta::Ignored | Delta::Unreadable
        ) {
            continue;
        }
        let file = if d.status() == Delta::Deleted {
            d.old_file()
        } else {
            d.new_file()
        };
        if let Some(p) = file.path_bytes() {
            into.insert(String::from_utf8_lossy(p).into_owned());
        }
    }
}

/// How many modified paths, and the first three.
fn summary(paths: BTreeSet<String>) -> (usize, Vec<String>) {
    (paths.len(), paths.into_iter().take(3).collect())
}

/// Beyond this many suspect paths, one full work-tree status is cheaper than a path list.
const PATHSPEC_LIMIT: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_headers_as_libgit2_reads_them() {
        let (t, p, q) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        let body = |parents: &str, author: &str, committer: &str| {
            format!("tree {t}\n{parents}author {author}\ncommitter {committer}\n\nmessage\n")
        };
        let sig = "A U Thor <a@example.com> 1700000000 +0100";
        let two = format!("parent {p}\nparent {q}\n");
        let c = body(&two, sig, "C <c@example.com> 1700000123 -0000");
        assert_eq!(
            commit_header(c.as_bytes()),
            Some((
                1_700_000_123,
                vec![
                    oid_from_hex(p.as_bytes()).unwrap(),
                    oid_from_hex(q.as_bytes()).unwrap()
                ]
            ))
        );
        let root = body("", sig, "C <c> 5");
        assert_eq!(commit_header(root.as_bytes()), Some((5, vec![])));
        // Shapes left to libgit2.
        for odd in [
            body("", sig, "C <c> x"),
            body("", sig, "C <c>"),
            body("", sig, "C c> 5 +0000"),
            body("", sig, "C <c> 5 +0000 <"),
            body("", "A <a> no time", sig),
            body(&format!("parent {}\n", &p[1..]), sig, sig),
            format!("tree {t}\ncommitter {sig}\n"),
            "not a commit".to_string(),
        ] {
            assert_eq!(commit_header(odd.as_bytes()), None, "{odd}");
        }
    }
}
