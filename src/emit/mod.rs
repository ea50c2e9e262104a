//! Sinks that render: they take validated annotations and produce text for people, shells,
//! build tools and pipelines. They never collect and never validate; a value a format cannot
//! hold is refused with a diagnostic, never mangled.

pub(crate) mod bake;
pub(crate) mod csv;
pub(crate) mod flags;
pub(crate) mod formats;
pub(crate) mod github;
pub(crate) mod shell;
