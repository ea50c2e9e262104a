//! The command line: commands and options as clap parses them. Help text comes from the
//! doc comments. Every option a CI user would set also reads an `OCI_STAMP_*` variable.
//!
//! These are the raw arguments; [`crate::config`] resolves them into the options the
//! collectors and sinks take.

use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::annotations::Levels;
use crate::collect::time::CreatedSpec;
use crate::collect::AnnotationArg;

/// The exit codes, in every command's help and man page.
const EXIT_STATUS: &str =
    "Exit status: 0 success, 1 validation or policy failure, 2 usage or operational error.";

/// The clap command, the derive's: the exit codes are in every subcommand's help (but
/// `completions` and `man`) by the `after_help` on each.
pub(crate) fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command()
}

/// A command that parses exactly as [`command`] does when `name` is the first argument,
/// with only that subcommand's options built (building all of them was a tenth of a short
/// run). It has no help text: on any error, and for `--help` and `--version`, the caller
/// parses again with [`command`], whose messages are the ones users see.
pub(crate) fn command_for(name: &str) -> Option<clap::Command> {
    let sub = match name {
        "collect" => CollectCmd::augment_args(clap::Command::new("collect")),
        "flags" => FlagsCmd::augment_args(clap::Command::new("flags")),
        "exec" => ExecCmd::augment_args(clap::Command::new("exec")),
        "annotate" => AnnotateCmd::augment_args(clap::Command::new("annotate")),
        "validate" => ValidateCmd::augment_args(clap::Command::new("validate")),
        "verify" => VerifyCmd::augment_args(clap::Command::new("verify")),
        _ => return None,
    };
    Some(
        clap::Command::new("oci-stamp")
            .subcommand_required(true)
            .subcommand(sub),
    )
}

/// `--write FORMAT=FILE`.
fn parse_write(s: &str) -> Result<(crate::emit::Format, PathBuf), String> {
    let formats = || {
        crate::emit::Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let Some((format, file)) = s.split_once('=') else {
        return Err(format!(
            "expected FORMAT=FILE, such as bake=stamp.bake.json; FORMAT is one of {}",
            formats()
        ));
    };
    let format = crate::emit::Format::from_str(format, false)
        .map_err(|_| format!("unknown format `{format}`: one of {}", formats()))?;
    if file.is_empty() {
        return Err("the FILE after `=` is empty".into());
    }
    Ok((format, PathBuf::from(file)))
}

/// Collect a checkout's provenance, validate it as OCI image annotations, and print it for
/// the build or write it into images and manifests.
#[derive(Debug, PartialEq, Parser)]
#[command(
    name = "oci-stamp",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(after_help = EXIT_STATUS)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, PartialEq, Subcommand)]
pub(crate) enum Command {
    /// Collect the annotations of a checkout and print them.
    #[command(after_help = EXIT_STATUS)]
    Collect(CollectCmd),
    /// Print build-tool arguments: `--annotation …` (and `--label …`) for docker buildx,
    /// podman or buildah.
    #[command(after_help = EXIT_STATUS)]
    Flags(FlagsCmd),
    /// Run a command with the build-tool arguments appended, without a shell.
    #[command(after_help = EXIT_STATUS)]
    Exec(ExecCmd),
    /// Write the annotations into OCI manifests, indexes and layouts, Kubernetes YAML, registries.
    #[command(after_help = EXIT_STATUS)]
    Annotate(AnnotateCmd),
    /// Check annotations against the OCI (and optionally Kubernetes) rules.
    #[command(after_help = EXIT_STATUS)]
    Validate(ValidateCmd),
    /// Check that targets carry what `collect` gives here (revision, source, version): the
    /// deploy gate. Nothing is written.
    ///
    /// Which places must carry the keys: in an image, every place `annotate` stamps with the
    /// same levels (each entry's own, else --level, default manifest: every image manifest,
    /// one per platform; `-a index:KEY=…` the index too); attestations and artifacts
    /// (signatures, SBOMs) are left out, as annotate leaves them. In Kubernetes YAML, every
    /// object (of the --kind given), and with --pod-template the pod templates too. A key
    /// missing or with another value is a finding; so is a level with no place to check.
    /// The targets' own annotations are validated, and --require applies to what they carry
    /// at --level. Under GitHub Actions the findings are `::error` annotations.
    ///
    /// Exit status: 0 everything matches, 1 any finding, 2 a target cannot be read.
    #[command(after_help = EXIT_STATUS)]
    Verify(VerifyCmd),
    /// Print a shell completion script.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command with `--out DIR`.
    Man(ManCmd),
}

