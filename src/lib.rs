//! oci-stamp: collect a checkout's provenance, validate it as OCI image annotations, and
//! print it for the build or write it into what already exists.
//!
//! The modules follow the data flow: [`collect`] gathers facts from flags, git, CI and
//! project files; [`annotations`] validates them into an ordered map with levels; [`emit`]
//! renders that map. [`cli`] holds the raw arguments and [`output`] does all printing.

mod annotations;
mod atomic;
mod cli;
mod collect;
mod emit;
mod env;
mod error;
mod json_edit;
pub(crate) mod output;
mod targets;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use crate::annotations::validate::{self, has_errors};
use crate::annotations::{kubernetes, Annotations, Diagnostic, Levels};
use crate::cli::{Cli, CollectArgs, CollectFormat, Command, DiagnosticFormat};
use crate::collect::{AnnotationArg, CollectOptions, Env, Origin};
use crate::error::Error;

/// Exit status: success.
pub const EXIT_OK: u8 = 0;
/// Exit status: a validation or policy failure; every problem was listed.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: a usage or operational error.
pub const EXIT_ERROR: u8 = 2;

/// What a command ended with, before it becomes an exit status.
enum Outcome {
    Ok,
    Invalid,
    /// `exec`: the child's status.
    Code(u8),
}

