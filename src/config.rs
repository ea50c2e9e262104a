//! Arguments and environment → the configuration a command runs with.
//!
//! [`crate::cli`] is what the user typed, as clap parses it; [`Config`] is that resolved: the
//! COLLECT options with each value's origin (flag or `OCI_STAMP_*` variable), the namespace
//! checked, `OCI_STAMP_ANNOTATION` split into lines. It is plain data (`PartialEq`), so argv →
//! config is unit-tested below without running anything.
//!
//! The environment policy lives here too: an empty `OCI_STAMP_*` variable counts as unset, as
//! an empty `SOURCE_DATE_EPOCH` does. CI systems define variables with empty values where a
//! value is optional (`OCI_STAMP_LEVEL: ${{ inputs.level }}`), and clap would take `""` as
//! the value. The policy is applied to clap's view of the environment (the option loses its
//! variable), never by changing the process environment.

use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{ArgMatches, FromArgMatches};

use crate::annotations::{self, validate};
use crate::cli::{Cli, CollectArgs, Command};
use crate::collect::{AnnotationArg, CollectOptions, Origin};
use crate::env::Env;
use crate::error::Error;

/// What a run does: the command as parsed, and the resolved collection options of the
/// commands that collect.
#[derive(Debug, PartialEq)]
pub(crate) struct Config {
    pub(crate) command: Command,
    pub(crate) collect: Option<CollectOptions>,
}

/// Why there is no configuration: clap's own error (or help/version), or a resolved value
/// that is refused.
#[derive(Debug)]
pub(crate) enum ConfigError {
    Clap(clap::Error),
    Other(Error),
}

impl Config {
    pub(crate) fn from_args<I, T>(args: I, env: &Env) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        // The invoked subcommand's options alone first; anything that does not parse there
        // (help, version, a mistake) is parsed again by the whole command for its message.
        let fast = args
            .get(1)
            .and_then(|a| a.to_str())
            .and_then(crate::cli::command_for)
            .and_then(|cmd| with_env(cmd, env).try_get_matches_from(args.clone()).ok());
        let matches = match fast {
            Some(m) => m,
            None => match command(env).try_get_matches_from(args.clone()) {
                Ok(m) => m,
                Err(e) => {
                    return Err(env_value_error(&e, &args, env).unwrap_or(ConfigError::Clap(e)))
                }
            },
        };
        let mut cli = Cli::from_arg_matches(&matches).map_err(ConfigError::Clap)?;
        let sub = matches.subcommand().map_or(&matches, |(_, m)| m);
        let collect = match &cli.command {
            Command::Collect(c) => Some(&c.collect),
            Command::Flags(c) => Some(&c.collect),
            Command::Exec(c) => Some(&c.collect),
            Command::Annotate(c) => Some(&c.collect),
            Command::Verify(c) => Some(&c.collect),
            Command::Validate(_) | Command::Completions { .. } | Command::Man(_) => None,
        };
        let mut collect = collect
            .map(|args| resolve(args, sub, env))
            .transpose()
            .map_err(ConfigError::Other)?;
        if let (Some(o), Command::Flags(crate::cli::FlagsCmd { tool, .. }))
        | (Some(o), Command::Exec(crate::cli::ExecCmd { tool, .. })) =
            (&mut collect, &cli.command)
        {
            o.dockerfile.labels_passed = tool.labels;
        }
        // The policy's levels, unless --level (or OCI_STAMP_LEVEL) was given.
        let policy_levels = collect
            .as_ref()
            .and_then(|c| c.policy.as_ref())
            .and_then(|p| p.levels.clone());
        if let Some(levels) = policy_levels.filter(|_| !given(sub, "level")) {
            match &mut cli.command {
                Command::Collect(c) => c.levels.level = levels,
                Command::Flags(c) => c.tool.levels.level = levels,
                Command::Exec(c) => c.tool.levels.level = levels,
                Command::Annotate(c) => c.levels.level = levels,
                Command::Verify(c) => c.levels.level = levels,
                _ => {}
            }
        }
        Ok(Config {
            command: cli.command,
            collect,
        })
    }
}

