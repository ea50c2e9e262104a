//! Sinks that render: they take validated annotations ([`Valid`]) and produce text for
//! people, shells, build tools and pipelines. They never collect and never validate; a value
//! a format cannot hold is refused with a diagnostic, never mangled.

pub(crate) mod bake;
pub(crate) mod csv;
pub(crate) mod flags;
pub(crate) mod formats;
pub(crate) mod github;
pub(crate) mod shell;

use crate::annotations::{Diagnostic, Valid};

/// The `collect --format` outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// An aligned table for people (the default on a terminal).
    Text,
    /// One flat JSON object, key → value, keys sorted (the default otherwise).
    Json,
    /// `OCI_IMAGE_<KEY>='value'` lines for `eval` or `.` in a POSIX shell.
    Env,
    /// `OCI_IMAGE_<KEY> := value` assignments (and OCI_STAMP_FLAGS) to `include` in a Makefile.
    Make,
    /// Step outputs to append to the file that GITHUB_OUTPUT names.
    Github,
    /// GitLab's `artifacts:reports:dotenv`: `OCI_IMAGE_<KEY>=value` lines.
    Dotenv,
    /// A docker-bake JSON file with one target holding annotations and labels.
    Bake,
    /// ORAS's `--annotation-file` JSON.
    Oras,
    /// `KEY=VALUE` lines for docker/build-push-action's `labels:`.
    Labels,
    /// `LEVELS:KEY=VALUE` lines for docker/build-push-action's `annotations:`.
    Annotations,
}

/// A rendering, and the warnings about what it left out.
#[derive(Debug)]
pub(crate) struct Rendered {
    pub(crate) text: String,
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Renders a valid set in `format`; `explain` adds where each value came from (text, json),
/// with the run's `diagnostics` (json). An `Err` holds the refusals.
pub(crate) fn render(
    format: Format,
    annotations: &Valid,
    explain: bool,
    diagnostics: &[Diagnostic],
    bake_target: &str,
) -> Result<Rendered, Vec<Diagnostic>> {
    let plain = |text: String| Rendered {
        text,
        warnings: Vec::new(),
    };
    Ok(match format {
        Format::Text => plain(formats::text(annotations, explain)),
        Format::Json => plain(formats::json(annotations, explain, diagnostics)),
        Format::Env => plain(formats::env(annotations)?),
        Format::Make => plain(formats::make(annotations)?),
        Format::Dotenv => plain(formats::dotenv(annotations)?),
        Format::Bake => plain(bake::bake(annotations, bake_target)),
        Format::Oras => plain(bake::oras(annotations)),
        Format::Labels => plain(formats::labels_list(annotations)?),
        Format::Annotations => plain(formats::annotations_list(annotations)?),
        Format::Github => {
            let (args, _) = flags::arguments(annotations, flags::Tool::Buildx, false)?;
            let json = formats::json(annotations, false, &[]);
            let warnings =
                csv::trailing_blanks(annotations, "the annotations and labels outputs", false);
            Rendered {
                text: github::outputs(annotations, &flags::render_shell(&args), &json),
                warnings,
            }
        }
    })
}