/// Runs the command line of this process.
pub fn run() -> ExitCode {
    ignore_empty_variables();
    collect::git::configure_libgit2();
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => clap_exit(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => clap_exit(e),
    };
    let sub = matches.subcommand().map_or(&matches, |(_, m)| m);
    let env = Env::from_process();
    let result = match cli.command {
        Command::Collect(cmd) => {
            resolve(&cmd.collect, sub, &env).and_then(|opts| run_collect(&opts, &env, &cmd))
        }
        Command::Flags(cmd) => {
            resolve(&cmd.collect, sub, &env).and_then(|opts| run_flags(&opts, &env, &cmd))
        }
        Command::Exec(cmd) => {
            resolve(&cmd.collect, sub, &env).and_then(|opts| run_exec(&opts, &env, &cmd))
        }
        Command::Annotate(cmd) => {
            resolve(&cmd.collect, sub, &env).and_then(|opts| run_annotate(&opts, &env, &cmd))
        }
        Command::Validate(cmd) => run_validate(&cmd),
        Command::Completions { shell } => {
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "oci-stamp", &mut buf);
            Ok(print(&buf))
        }
        Command::Man => {
            let mut buf = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut buf) {
                Ok(()) => Ok(print(&buf)),
                Err(e) => Err(Error::Usage(format!("cannot render the man page: {e}"))),
            }
        }
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::from(EXIT_OK),
        Ok(Outcome::Invalid) => ExitCode::from(EXIT_INVALID),
        Ok(Outcome::Code(code)) => ExitCode::from(code),
        Err(e) => {
            output::error(&e.to_string());
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// An empty `OCI_STAMP_*` variable counts as unset, as an empty `SOURCE_DATE_EPOCH` does: CI
/// systems and workflow files define variables with empty values where a value is optional
/// (`OCI_STAMP_LEVEL: ${{ inputs.level }}`), and clap would take `""` as the value (a usage
/// error for most options, and `OCI_STAMP_LICENSES=` would remove the licenses).
fn ignore_empty_variables() {
    let empty: Vec<std::ffi::OsString> = std::env::vars_os()
        .filter(|(k, v)| v.is_empty() && k.to_str().is_some_and(|k| k.starts_with("OCI_STAMP_")))
        .map(|(k, _)| k)
        .collect();
    for k in empty {
        // Called first thing in `run`, before any thread is started.
        std::env::remove_var(k);
    }
}

/// Ends the process on a command-line error. clap quotes the value it refused, so a
/// credential in it (`-a bogus:source=https://user:TOKEN@…`) is redacted first; help and
/// version go out as clap prints them.
fn clap_exit(e: clap::Error) -> ! {
    if !e.use_stderr() {
        e.exit();
    }
    output::report(&validate::redact_text(&e.render().to_string()));
    std::process::exit(e.exit_code());
}

/// Prints a result; a closed standard output is not an error.
fn print(bytes: &[u8]) -> Outcome {
    let _ = output::stdout(bytes);
    Outcome::Ok
}

fn origin(m: &ArgMatches, id: &str, flag: &'static str, var: &'static str) -> Origin {
    match m.value_source(id) {
        Some(ValueSource::EnvVariable) => Origin::Env(var),
        _ => Origin::Flag(flag),
    }
}

/// Raw COLLECT arguments → the options collection runs with.
fn resolve(args: &CollectArgs, m: &ArgMatches, env: &Env) -> Result<CollectOptions, Error> {
    let mut annotations: Vec<(AnnotationArg, Origin)> = args
        .annotation
        .iter()
        .map(|a| (a.clone(), Origin::Flag("--annotation")))
        .collect();
    // The environment snapshot holds UTF-8 variables only; these two must not vanish silently.
    for var in ["OCI_STAMP_ANNOTATION", "SOURCE_DATE_EPOCH"] {
        if std::env::var_os(var).is_some_and(|v| v.to_str().is_none()) {
            return Err(Error::Usage(format!("{var} is not valid UTF-8")));
        }
    }
    if annotations.is_empty() {
        if let Some(list) = env.get("OCI_STAMP_ANNOTATION") {
            for line in list.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)) {
                if line.trim().is_empty() {
                    continue;
                }
                let arg: AnnotationArg = line
                    .parse()
                    .map_err(|e| Error::Usage(format!("OCI_STAMP_ANNOTATION: {e}")))?;
                annotations.push((arg, Origin::Env("OCI_STAMP_ANNOTATION")));
            }
        }
    }
    let namespace = match args.namespace.as_deref().map(|n| n.trim_end_matches('.')) {
        Some(ns) => {
            let probe = format!("{ns}.branch");
            let problem = if !ns.contains('.') {
                Some("is not a reverse-domain prefix such as `com.example`".to_string())
            } else if ns.starts_with(annotations::RESERVED_PREFIX.trim_end_matches('.')) {
                Some("is under `org.opencontainers`, which the OCI reserves".to_string())
            } else {
                validate::check_key(&probe)
                    .map(|d| format!("makes keys the rules refuse: {}", d.message))
            };
            if let Some(problem) = problem {
                return Err(Error::Usage(format!("--namespace `{ns}` {problem}")));
            }
            Some(ns.to_string())
        }
        None => None,
    };
    Ok(CollectOptions {
        repo: args.repo.clone(),
        annotations,
        annotation_file: args.annotation_file.clone(),
        created: args
            .created
            .clone()
            .map(|c| (c, origin(m, "created", "--created", "OCI_STAMP_CREATED"))),
        licenses: args
            .licenses
            .clone()
            .map(|l| (l, origin(m, "licenses", "--licenses", "OCI_STAMP_LICENSES"))),
        namespace,
        label_schema: args.label_schema,
        no_detect: args.no_detect,
        require: args
            .require
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        require_clean: args.require_clean,
    })
}

/// Collects and validates, printing the diagnostics. `None` when any is an error.
fn collect_valid(
    opts: &CollectOptions,
    env: &Env,
    levels: &Levels,
) -> Result<Option<(collect::Collected, Annotations, Vec<Diagnostic>)>, Error> {
    let collected = collect::collect(opts, env)?;
    let annotations = collected.annotations();
    let mut diagnostics = collected.diagnostics.clone();
    diagnostics.extend(validate::validate(&annotations, levels));
    output::diagnostics(&diagnostics);
    if has_errors(&diagnostics) {
        return Ok(None);
    }
    Ok(Some((collected, annotations, diagnostics)))
}