/// A value clap refuses that came from an `OCI_STAMP_*` variable, not from the command line:
/// the message names the variable, its value and what it accepts.
fn env_value_error(e: &clap::Error, args: &[OsString], env: &Env) -> Option<ConfigError> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let shown = match e.get(ContextKind::InvalidArg)? {
        ContextValue::String(s) => s.clone(),
        _ => return None,
    };
    let long = shown.split([' ', '=', '<']).next()?.trim_start_matches('-');
    let cmd = command(env);
    let mut stack: Vec<&clap::Command> = vec![&cmd];
    while let Some(c) = stack.pop() {
        stack.extend(c.get_subcommands());
        let Some(arg) = c.get_arguments().find(|a| a.get_long() == Some(long)) else {
            continue;
        };
        let Some(var) = arg.get_env().and_then(|v| v.to_str()) else {
            continue;
        };
        let Some(value) = env.get(var) else {
            continue;
        };
        let flag = format!("--{long}");
        let on_command_line = args.iter().any(|a| {
            a.to_str()
                .is_some_and(|a| a == flag || a.starts_with(&format!("{flag}=")))
        });
        if on_command_line {
            return None;
        }
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_string())
            .collect();
        // The validator's own reason when it gave one (a bad platform, a bake target name);
        // for clap's boolean parser, which says only "value was not a boolean", the list.
        let why = std::error::Error::source(e)
            .map(ToString::to_string)
            .filter(|why| why != "value was not a boolean");
        let accepted = match (why, possible.is_empty()) {
            (Some(why), _) => format!(": {why}"),
            (None, true) => "; accepted: see --help".to_string(),
            (None, false) => format!("; accepted: {}", possible.join(", ")),
        };
        return Some(ConfigError::Other(Error::Usage(format!(
            "{var}=`{}` is not a valid value for {flag}{accepted}",
            value.escape_debug()
        ))));
    }
    None
}

/// The clap command, with the options whose variable is set but empty cut loose from it.
pub(crate) fn command(env: &Env) -> clap::Command {
    with_env(crate::cli::command(), env)
}

/// `cmd` with the options whose variable is set but empty cut loose from it; walking every
/// option costs a tenth of a short run, so only when some variable is set and empty.
fn with_env(cmd: clap::Command, env: &Env) -> clap::Command {
    fn detach_empty(cmd: clap::Command, env: &Env) -> clap::Command {
        cmd.mut_args(|arg| {
            let empty = arg
                .get_env()
                .and_then(|name| name.to_str())
                .is_some_and(|name| env.is_empty_var(name));
            if empty {
                arg.env(None)
            } else {
                arg
            }
        })
        .mut_subcommands(|sub| detach_empty(sub, env))
    }
    if env.any_empty_var("OCI_STAMP_") {
        detach_empty(cmd, env)
    } else {
        cmd
    }
}

