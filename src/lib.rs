//! oci-stamp: collect a checkout's provenance, validate it as OCI image annotations, and
//! print it for the build or write it into what already exists.
//!
//! The modules follow the data flow (ARCHITECTURE.md draws it): sources in [`collect`] →
//! the model in [`annotations`] (every rule, the validated type) → renderers in [`emit`] and
//! targets in [`targets`]. The face is [`run`] → [`config`] → [`commands`]; [`output`] does
//! all printing. `env`, `error`, `escape`, `json_edit`, `atomic` and `stdin` are neutral helpers.

mod annotations;
mod atomic;
mod cli;
mod collect;
mod commands;
mod config;
mod emit;
mod env;
mod error;
mod escape;
mod json_edit;
mod output;
mod run;
mod stdin;
mod targets;
mod threads;

#[doc(hidden)]
pub mod fuzzing;

pub use run::{run, EXIT_ERROR, EXIT_INVALID, EXIT_OK};
