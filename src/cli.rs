//! The command line: commands and options as clap parses them. Help text comes from the
//! doc comments. Every option a CI user would set also reads an `OCI_STAMP_*` variable.
//!
//! These are the raw arguments; [`crate::run`] resolves them into the options the
//! collectors and sinks take.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::annotations::Levels;
use crate::collect::time::CreatedSpec;
use crate::collect::AnnotationArg;

/// Collect a checkout's provenance, validate it as OCI image annotations, and print it for
/// the build or write it into images and manifests.
#[derive(Debug, Parser)]
#[command(name = "oci-stamp", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Exit status: 0 success, 1 validation or policy failure, 2 usage or operational error.")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Collect the annotations of a checkout and print them.
    Collect(CollectCmd),
    /// Check annotations against the OCI (and optionally Kubernetes) rules.
    Validate(ValidateCmd),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Where the facts come from; shared by every command that collects.
#[derive(Debug, Args)]
#[command(next_help_heading = "Collection")]
pub(crate) struct CollectArgs {
    /// The checkout to describe (any directory inside it).
    #[arg(short = 'C', long = "repo", env = "OCI_STAMP_REPO", value_name = "DIR", default_value = ".")]
    pub(crate) repo: PathBuf,

    /// Set an annotation: `[LEVELS:]KEY=VALUE`. KEY may be a short name (`version`,
    /// `base.name`); an empty VALUE removes the key. Repeatable. OCI_STAMP_ANNOTATION holds
    /// one per line.
    #[arg(short = 'a', long = "annotation", value_name = "[LEVELS:]KEY=VALUE")]
    pub(crate) annotation: Vec<AnnotationArg>,

    /// Read annotations from FILE: a JSON object, or `[LEVELS:]KEY=VALUE` lines (`-` for stdin).
    #[arg(long, env = "OCI_STAMP_ANNOTATION_FILE", value_name = "FILE")]
    pub(crate) annotation_file: Option<PathBuf>,

    /// `created`: auto (SOURCE_DATE_EPOCH, else the commit time, else now), now, commit, an
    /// RFC 3339 date-time, or @EPOCH.
    #[arg(long, env = "OCI_STAMP_CREATED", value_name = "WHEN")]
    pub(crate) created: Option<CreatedSpec>,

    /// `licenses`: an SPDX license expression (`MIT OR Apache-2.0`).
    #[arg(long, env = "OCI_STAMP_LICENSES", value_name = "EXPR")]
    pub(crate) licenses: Option<String>,

    /// Reverse-domain prefix for facts without an OCI key: NS.branch, NS.dirty,
    /// NS.pull-request, NS.run-url.
    #[arg(long, env = "OCI_STAMP_NAMESPACE", value_name = "NS")]
    pub(crate) namespace: Option<String>,

    /// Also emit the legacy org.label-schema.* keys.
    #[arg(long, env = "OCI_STAMP_LABEL_SCHEMA")]
    pub(crate) label_schema: bool,

    /// Do not detect the license from LICENSE/COPYING text.
    #[arg(long, env = "OCI_STAMP_NO_DETECT")]
    pub(crate) no_detect: bool,

    /// Fail (exit 1) unless these keys have values: `revision,version,…`.
    #[arg(long, env = "OCI_STAMP_REQUIRE", value_name = "KEY,…", value_delimiter = ',')]
    pub(crate) require: Vec<String>,

    /// Fail (exit 1) when tracked files are modified.
    #[arg(long, env = "OCI_STAMP_REQUIRE_CLEAN")]
    pub(crate) require_clean: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CollectFormat {
    /// An aligned table for people (the default on a terminal).
    Text,
    /// One flat JSON object, key → value, keys sorted (the default otherwise).
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct CollectCmd {
    #[command(flatten)]
    pub(crate) collect: CollectArgs,

    /// Output format.
    #[arg(long, short = 'f', env = "OCI_STAMP_FORMAT", value_enum)]
    pub(crate) format: Option<CollectFormat>,

    /// Show where each value came from.
    #[arg(long)]
    pub(crate) explain: bool,

    /// Levels for entries without their own: comma list of manifest, index,
    /// manifest-descriptor, index-descriptor, each optionally `[os/arch[/variant]]`.
    #[arg(long, env = "OCI_STAMP_LEVEL", value_name = "LEVELS", default_value = "manifest")]
    pub(crate) level: Levels,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    /// One line per finding.
    Text,
    /// A JSON array of findings.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateCmd {
    /// An annotation to check: `[LEVELS:]KEY=VALUE`. Repeatable.
    #[arg(short = 'a', long = "annotation", value_name = "[LEVELS:]KEY=VALUE")]
    pub(crate) annotation: Vec<AnnotationArg>,

    /// Check the annotations in FILE: a JSON object, or `[LEVELS:]KEY=VALUE` lines (`-` for stdin).
    #[arg(long, value_name = "FILE")]
    pub(crate) annotation_file: Option<PathBuf>,

    /// Also apply the Kubernetes annotation rules (key syntax, 256 KiB total).
    #[arg(long)]
    pub(crate) kubernetes: bool,

    /// Output format for the findings.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub(crate) format: DiagnosticFormat,
}