#[derive(Debug, PartialEq, Args)]
pub(crate) struct ManCmd {
    /// Write `oci-stamp.1` and a page per command (`oci-stamp-collect.1`, …) into DIR.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: Option<PathBuf>,
}

/// Where the facts come from; shared by every command that collects.
#[derive(Debug, PartialEq, Args)]
#[command(next_help_heading = "Collection")]
pub(crate) struct CollectArgs {
    /// The checkout to describe (any directory inside it).
    #[arg(
        short = 'C',
        long = "repo",
        env = "OCI_STAMP_REPO",
        value_name = "DIR",
        default_value = "."
    )]
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
    #[arg(long, env = "OCI_STAMP_LABEL_SCHEMA", value_parser = BoolishValueParser::new())]
    pub(crate) label_schema: bool,

    /// Do not detect the license from LICENSE/COPYING text.
    #[arg(long, env = "OCI_STAMP_NO_DETECT", value_parser = BoolishValueParser::new())]
    pub(crate) no_detect: bool,

    /// Fail (exit 1) unless these keys have values: `revision,version,…`.
    #[arg(
        long,
        env = "OCI_STAMP_REQUIRE",
        value_name = "KEY,…",
        value_delimiter = ','
    )]
    pub(crate) require: Vec<String>,

    /// Fail (exit 1) when tracked files are modified.
    #[arg(long, env = "OCI_STAMP_REQUIRE_CLEAN", value_parser = BoolishValueParser::new())]
    pub(crate) require_clean: bool,

    /// The Dockerfile the image is built from: its target stage's FROM gives base.name (and
    /// base.digest), its LABELs are checked against the annotations. Default: `Dockerfile` in
    /// the checkout directory (-C), when it exists.
    #[arg(long, env = "OCI_STAMP_DOCKERFILE", value_name = "PATH")]
    pub(crate) dockerfile: Option<PathBuf>,

    /// The Dockerfile stage the build makes, as buildx's --target (default: the last).
    #[arg(long, env = "OCI_STAMP_TARGET", value_name = "STAGE")]
    pub(crate) target: Option<String>,

    /// A build argument, as buildx's (`NAME` alone takes the variable NAME). Repeatable;
    /// OCI_STAMP_BUILD_ARG gives them one per line when no --build-arg is given.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    pub(crate) build_arg: Vec<String>,

    /// Look the base image's tag up in its registry for base.digest (the index digest of a
    /// multi-platform image), with the usual registry credentials.
    #[arg(long, env = "OCI_STAMP_RESOLVE_BASE", value_parser = BoolishValueParser::new())]
    pub(crate) resolve_base: bool,

    /// Take the Dockerfile's OCI labels (and legacy org.label-schema.* ones) as values, below
    /// flags and the annotation file and above git.
    #[arg(long, env = "OCI_STAMP_FROM_DOCKERFILE_LABELS", value_parser = BoolishValueParser::new())]
    pub(crate) from_dockerfile_labels: bool,

    /// The policy file (default: `oci-stamp.toml` at the repository root, when there is one).
    #[arg(long, env = "OCI_STAMP_POLICY", value_name = "FILE")]
    pub(crate) policy: Option<PathBuf>,
    /// Release tags are PREFIX then a version (`release-` for `release-9.0.0`). Default: the
    /// package's name (`tokio-1.53.1`, `@scope/pkg@3.1.0`), else bare versions (`v1.2.3`).
    #[arg(long, env = "OCI_STAMP_TAG_PREFIX", value_name = "PREFIX")]
    pub(crate) tag_prefix: Option<String>,

    /// How registries are reached: by --resolve-base, and by `annotate`/`verify` for
    /// `docker://…` targets.
    #[command(flatten)]
    pub(crate) registry: RegistryArgs,
}

/// Levels for entries that do not name their own.
#[derive(Debug, PartialEq, Args)]
pub(crate) struct LevelArgs {
    /// Levels for entries without their own: comma list of manifest, index,
    /// manifest-descriptor, index-descriptor, each optionally `[os/arch[/variant]]`.
    #[arg(
        long,
        env = "OCI_STAMP_LEVEL",
        value_name = "LEVELS",
        default_value = "manifest"
    )]
    pub(crate) level: Levels,
}

/// What the build-tool arguments hold.
#[derive(Debug, PartialEq, Args)]
pub(crate) struct ToolArgs {
    #[command(flatten)]
    pub(crate) levels: LevelArgs,

    /// Also pass every entry as `--label KEY=VALUE` (labels survive `--load` into the Docker
    /// engine, which drops annotations).
    #[arg(long, env = "OCI_STAMP_LABELS", value_parser = BoolishValueParser::new())]
    pub(crate) labels: bool,

