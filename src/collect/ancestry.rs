//! Whether a revision found in a target is in this repository's history: `verify
//! --ancestor` accepts an image built from HEAD or from any commit HEAD descends from.

use std::path::Path;

use git2::{ErrorCode, Oid, Repository};

use crate::error::{Error, GitError};

/// How a found revision relates to the expected one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Relation {
    /// The same commit.
    Same,
    /// An ancestor of the expected commit.
    Ancestor,
    /// A commit of this repository, but not in the expected commit's history.
    Unrelated,
    /// No such commit in this repository.
    Unknown,
}

/// An opened repository, for asking about revisions.
pub(crate) struct History {
    repo: Repository,
}

impl History {
    /// The repository containing `dir`; `None` when there is none.
    pub(crate) fn discover(dir: &Path) -> Result<Option<History>, Error> {
        match Repository::discover(dir) {
            Ok(repo) => Ok(Some(History { repo })),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(Error::Git(GitError {
                path: dir.to_path_buf(),
                message: e.message().to_string(),
            })),
        }
    }

    fn commit(&self, revision: &str) -> Option<Oid> {
        // Only full hashes: an abbreviation or a ref name is not what an image records.
        if !(revision.len() == 40 || revision.len() == 64)
            || !revision.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return None;
        }
        let oid = Oid::from_str(revision).ok()?;
        self.repo.find_commit(oid).ok().map(|c| c.id())
    }

    /// Whether `found` is `expected`, one of its ancestors, another commit of the
    /// repository, or unknown here.
    pub(crate) fn relation(&self, found: &str, expected: &str) -> Relation {
        let Some(found) = self.commit(found) else {
            return Relation::Unknown;
        };
        let Some(expected) = self.commit(expected) else {
            return Relation::Unrelated;
        };
        if found == expected {
            Relation::Same
        } else if self
            .repo
            .graph_descendant_of(expected, found)
            .unwrap_or(false)
        {
            Relation::Ancestor
        } else {
            Relation::Unrelated
        }
    }
}
