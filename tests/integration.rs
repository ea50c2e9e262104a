//! The integration tests: the real `oci-stamp` binary run against git repositories built in
//! temporary directories, with a clean environment (no host CI variables, no git config).
//!
//! One test binary; a module per command, and the harness they share.

#[path = "integration/harness.rs"]
mod harness;

#[path = "integration/collect.rs"]
mod collect;

#[path = "integration/validate.rs"]
mod validate;

#[path = "integration/outputs.rs"]
mod outputs;

#[path = "integration/kube.rs"]
mod kube;