    /// The build tool: buildx (levels), podman or buildah (manifest annotations only).
    #[arg(long, env = "OCI_STAMP_TOOL", value_enum, default_value = "buildx")]
    pub(crate) tool: crate::emit::flags::Tool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum FlagsFormat {
    /// One line of POSIX shell words, for `eval` and Makefile recipes.
    Shell,
    /// A JSON array of arguments.
    Json,
}

#[derive(Debug, PartialEq, Args)]
pub(crate) struct FlagsCmd {
    #[command(flatten)]
    pub(crate) collect: CollectArgs,

    #[command(flatten)]
    pub(crate) tool: ToolArgs,

    /// One argument per NUL-terminated item, for `xargs -0`.
    #[arg(short = '0', long = "null", conflicts_with = "format")]
    pub(crate) null: bool,

    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "shell")]
    pub(crate) format: FlagsFormat,
}

#[derive(Debug, PartialEq, Args)]
pub(crate) struct ExecCmd {
    #[command(flatten)]
    pub(crate) collect: CollectArgs,

    #[command(flatten)]
    pub(crate) tool: ToolArgs,

    /// The command to run, with the arguments appended: `-- docker buildx build .`
    #[arg(required = true, last = true, value_name = "COMMAND")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

#[derive(Debug, PartialEq, Args)]
pub(crate) struct CollectCmd {
    #[command(flatten)]
    pub(crate) collect: CollectArgs,

    /// Output format.
    #[arg(long, short = 'f', env = "OCI_STAMP_FORMAT", value_enum)]
    pub(crate) format: Option<crate::emit::Format>,

    /// Show where each value came from (text and json).
    #[arg(long)]
    pub(crate) explain: bool,

    /// Also write the annotations in FORMAT to FILE (repeatable): one collection for every
    /// output, so each holds the same values and the same `created`. A file is replaced
    /// whole or not at all; nothing is written when any output is refused.
    #[arg(long = "write", value_name = "FORMAT=FILE", value_parser = parse_write)]
    pub(crate) write: Vec<(crate::emit::Format, PathBuf)>,

    #[command(flatten)]
    pub(crate) levels: LevelArgs,

    /// The target name in `--format bake` output.
    #[arg(
        long,
        env = "OCI_STAMP_BAKE_TARGET",
        value_name = "NAME",
        default_value = crate::emit::bake::DEFAULT_TARGET,
        value_parser = crate::emit::bake::parse_target_name
    )]
    pub(crate) bake_target: String,
}

#[derive(Debug, PartialEq, Args)]
pub(crate) struct AnnotateCmd {
    #[command(flatten)]
    pub(crate) collect: CollectArgs,

    #[command(flatten)]
    pub(crate) levels: LevelArgs,

    /// Print what would change; write nothing.
    #[arg(long, env = "OCI_STAMP_DRY_RUN", value_parser = BoolishValueParser::new())]
    pub(crate) dry_run: bool,

    /// In a layout, remove blobs that index.json no longer reaches (old manifest versions).
    #[arg(long)]
    pub(crate) gc: bool,

    #[command(flatten)]
    pub(crate) kube: KubeArgs,

    /// Registry: write the stamped image under this tag (in the same repository) and leave
    /// the target's own tag as it is. Needed for a `@sha256:…` target.
    #[arg(long, value_name = "TAG")]
    pub(crate) tag: Option<String>,

    /// How to report the changes.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub(crate) format: DiagnosticFormat,

    /// What to stamp: an OCI layout directory (`DIR`, or `DIR:REF` for the entry whose
    /// ref.name is REF), a manifest or index JSON file, a Kubernetes YAML file or a directory
    /// of them, `-` for stdin → stdout, or an image in a registry:
    /// `docker://REGISTRY/REPO:TAG` or `docker://REGISTRY/REPO@sha256:…`.
    #[arg(required = true, value_name = "TARGET")]
    pub(crate) targets: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    /// One line per finding.
    Text,
    /// A JSON array of findings.
    Json,
}

#[derive(Debug, PartialEq, Args)]
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

    /// With no TARGET and no -a or --annotation-file: the checkout whose collection is
    /// checked (as `collect` would collect it; only findings and a summary are printed).
    #[arg(
        short = 'C',
        long = "repo",
        env = "OCI_STAMP_REPO",
        value_name = "DIR",
        default_value = "."
    )]
    pub(crate) repo: PathBuf,

    #[command(flatten)]
    pub(crate) registry: RegistryArgs,

    /// Check the annotations already in these targets: OCI layouts (`DIR`, `DIR:REF`),
    /// manifest or index JSON files, Kubernetes YAML files or directories of them, Helm
    /// charts, `-` for standard input (JSON or YAML), or a registry image (`docker://…`: the
    /// index and each platform's manifest, read only).
    #[arg(value_name = "TARGET")]
    pub(crate) targets: Vec<String>,
}