/// Whether an option was given, on the command line or through its variable.
fn given(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.try_get_raw(id).ok().and(m.value_source(id)),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
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
        if env.is_not_utf8(var) {
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
    let policy = crate::collect::policy::load(args.policy.as_deref(), &args.repo)?;
    let from_policy = policy.as_ref().and_then(|p| p.namespace.as_deref());
    let namespace = match args
        .namespace
        .as_deref()
        .or(from_policy)
        .map(|n| n.trim_end_matches('.'))
    {
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
    let mut build_args = std::collections::BTreeMap::new();
    // --build-arg, else OCI_STAMP_BUILD_ARG: one NAME[=VALUE] per line (as the action's
    // `build-args` input, and build-push-action's, give them).
    let (build_arg_list, from): (Vec<String>, &str) = if !args.build_arg.is_empty() {
        (args.build_arg.clone(), "--build-arg")
    } else {
        if env.is_not_utf8("OCI_STAMP_BUILD_ARG") {
            return Err(Error::Usage(
                "OCI_STAMP_BUILD_ARG is not valid UTF-8".into(),
            ));
        }
        let lines = env.get("OCI_STAMP_BUILD_ARG").unwrap_or_default();
        let lines = lines
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        (lines, "OCI_STAMP_BUILD_ARG")
    };
    for arg in &build_arg_list {
        // buildx: NAME=VALUE, or NAME alone for the variable's value (none when it is unset)
        match arg.split_once('=') {
            Some(("", _)) => {
                return Err(Error::Usage(format!(
                    "{from} `{}`: no name before `=`",
                    arg.escape_debug()
                )))
            }
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Some(v) = env.get(arg) {
                    build_args.insert(arg.clone(), v.to_string());
                }
            }
        }
    }
    if args.resolve_base && !cfg!(feature = "registry") {
        return Err(Error::Usage(
            "--resolve-base: this oci-stamp was built without registry support (the `registry` feature)".into(),
        ));
    }
    let dockerfile = crate::collect::from_dockerfile::Options {
        path: args.dockerfile.clone().map(|p| {
            (
                p,
                origin(m, "dockerfile", "--dockerfile", "OCI_STAMP_DOCKERFILE"),
            )
        }),
        target: args.target.clone(),
        build_args,
        resolve_base: args.resolve_base,
        labels_source: args.from_dockerfile_labels,
        labels_passed: false,
    };
    Ok(CollectOptions {
        dockerfile,
        registry_insecure: args.registry.insecure,
        registry_ca_files: args.registry.ca_file.clone(),
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
        // Flags and variables win over the policy; `--require` adds to the policy's list.
        label_schema: match &policy {
            Some(p) if !given(m, "label_schema") => p.label_schema.unwrap_or(args.label_schema),
            _ => args.label_schema,
        },
        no_detect: args.no_detect,
        require: policy
            .iter()
            .flat_map(|p| p.require.iter())
            .chain(&args.require)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .fold(Vec::new(), |mut v, k| {
                if !v.contains(&k) {
                    v.push(k);
                }
                v
            }),
        require_clean: match &policy {
            Some(p) if !given(m, "require_clean") => p.require_clean.unwrap_or(args.require_clean),
            _ => args.require_clean,
        },
        policy,
        tag_prefix: args.tag_prefix.clone().filter(|p| !p.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::time::CreatedSpec;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    /// The one-subcommand command parses every command line as the whole command does:
    /// the same values, each from the same source (command line, variable, default), and
    /// it refuses (leaving the message to the whole command) what that refuses.
    #[test]
    fn the_one_subcommand_command_parses_as_the_whole_command() {
        let lines: &[&[&str]] = &[
            &["flags"],
            &["flags", "-a", "version=1.0", "--labels", "-C", "dir"],
            &[
                "collect",
                "--format",
                "json",
                "--explain",
                "--write",
                "bake=b.json",
            ],
            &[
                "collect",
                "-f",
                "github",
                "--level",
                "index,manifest",
                "--require-clean",
            ],
            &["exec", "--labels", "--", "docker", "buildx", "build", "."],
            &["annotate", "--dry-run", "layout/"],
            &["validate", "--kubernetes", "a.json"],
            &["verify", "--require", "revision", "img/"],
            &["collect", "--bogus"],
            &["flags", "--help"],
            &["collect", "--version"],
            &["exec"],
        ];
        let envs = [
            env(&[]),
            env(&[("OCI_STAMP_FORMAT", "make"), ("OCI_STAMP_LABELS", "true")]),
            env(&[("OCI_STAMP_FORMAT", ""), ("OCI_STAMP_NAMESPACE", "")]),
        ];
        for e in &envs {
            for line in lines {
                let argv: Vec<&str> = std::iter::once("oci-stamp")
                    .chain(line.iter().copied())
                    .collect();
                let whole = command(e).try_get_matches_from(&argv);
                let one = with_env(crate::cli::command_for(line[0]).unwrap(), e)
                    .try_get_matches_from(&argv);
                let (whole, one) = match (whole, one) {
                    (Ok(w), Ok(o)) => (w, o),
                    (Err(_), Err(_)) => continue,
                    (w, o) => panic!("{line:?}: whole {:?}, one {:?}", w.err(), o.err()),
                };
                assert_eq!(
                    Cli::from_arg_matches(&whole).unwrap(),
                    Cli::from_arg_matches(&one).unwrap(),
                    "{line:?}"
                );
                let (w, o) = (whole.subcommand().unwrap().1, one.subcommand().unwrap().1);
                for id in w.ids() {
                    assert_eq!(
                        w.value_source(id.as_str()),
                        o.value_source(id.as_str()),
                        "{line:?} {id}"
                    );
                }
                assert_eq!(w.ids().count(), o.ids().count(), "{line:?}");
            }
        }
    }

    fn collect_options(argv: &[&str], e: &Env) -> CollectOptions {
        let argv = std::iter::once("oci-stamp").chain(argv.iter().copied());
        Config::from_args(argv, e)
            .expect("a valid command line")
            .collect
            .expect("a command that collects")
    }

    #[test]
    fn annotations_come_from_flags_or_the_variable_never_both() {
        let e = env(&[("OCI_STAMP_ANNOTATION", "version=9\n\ncom.example.x=1\r\n")]);
        let from_env = collect_options(&["collect"], &e);
        assert_eq!(
            from_env.annotations,
            vec![
                (
                    "version=9".parse().unwrap(),
                    Origin::Env("OCI_STAMP_ANNOTATION")
                ),
                (
                    "com.example.x=1".parse().unwrap(),
                    Origin::Env("OCI_STAMP_ANNOTATION")
                ),
            ]
        );
        let from_flag = collect_options(&["flags", "-a", "version=1.0"], &e);
        assert_eq!(
            from_flag.annotations,
            vec![("version=1.0".parse().unwrap(), Origin::Flag("--annotation"))]
        );
    }

    #[test]
    fn options_resolve_with_their_origin() {
        let o = collect_options(
            &[
                "collect",
                "--created",
                "@0",
                "--licenses",
                "MIT",
                "--namespace",
                "com.example.",
                "--require",
                " revision ,,version",
            ],
            &env(&[]),
        );
        assert_eq!(
            o.created.map(|(_, origin)| origin),
            Some(Origin::Flag("--created"))
        );
        assert_eq!(
            o.licenses,
            Some(("MIT".to_string(), Origin::Flag("--licenses")))
        );
        assert_eq!(o.namespace.as_deref(), Some("com.example"));
        assert_eq!(o.require, ["revision", "version"]);
        assert!(!o.require_clean);
    }

    #[test]
    fn a_bad_namespace_is_a_usage_error() {
        for ns in ["example", "org.opencontainers.x"] {
            let argv = ["oci-stamp", "collect", "--namespace", ns];
            match Config::from_args(argv, &env(&[])) {
                Err(ConfigError::Other(Error::Usage(m))) => assert!(m.contains(ns), "{m}"),
                other => panic!("{ns}: {other:?}"),
            }
        }
    }

    #[test]
    fn tag_prefix_from_the_flag() {
        let o = collect_options(&["collect", "--tag-prefix", "release-"], &env(&[]));
        assert_eq!(o.tag_prefix.as_deref(), Some("release-"));
    }

    #[test]
    fn validate_and_completions_collect_nothing() {
        let argv = ["oci-stamp", "validate", "-a", "version=1"];
        assert_eq!(Config::from_args(argv, &env(&[])).unwrap().collect, None);
    }

    #[test]
    fn an_empty_variable_counts_as_unset() {
        // The process environment of this test has no OCI_STAMP_* variables; an empty one in
        // the snapshot detaches the option from its variable, which clap shows in its help.
        let e = env(&[("OCI_STAMP_CREATED", "")]);
        let arg_env = |cmd: &clap::Command| {
            cmd.find_subcommand("collect")
                .and_then(|c| c.get_arguments().find(|a| a.get_id() == "created"))
                .and_then(|a| a.get_env().map(ToOwned::to_owned))
        };
        assert_eq!(arg_env(&command(&e)), None);
        assert_eq!(
            arg_env(&command(&env(&[]))).as_deref(),
            Some(std::ffi::OsStr::new("OCI_STAMP_CREATED"))
        );
        assert_eq!(collect_options(&["collect"], &e).created, None);
        let o = collect_options(&["collect", "--created", "now"], &e);
        assert_eq!(
            o.created,
            Some((CreatedSpec::Now, Origin::Flag("--created")))
        );
    }
}