/// A rendering that may refuse: refusals are printed and make the run invalid.
fn print_rendered(rendered: Result<String, Vec<Diagnostic>>) -> Outcome {
    match rendered {
        Ok(text) => print(text.as_bytes()),
        Err(refusals) => {
            output::diagnostics(&refusals);
            Outcome::Invalid
        }
    }
}

fn run_collect(opts: &CollectOptions, env: &Env, cmd: &cli::CollectCmd) -> Result<Outcome, Error> {
    let levels = &cmd.levels.level;
    let Some((collected, annotations, diagnostics)) = collect_valid(opts, env, levels)? else {
        return Ok(Outcome::Invalid);
    };
    let format = cmd.format.unwrap_or(if output::stdout_is_terminal() {
        CollectFormat::Text
    } else {
        CollectFormat::Json
    });
    let explained = cmd.explain.then_some(&collected);
    use emit::{bake, flags, formats, github};
    let rendered = match format {
        CollectFormat::Text => Ok(formats::text(&annotations, explained)),
        CollectFormat::Json => Ok(formats::json(&annotations, explained, &diagnostics)),
        CollectFormat::Env => formats::env(&annotations),
        CollectFormat::Make => formats::make(&annotations, levels),
        CollectFormat::Dotenv => formats::dotenv(&annotations),
        CollectFormat::Bake => Ok(bake::bake(&annotations, levels, &cmd.bake_target)),
        CollectFormat::Oras => Ok(bake::oras(&annotations)),
        CollectFormat::Labels => formats::labels_list(&annotations),
        CollectFormat::Annotations => formats::annotations_list(&annotations, levels),
        CollectFormat::Github => flags::arguments(&annotations, levels, flags::Tool::Buildx, false)
            .map(|(args, _)| {
                let json = formats::json(&annotations, None, &[]);
                let skipped = emit::csv::trailing_blanks(
                    &annotations,
                    "the annotations and labels outputs",
                    false,
                );
                output::diagnostics(&skipped);
                github::outputs(&annotations, levels, &flags::render_shell(&args), &json)
            }),
    };
    Ok(print_rendered(rendered))
}

/// The build-tool arguments for a valid collection, or `None` (diagnostics printed).
fn tool_arguments(
    opts: &CollectOptions,
    env: &Env,
    tool: &cli::ToolArgs,
) -> Result<Option<Vec<String>>, Error> {
    let levels = &tool.levels.level;
    let Some((_, annotations, _)) = collect_valid(opts, env, levels)? else {
        return Ok(None);
    };
    match emit::flags::arguments(&annotations, levels, tool.tool, tool.labels) {
        Ok((args, warnings)) => {
            output::diagnostics(&warnings);
            Ok(Some(args))
        }
        Err(refusals) => {
            output::diagnostics(&refusals);
            Ok(None)
        }
    }
}

fn run_flags(opts: &CollectOptions, env: &Env, cmd: &cli::FlagsCmd) -> Result<Outcome, Error> {
    let Some(args) = tool_arguments(opts, env, &cmd.tool)? else {
        return Ok(Outcome::Invalid);
    };
    use emit::flags;
    if cmd.null {
        return Ok(print(&flags::render_null(&args)));
    }
    Ok(match cmd.format {
        cli::FlagsFormat::Json => print(flags::render_json(&args).as_bytes()),
        cli::FlagsFormat::Shell => {
            if args.iter().any(|a| a.contains('\n')) {
                output::note("a value spans lines: `eval` keeps it, but make's $(shell …) turns the line break into a space; use `oci-stamp exec` there");
            }
            print(flags::render_shell(&args).as_bytes())
        }
    })
}

