//! The integration tests: the real `oci-stamp` binary run against git repositories built in
//! temporary directories, with a clean environment (no host CI variables, no git config).
//!
//! One test binary; a module per command, and the harness they share.

#[path = "integration/harness.rs"]
mod harness;

/// How consumers that do not run here read the outputs, shared with the fuzz targets (which
/// include its file).
mod consumers {
    pub use crate::fuzz::targets::consumers::{hcl_template_literal, read_github_output};
}

#[path = "integration/collect.rs"]
mod collect;

#[path = "integration/dockerfile.rs"]
mod dockerfile;

#[path = "integration/validate.rs"]
mod validate;

#[path = "integration/outputs.rs"]
mod outputs;

#[path = "integration/kube.rs"]
mod kube;

#[path = "integration/annotate.rs"]
mod annotate;

#[path = "integration/action.rs"]
mod action;

#[cfg(feature = "registry")]
#[path = "integration/registry.rs"]
mod registry;

#[path = "integration/fuzz.rs"]
mod fuzz;

#[path = "integration/secrets.rs"]
mod secrets;

#[path = "integration/list_reader.rs"]
mod list_reader;

#[path = "integration/faults.rs"]
mod faults;

#[path = "integration/bad_inputs.rs"]
mod bad_inputs;

#[path = "integration/properties.rs"]
mod properties;

#[path = "integration/image.rs"]
mod image;

#[path = "integration/examples.rs"]
mod examples;

#[path = "integration/spec.rs"]
mod spec;

#[path = "integration/layering.rs"]
mod layering;

#[path = "integration/completions.rs"]
mod completions;
#[path = "integration/projects.rs"]
mod projects;

#[path = "integration/helm.rs"]
mod helm;
#[path = "integration/verify.rs"]
mod verify;

#[path = "integration/licenses.rs"]
mod licenses;
#[path = "integration/policy.rs"]
mod policy;

#[path = "integration/versions.rs"]
mod versions;
#[path = "integration/worktree.rs"]
mod worktree;

#[path = "integration/commit_graph.rs"]
mod commit_graph;
#[path = "integration/integrity.rs"]
mod integrity;
