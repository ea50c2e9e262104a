//! Sinks that render: they take validated annotations and produce text for people or
//! programs. They never collect and never validate.

pub(crate) mod formats;