fn run_exec(opts: &CollectOptions, env: &Env, cmd: &cli::ExecCmd) -> Result<Outcome, Error> {
    let Some(args) = tool_arguments(opts, env, &cmd.tool)? else {
        return Ok(Outcome::Invalid);
    };
    let (program, rest) = cmd
        .command
        .split_first()
        .ok_or_else(|| Error::Usage("exec needs a command after `--`".into()))?;
    let mut command = std::process::Command::new(program);
    command.args(rest).args(&args);
    let shown = program.to_string_lossy();
    // On Unix the command replaces this process, as `env` and `nice` do: a signal sent to
    // the pid a Makefile or CI runner started reaches the build itself, and the parent sees
    // the command's own status (a shell shows a signal as 128+n).
    #[cfg(unix)]
    let status: std::io::Result<std::process::ExitStatus> = {
        use std::os::unix::process::CommandExt;
        Err(command.exec())
    };
    #[cfg(not(unix))]
    let status = command.status();
    match status {
        Ok(status) => Ok(Outcome::Code(exit_code_of(status))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            output::error(&format!("cannot run `{shown}`: command not found"));
            Ok(Outcome::Code(127))
        }
        Err(e) => {
            output::error(&format!("cannot run `{shown}`: {e}"));
            Ok(Outcome::Code(126))
        }
    }
}

/// A child's exit status as a shell reports it: its code, or 128+n for signal n.
fn exit_code_of(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}

