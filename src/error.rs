//! Operational errors: what stops a run before any result (exit 2). Validation and policy
//! findings are not errors but [`crate::annotations::Diagnostic`]s (exit 1).

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A bad option value or combination that clap could not catch.
    #[error("{0}")]
    Usage(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that was read but is not what it should be.
    #[error("{}: {message}", path.display())]
    BadInput { path: PathBuf, message: String },
    #[error(transparent)]
    Git(GitError),
    /// Standard output could not be written (other than a closed pipe, which is quiet).
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    /// A registry that could not be read or written (never with a credential in it).
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    #[error("{target}: {message}")]
    Registry { target: String, message: String },
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Why the repository could not be opened (other than there being none).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the git repository at {path}: {message}")]
pub(crate) struct GitError {
    pub(crate) path: PathBuf,
    pub(crate) message: String,
}