#[derive(Debug, PartialEq, Args)]
pub(crate) struct VerifyCmd {
    #[command(flatten)]
    pub(crate) collect: CollectArgs,

    /// Levels the expected entries go to (as for `annotate`), unless an entry names its own.
    #[command(flatten)]
    pub(crate) levels: LevelArgs,

    /// The keys to compare: `KEY,…` (short names allowed), or `all` for every key expected.
    /// Default: revision, source, version (with --no-collect: every `-a` key).
    #[arg(
        long,
        env = "OCI_STAMP_VERIFY_KEYS",
        value_name = "KEY,…|all",
        value_delimiter = ','
    )]
    pub(crate) keys: Vec<String>,

    /// Accept a found `revision` that is the expected one or any ancestor of it (an image
    /// built from this branch's history).
    #[arg(long, env = "OCI_STAMP_ANCESTOR", value_parser = BoolishValueParser::new())]
    pub(crate) ancestor: bool,

    /// Collect nothing: the expectations are only the `-a` values (and --annotation-file).
    #[arg(long, env = "OCI_STAMP_NO_COLLECT", value_parser = BoolishValueParser::new())]
    pub(crate) no_collect: bool,

    /// Also apply the Kubernetes annotation rules to what the targets carry.
    #[arg(long)]
    pub(crate) kubernetes: bool,

    #[command(flatten)]
    pub(crate) kube: KubeArgs,

    /// Output format: a table per target, or JSON.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub(crate) format: DiagnosticFormat,

    /// What to check: what `annotate` takes — an OCI layout (`DIR`, `DIR:REF`), a manifest
    /// or index JSON file, Kubernetes YAML (a file or a directory), `-`, or a registry image
    /// (`docker://REGISTRY/REPO:TAG`, `…@sha256:…`).
    #[arg(required = true, value_name = "TARGET")]
    pub(crate) targets: Vec<String>,
}

/// Which Kubernetes objects `annotate` stamps and `verify` checks.
#[derive(Debug, PartialEq, Args)]
#[command(next_help_heading = "Kubernetes")]
pub(crate) struct KubeArgs {
    /// Pod templates of workloads too: `annotate` stamps them (which rolls their pods),
    /// `verify` requires them to carry the keys.
    #[arg(long, env = "OCI_STAMP_POD_TEMPLATE", value_parser = BoolishValueParser::new())]
    pub(crate) pod_template: bool,

    /// Only objects of these kinds (`Deployment,StatefulSet`).
    #[arg(
        long,
        env = "OCI_STAMP_KIND",
        value_name = "KIND,…",
        value_delimiter = ','
    )]
    pub(crate) kind: Vec<String>,
}

/// How registries are reached: `docker://…` targets and `--resolve-base`.
#[derive(Debug, PartialEq, Args)]
#[command(next_help_heading = "Registry")]
pub(crate) struct RegistryArgs {
    /// Registry: allow plain HTTP (tried when HTTPS cannot connect). Loopback registries
    /// (localhost, 127.0.0.1, ::1) get this without asking.
    #[arg(long, env = "OCI_STAMP_INSECURE", value_parser = BoolishValueParser::new())]
    pub(crate) insecure: bool,

    /// Registry: also trust the CA certificates in FILE (PEM; repeatable). SSL_CERT_FILE is
    /// read too.
    #[arg(long, value_name = "FILE")]
    pub(crate) ca_file: Vec<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// `config::command` cuts an option loose from its variable when that is set and
    /// empty, and skips the walk when no `OCI_STAMP_*` variable is: every variable an
    /// option reads must have that prefix. And the exit codes are in each subcommand's
    /// help but `completions` and `man`.
    #[test]
    fn every_option_variable_is_oci_stamp_and_every_command_has_the_exit_codes() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                if let Some(var) = arg.get_env().and_then(|v| v.to_str()) {
                    assert!(
                        var.starts_with("OCI_STAMP_"),
                        "{path} --{:?}: {var}",
                        arg.get_long()
                    );
                }
            }
            for sub in cmd.get_subcommands() {
                let name = format!("{path} {}", sub.get_name());
                let help = sub.clone().render_help().to_string();
                assert_eq!(
                    help.contains("Exit status: 0 success"),
                    !matches!(sub.get_name(), "completions" | "man"),
                    "{name}"
                );
                walk(sub, &name);
            }
        }
        walk(&super::command(), "oci-stamp");
    }
}