fn run_annotate(
    opts: &CollectOptions,
    env: &Env,
    cmd: &cli::AnnotateCmd,
) -> Result<Outcome, Error> {
    let mut targets: Vec<targets::Target> = Vec::new();
    for t in &cmd.targets {
        targets.extend(targets::parse_targets(t)?);
    }
    let kube = targets::kube::KubeOptions {
        pod_template: cmd.pod_template,
        kinds: cmd
            .kind
            .iter()
            .map(|k| k.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect(),
    };
    if targets
        .iter()
        .filter(|t| **t == targets::Target::Stdin)
        .count()
        > 1
    {
        return Err(Error::Usage(
            "`-` (standard input) can be given once".into(),
        ));
    }
    if let Some(tag) = &cmd.tag {
        if !targets::registry::valid_tag(tag) {
            return Err(Error::Usage(format!(
                "--tag `{}` is not a tag ([A-Za-z0-9_][A-Za-z0-9_.-], at most 128 characters)",
                tag.escape_debug()
            )));
        }
        if !targets
            .iter()
            .any(|t| matches!(t, targets::Target::Registry(_)))
        {
            return Err(Error::Usage(
                "--tag applies to registry targets (docker://…) only".into(),
            ));
        }
    }
    if cmd.gc
        && !targets
            .iter()
            .any(|t| matches!(t, targets::Target::Layout { .. }))
    {
        return Err(Error::Usage(
            "--gc applies to OCI image layouts only (a registry removes unreferenced blobs itself; files have no blobs)".into(),
        ));
    }
    let levels = &cmd.levels.level;
    let Some((_, annotations, _)) = collect_valid(opts, env, levels)? else {
        return Ok(Outcome::Invalid);
    };
    let stamp = targets::oci::Stamp::new(&annotations, levels);
    let registry = targets::registry::Options {
        tag: cmd.tag.clone(),
        insecure: cmd.insecure,
        ca_files: cmd.ca_file.clone(),
        env,
    };
    let mut outcomes = Vec::new();
    let mut document = None;
    let mut invalid = false;
    for target in &targets {
        let (outcome, doc) =
            match targets::annotate(target, &stamp, &kube, &registry, cmd.dry_run, cmd.gc) {
                Ok(done) => done,
                Err(e) => {
                    // The targets before this one are written: say so before the error
                    // that stops the run (to standard error when stdout holds a document).
                    if !outcomes.is_empty() {
                        let report = annotate_report(&outcomes, cmd);
                        if document.is_some() {
                            output::report(&report);
                        } else {
                            let _ = output::stdout(report.as_bytes());
                        }
                    }
                    return Err(e);
                }
            };
        output::diagnostics(&outcome.warnings);
        output::diagnostics(&outcome.refusals);
        invalid |= !outcome.refusals.is_empty();
        if doc.is_some() {
            document = doc;
        }
        outcomes.push(outcome);
    }
    let report = annotate_report(&outcomes, cmd);
    match document {
        // stdin → stdout: the document is the result; the report goes to standard error.
        Some(doc) => {
            let _ = output::stdout(doc.as_bytes());
            output::report(&report);
        }
        None => {
            let _ = output::stdout(report.as_bytes());
        }
    }
    Ok(if invalid {
        Outcome::Invalid
    } else {
        Outcome::Ok
    })
}

/// What `annotate` did to each target, as `--format` asks.
fn annotate_report(outcomes: &[targets::Outcome], cmd: &cli::AnnotateCmd) -> String {
    match cmd.format {
        DiagnosticFormat::Text => targets::render_text(outcomes, cmd.dry_run),
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(outcomes).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

fn run_validate(cmd: &cli::ValidateCmd) -> Result<Outcome, Error> {
    let mut args: Vec<AnnotationArg> = cmd.annotation.clone();
    if let Some(path) = &cmd.annotation_file {
        args.extend(collect::read_annotation_file(path)?);
    }
    if args.is_empty() && cmd.targets.is_empty() {
        return Err(Error::Usage(
            "nothing to validate: give -a KEY=VALUE, --annotation-file FILE or a TARGET".into(),
        ));
    }
    let mut diagnostics = Vec::new();
    let mut targets = Vec::new();
    for t in &cmd.targets {
        targets.extend(targets::parse_targets(t)?);
    }
    for target in &targets {
        let (maps, findings) = targets::inspect::annotation_maps(target)?;
        diagnostics.extend(findings);
        for found in maps.iter().filter(|f| !f.pairs.is_empty()) {
            let pairs = found.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            for d in validate::validate_map(pairs.clone()) {
                diagnostics.push(d.at(&found.location));
            }
            if !found.index_descriptor
                && found
                    .pairs
                    .iter()
                    .any(|(k, _)| k == oci_spec::image::ANNOTATION_REF_NAME)
            {
                diagnostics.push(
                    Diagnostic::warning(
                        "ref-name-level",
                        oci_spec::image::ANNOTATION_REF_NAME,
                        "ref.name belongs on index.json descriptors only",
                    )
                    .at(&found.location),
                );
            }
            if cmd.kubernetes {
                for d in kubernetes::check_map(pairs) {
                    diagnostics.push(d.at(&found.location));
                }
            }
        }
    }
    let mut set = Annotations::default();
    for a in &args {
        if set.get(&a.key).is_some() {
            diagnostics.push(
                Diagnostic::error(
                    "duplicate-key",
                    &a.key,
                    format!("`{}` is given more than once", a.key),
                )
                .hint("annotation keys are unique; keep one"),
            );
        }
        set.insert(a.key.clone(), a.value.clone(), a.levels.clone());
    }
    diagnostics.extend(validate::validate(&set, &Levels::manifest()));
    if cmd.kubernetes {
        let map = set.to_map();
        diagnostics.extend(kubernetes::check_map(
            map.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ));
    }
    let outcome = if has_errors(&diagnostics) {
        Outcome::Invalid
    } else {
        Outcome::Ok
    };
    match cmd.format {
        DiagnosticFormat::Text => output::diagnostics(&diagnostics),
        DiagnosticFormat::Json => {
            let mut s = serde_json::to_string_pretty(&diagnostics).unwrap_or_default();
            s.push('\n');
            let _ = output::stdout(s.as_bytes());
        }
    }
    Ok(outcome)
}

/// Entry points for the fuzz targets in `fuzz/` and their replay on stable in the tests:
/// thin wrappers over the crate's own validators, parsers, writers and renderers, taking and
/// returning plain strings. Not a stable API; nothing else of the crate is public.
#[doc(hidden)]
pub mod fuzzing {
    use crate::annotations::levels::LevelError;
    use crate::annotations::{kubernetes, validate, Annotations, Diagnostic, Levels};
    use crate::annotations::{spdx, time as rules};
    use crate::collect::{time, worktree, AnnotationArg};
    use crate::emit::{bake, flags, formats, github};
    use crate::targets::{self, kube, oci::Stamp};

    fn lines(diagnostics: &[Diagnostic]) -> Vec<String> {
        diagnostics.iter().map(ToString::to_string).collect()
    }

    /// Every finding about one annotation: the OCI key and value rules, then the Kubernetes
    /// key rules, one rendered line each.
    pub fn validate_pair(key: &str, value: &str) -> Vec<String> {
        let mut found: Vec<Diagnostic> = validate::check_key(key).into_iter().collect();
        found.extend(validate::check_value(key, value));
        found.extend(kubernetes::check_key(key));
        lines(&found)
    }

    /// Entry paths and the cached root tree's object name.
    pub type GitIndex = (Vec<Vec<u8>>, Option<Vec<u8>>);

    /// A git index file (SHA-1 names) as the dirty check reads it: the entries' paths and
    /// the cached root tree, or `None` when it is left to libgit2.
    pub fn parse_git_index(bytes: &[u8]) -> Option<GitIndex> {
        let index = worktree::parse(bytes, 20, (0, 0))?;
        let paths = index
            .entries
            .iter()
            .map(|e| index.path(e).to_vec())
            .collect();
        Some((paths, index.root_tree.clone()))
    }

    /// A URL (or text that is almost one) with its credentials replaced by `***`.
    pub fn redact_url(value: &str) -> String {
        validate::redact_url(value)
    }

    fn parse(levels: &str) -> Result<Levels, String> {
        levels.parse().map_err(|e: LevelError| e.to_string())
    }

    /// A `--level` list, parsed and shown again.
    pub fn parse_levels(s: &str) -> Result<String, String> {
        parse(s).map(|l| l.to_string())
    }

    /// A `-a [LEVELS:]KEY=VALUE` argument: its levels (shown again), key and value.
    pub fn parse_annotation_arg(s: &str) -> Result<(Option<String>, String, String), String> {
        let a: AnnotationArg = s.parse()?;
        Ok((a.levels.map(|l| l.to_string()), a.key, a.value))
    }

    /// A `--created` value: `auto`, `now`, `commit`, or the date-time it names, in UTC.
    pub fn parse_created(s: &str) -> Result<String, String> {
        Ok(match s.parse::<time::CreatedSpec>()? {
            time::CreatedSpec::Auto => "auto".into(),
            time::CreatedSpec::Now => "now".into(),
            time::CreatedSpec::Commit => "commit".into(),
            time::CreatedSpec::At(t) => time::format_rfc3339(&t),
        })
    }

    /// The strict RFC 3339 check that `created` values pass.
    pub fn check_rfc3339(s: &str) -> Result<(), String> {
        rules::check_rfc3339(s)
    }

    /// `SOURCE_DATE_EPOCH` and `@EPOCH`, as the date-time they name.
    pub fn parse_epoch(s: &str) -> Result<String, String> {
        time::parse_epoch(s).map(|t| time::format_rfc3339(&t))
    }

    /// The strict SPDX check of `licenses` (the refusal rendered).
    pub fn check_license(s: &str) -> Result<(), String> {
        spdx::check_expression("org.opencontainers.image.licenses", s).map_err(|d| d.to_string())
    }

    /// What a project file's license declaration becomes: the strict expression, and the
    /// original when it had to be canonicalised.
    pub fn canonicalise_license(s: &str) -> Result<(String, Option<String>), String> {
        spdx::canonicalise_declared(s)
    }

    fn annotations(pairs: &[(&str, &str)]) -> Annotations {
        let mut a = Annotations::default();
        for (k, v) in pairs {
            a.insert((*k).to_string(), (*v).to_string(), None);
        }
        a
    }

    /// `annotate` on a manifest or index JSON text (as for a file or `-`): the new text
    /// (`None` when nothing changes) and the refusals, or the error.
    pub fn annotate_json(
        text: &str,
        pairs: &[(&str, &str)],
        levels: &str,
    ) -> Result<(Option<String>, Vec<String>), String> {
        let levels: Levels = levels
            .parse()
            .map_err(|e: crate::annotations::levels::LevelError| e.to_string())?;
        let stamp = Stamp::new(&annotations(pairs), &levels);
        let (new, refusals) =
            targets::annotate_document("fuzz.json", text, &stamp).map_err(|e| e.to_string())?;
        Ok((new, lines(&refusals)))
    }

    /// What [`annotate_yaml`] did: the new text (`None` when nothing changes), the objects
    /// changed, the refusals.
    pub type YamlStamped = (Option<String>, Vec<String>, Vec<String>);

    /// Annotation maps by where they were found.
    pub type Found = Vec<(String, Vec<(String, String)>)>;

    /// `annotate` on a Kubernetes YAML text, or the error.
    pub fn annotate_yaml(
        text: &str,
        pairs: &[(&str, &str)],
        pod_template: bool,
    ) -> Result<YamlStamped, String> {
        let opts = kube::KubeOptions {
            pod_template,
            kinds: Vec::new(),
        };
        let r = kube::annotate(text, pairs, &opts)?;
        Ok((r.text, r.changed, lines(&r.refusals)))
    }

    /// The annotations of every object (and pod template) in a YAML text, as `validate`
    /// reads them: location and pairs.
    pub fn yaml_annotations(text: &str) -> Result<Found, String> {
        Ok(kube::annotation_maps("fuzz.yaml", text)?
            .into_iter()
            .map(|f| (f.location, f.pairs))
            .collect())
    }

    /// The output formats [`render`] knows.
    pub const FORMATS: &[&str] = &[
        "text",
        "json",
        "env",
        "make",
        "dotenv",
        "bake",
        "oras",
        "labels",
        "annotations",
        "github",
        "flags-shell",
        "flags-null",
        "flags-json",
        "flags-podman",
    ];

    /// Renders `pairs` (every entry at `levels`) in one of [`FORMATS`]: the bytes, or the
    /// refusals.
    pub fn render(
        format: &str,
        pairs: &[(&str, &str)],
        levels: &str,
    ) -> Result<Vec<u8>, Vec<String>> {
        let levels: Levels = levels
            .parse()
            .map_err(|e: crate::annotations::levels::LevelError| vec![e.to_string()])?;
        let a = annotations(pairs);
        let args = |tool, labels| {
            flags::arguments(&a, &levels, tool, labels)
                .map(|(args, _)| args)
                .map_err(|d| lines(&d))
        };
        let text = match format {
            "text" => formats::text(&a, None),
            "json" => formats::json(&a, None, &[]),
            "env" => formats::env(&a).map_err(|d| lines(&d))?,
            "make" => formats::make(&a, &levels).map_err(|d| lines(&d))?,
            "dotenv" => formats::dotenv(&a).map_err(|d| lines(&d))?,
            "bake" => bake::bake(&a, &levels, bake::DEFAULT_TARGET),
            "oras" => bake::oras(&a),
            "labels" => formats::labels_list(&a).map_err(|d| lines(&d))?,
            "annotations" => formats::annotations_list(&a, &levels).map_err(|d| lines(&d))?,
            "github" => {
                let args = args(flags::Tool::Buildx, false)?;
                let json = formats::json(&a, None, &[]);
                github::outputs(&a, &levels, &flags::render_shell(&args), &json)
            }
            "flags-shell" => flags::render_shell(&args(flags::Tool::Buildx, true)?),
            "flags-null" => return Ok(flags::render_null(&args(flags::Tool::Buildx, true)?)),
            "flags-json" => flags::render_json(&args(flags::Tool::Buildx, true)?),
            "flags-podman" => return Ok(flags::render_null(&args(flags::Tool::Podman, false)?)),
            other => return Err(vec![format!("unknown format `{other}`")]),
        };
        Ok(text.into_bytes())
    }
}
