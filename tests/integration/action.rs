//! The GitHub Action: `action.yml` run the way the Actions runner runs a composite action.
//!
//! The steps are read from `action.yml` itself. Each `run:` step gets the `env:` block with its
//! `${{ inputs.… }}` and `${{ steps.….outputs.… }}` values filled in (the only expressions an
//! `env:` value may hold here), runs as `bash --noprofile --norc -eo pipefail SCRIPT` with
//! `GITHUB_OUTPUT` a fresh file, `GITHUB_ACTION_PATH`, `RUNNER_OS`, `RUNNER_ARCH`,
//! `RUNNER_TEMP` and `RUNNER_TOOL_CACHE` set, and its outputs are read back with the runner's
//! heredoc rules; `uses:` steps (the cache) are skipped, as a cache miss. Standard output goes
//! through the runner's workflow-command rules (`::stop-commands::` included), so a value
//! that would issue a command is caught.
//!
//! Downloads are exercised with `file://` release URLs holding archives made by
//! `.ci/package`; builds from source with a stand-in `cargo` on `PATH`.

#![cfg(unix)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::Value;
use yaml_edit::{Document, Mapping, YamlNode};

use crate::consumers::read_github_output;
use crate::harness::{have, Commit, Repo, Sandbox, BIN};

/// The repository root: `action.yml`, `action/run.sh`, `.ci/package`, the workflows.
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The predefined keys' short names as output names.
const KEY_OUTPUTS: &[&str] = &[
    "authors",
    "base-digest",
    "base-name",
    "created",
    "description",
    "documentation",
    "licenses",
    "ref-name",
    "revision",
    "source",
    "title",
    "url",
    "vendor",
    "version",
];

/// Outputs that are not a single key.
const LIST_OUTPUTS: &[&str] = &["annotations", "labels", "json", "flags", "bake-file"];

/// A project description no output may be split, forged or executed by.
const DESCRIPTION: &str = "Says hello\n\
revision<<EOF\n\
forged\n\
EOF\n\
annotations<<ghadelimiter_00000000000000000000000000000000\n\
::set-output name=forged::yes\n\
::stop-commands::x\n\
\"; touch pwned; echo \"$(touch pwned)\" `touch pwned` 'x'\n\
the last line";

/// DESCRIPTION as collected from the project file: folded to one line (the multi-line
/// values that outputs must carry exactly come with `-a`, such as VENDOR).
fn folded_description() -> String {
    DESCRIPTION.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A value ending with a line break (which the runner's reader must not eat).
const VENDOR: &str = "Example Corp\nvendor<<EOF\n";

/// An annotation value that is shell syntax.
const SHELL_VALUE: &str = "$(touch pwned) `touch pwned` \"; touch pwned; # ' ${HOME}";

// --- action.yml -------------------------------------------------------------------------------

fn parse_yaml(path: &Path) -> Mapping {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc =
        Document::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    doc.as_mapping()
        .unwrap_or_else(|| panic!("{} is not a mapping", path.display()))
}

fn string(node: &YamlNode) -> String {
    node.as_scalar()
        .unwrap_or_else(|| panic!("not a scalar: {node:?}"))
        .as_string()
}

/// The entries of a mapping, keys and scalar values as strings (other values as "").
fn entries(m: &Mapping) -> Vec<(String, YamlNode)> {
    m.iter().map(|(k, v)| (string(&k), v)).collect()
}

fn get_string(m: &Mapping, key: &str) -> Option<String> {
    m.get(key).map(|v| string(&v))
}

fn get_mapping(m: &Mapping, key: &str) -> Option<Mapping> {
    m.get(key).and_then(|v| v.as_mapping().cloned())
}

#[derive(Debug)]
struct Step {
    id: String,
    uses: Option<String>,
    run: Option<String>,
    env: Vec<(String, String)>,
}

#[derive(Debug)]
struct ActionYml {
    /// Input name → default.
    inputs: BTreeMap<String, String>,
    /// Output name → value expression.
    outputs: BTreeMap<String, String>,
    steps: Vec<Step>,
}

fn load_action(dir: &Path) -> ActionYml {
    let top = parse_yaml(&dir.join("action.yml"));
    let inputs = entries(&get_mapping(&top, "inputs").expect("inputs"))
        .into_iter()
        .map(|(name, v)| {
            let m = v.as_mapping().expect("an input is a mapping");
            (name, get_string(m, "default").unwrap_or_default())
        })
        .collect();
    let outputs = entries(&get_mapping(&top, "outputs").expect("outputs"))
        .into_iter()
        .map(|(name, v)| {
            let m = v.as_mapping().expect("an output is a mapping");
            (name, get_string(m, "value").expect("an output has a value"))
        })
        .collect();
    let runs = get_mapping(&top, "runs").expect("runs");
    assert_eq!(get_string(&runs, "using").as_deref(), Some("composite"));
    let steps = runs
        .get("steps")
        .and_then(|s| s.as_sequence().cloned())
        .expect("runs.steps")
        .values()
        .map(|s| {
            let m = s.as_mapping().expect("a step is a mapping");
            Step {
                id: get_string(m, "id").expect("every step has an id"),
                uses: get_string(m, "uses"),
                run: get_string(m, "run"),
                env: get_mapping(m, "env")
                    .map(|e| {
                        entries(&e)
                            .into_iter()
                            .map(|(k, v)| (k, string(&v)))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect();
    ActionYml {
        inputs,
        outputs,
        steps,
    }
}

/// `${{ inputs.NAME }}` → NAME.
fn input_ref(value: &str) -> Option<&str> {
    value.strip_prefix("${{ inputs.")?.strip_suffix(" }}")
}

/// `${{ steps.ID.outputs.NAME }}` → (ID, NAME).
fn step_output_ref(value: &str) -> Option<(&str, &str)> {
    value
        .strip_prefix("${{ steps.")?
        .strip_suffix(" }}")?
        .split_once(".outputs.")
}

// --- the runner's rules -----------------------------------------------------------------------

/// The workflow commands the runner would act on in a step's log: `(command, data)`, with
/// `::stop-commands::TOKEN` … `::TOKEN::` honoured (and not listed).
fn workflow_commands(log: &str) -> Vec<(String, String)> {
    let mut commands = Vec::new();
    let mut stopped: Option<String> = None;
    for line in log.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("::") else {
            continue;
        };
        let Some((head, data)) = rest.split_once("::") else {
            continue;
        };
        if let Some(token) = &stopped {
            if head == token.as_str() && data.is_empty() {
                stopped = None;
            }
            continue;
        }
        let name = head.split(' ').next().unwrap_or_default();
        if name == "stop-commands" {
            stopped = Some(data.to_string());
            continue;
        }
        commands.push((name.to_string(), data.to_string()));
    }
    assert!(stopped.is_none(), "commands left stopped:\n{log}");
    commands
}

/// A command's data as the runner unescapes it.
fn unescape(data: &str) -> String {
    data.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

// --- the runner -------------------------------------------------------------------------------

/// One run of a step.
struct StepRun {
    id: String,
    status: i32,
    stdout: String,
    stderr: String,
    outputs: BTreeMap<String, String>,
}

/// One run of the action.
struct ActionRun {
    steps: Vec<StepRun>,
    /// The action's outputs (every declared one; "" when its step did not set it).
    outputs: BTreeMap<String, String>,
    /// The first failing step's status, else 0.
    status: i32,
}

impl std::fmt::Display for ActionRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.steps {
            writeln!(
                f,
                "--- step {} (status {}) ---\n{}--- stderr ---\n{}--- outputs ---\n{:#?}",
                s.id, s.status, s.stdout, s.stderr, s.outputs
            )?;
        }
        Ok(())
    }
}

impl ActionRun {
    fn ok(&self) -> &Self {
        assert_eq!(self.status, 0, "the action failed\n{self}");
        self
    }

    fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("step `{id}` did not run\n{self}"))
    }

    /// The workflow commands of every step, checked against what the action may issue.
    fn commands(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for s in &self.steps {
            for log in [&s.stdout, &s.stderr] {
                for (name, data) in workflow_commands(log) {
                    assert!(
                        ["group", "endgroup", "error", "warning", "notice"]
                            .contains(&name.as_str()),
                        "step `{}` issued `::{name}::{data}`\n{self}",
                        s.id
                    );
                    all.push((name, unescape(&data)));
                }
            }
        }
        all
    }

    /// The data of the `::error` commands.
    fn errors(&self) -> Vec<String> {
        self.commands()
            .into_iter()
            .filter(|(n, _)| n == "error")
            .map(|(_, d)| d)
            .collect()
    }
}

/// A runner: a workspace, a temp and tool-cache directory, the action's directory.
struct Runner<'s> {
    sb: &'s Sandbox,
    action: PathBuf,
    workspace: PathBuf,
    temp: PathBuf,
    tool_cache: PathBuf,
    os: String,
    arch: String,
    env: Vec<(String, String)>,
    runs: std::cell::Cell<usize>,
}

impl<'s> Runner<'s> {
    fn new(sb: &'s Sandbox, workspace: &Path) -> Self {
        let temp = sb.path().join("runner/temp");
        let tool_cache = sb.path().join("runner/tool-cache");
        for d in [&temp, &tool_cache] {
            std::fs::create_dir_all(d).expect("create a runner directory");
        }
        Runner {
            sb,
            action: PathBuf::from(ROOT),
            workspace: workspace.to_path_buf(),
            temp,
            tool_cache,
            os: "Linux".into(),
            arch: "X64".into(),
            env: Vec::new(),
            runs: std::cell::Cell::new(0),
        }
    }

    fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_string(), value.into()));
        self
    }

    /// Runs the steps of the action, up to and including `last` (all with `None`).
    fn run_until(&self, inputs: &[(&str, &str)], last: Option<&str>) -> ActionRun {
        let action = load_action(&self.action);
        for (name, _) in inputs {
            assert!(
                action.inputs.contains_key(*name),
                "`{name}` is not an input of action.yml"
            );
        }
        let run_no = self.runs.get() + 1;
        self.runs.set(run_no);
        let files = self.temp.join(format!("_runner_file_commands/{run_no}"));
        std::fs::create_dir_all(&files).expect("create the file-command directory");

        let mut steps: Vec<StepRun> = Vec::new();
        let mut status = 0;
        for step in &action.steps {
            let Some(script) = &step.run else {
                let uses = step.uses.as_deref().expect("a step runs or uses");
                assert!(pinned(uses), "`{uses}` is not pinned to a commit");
                continue;
            };
            let mut env = Vec::new();
            for (key, value) in &step.env {
                let resolved = if let Some(name) = input_ref(value) {
                    let default = action
                        .inputs
                        .get(name)
                        .unwrap_or_else(|| panic!("`{key}` names an undeclared input `{name}`"));
                    inputs
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map_or(default.clone(), |(_, v)| (*v).to_string())
                } else if let Some((id, name)) = step_output_ref(value) {
                    steps
                        .iter()
                        .find(|s| s.id == id)
                        .and_then(|s| s.outputs.get(name).cloned())
                        .unwrap_or_default()
                } else {
                    panic!(
                        "env `{key}: {value}` of step `{}` is not an input or a step output",
                        step.id
                    )
                };
                env.push((key.clone(), resolved));
            }
            let script_path = files.join(format!("{}.sh", step.id));
            std::fs::write(&script_path, script).expect("write the step script");
            let output_path = files.join(format!("set_output_{}", step.id));
            std::fs::write(&output_path, "").expect("create GITHUB_OUTPUT");

            let mut cmd = self.sb.command("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
                .arg(&script_path)
                .current_dir(&self.workspace)
                .env("GITHUB_ACTION_PATH", &self.action)
                .env("GITHUB_OUTPUT", &output_path)
                .env("GITHUB_WORKSPACE", &self.workspace)
                .env("RUNNER_OS", &self.os)
                .env("RUNNER_ARCH", &self.arch)
                .env("RUNNER_TEMP", &self.temp)
                .env("RUNNER_TOOL_CACHE", &self.tool_cache);
            for (k, v) in self.env.iter().chain(&env) {
                cmd.env(k, v);
            }
            let out = cmd.output().expect("run bash");
            let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
            let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
            let code = out.status.code().unwrap_or(-1);
            let text = std::fs::read_to_string(&output_path).expect("read GITHUB_OUTPUT");
            steps.push(StepRun {
                id: step.id.clone(),
                status: code,
                stdout,
                stderr,
                outputs: read_github_output(&text).0,
            });
            if code != 0 {
                status = code;
                break;
            }
            if last == Some(step.id.as_str()) {
                break;
            }
        }
        let outputs = action
            .outputs
            .iter()
            .map(|(name, value)| {
                let (id, output) = step_output_ref(value)
                    .unwrap_or_else(|| panic!("output `{name}` is not a step output: {value}"));
                let v = steps
                    .iter()
                    .find(|s| s.id == id)
                    .and_then(|s| s.outputs.get(output).cloned())
                    .unwrap_or_default();
                (name.clone(), v)
            })
            .collect();
        ActionRun {
            steps,
            outputs,
            status,
        }
    }

    fn run(&self, inputs: &[(&str, &str)]) -> ActionRun {
        self.run_until(inputs, None)
    }
}

/// `owner/repo[/path]@<40 hex>`, or a local `./path`.
fn pinned(uses: &str) -> bool {
    if uses.starts_with("./") {
        return true;
    }
    match uses.split_once('@') {
        Some((name, sha)) => {
            name.contains('/')
                && sha.len() == 40
                && sha
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        }
        None => false,
    }
}

// --- fixtures ---------------------------------------------------------------------------------

/// A checkout like the README's sample: `hello` 1.4.2, MIT, tagged v1.4.2, an origin on
/// GitHub, and a description that tries every trick on `$GITHUB_OUTPUT` and the log.
fn hello<'s>(sb: &'s Sandbox, name: &str) -> (Repo<'s>, Commit) {
    let repo = sb.repo(name);
    let description = DESCRIPTION.replace('\\', "\\\\").replace('"', "\\\"");
    repo.write(
        "Cargo.toml",
        format!(
            "[package]\nname = \"hello\"\nversion = \"1.4.2\"\nlicense = \"MIT\"\n\
             description = \"{}\"\n",
            description.replace('\n', "\\n")
        ),
    );
    let commit = repo.commit("first");
    repo.git(&["tag", "v1.4.2"]);
    repo.git(&[
        "remote",
        "add",
        "origin",
        "https://github.com/example/hello.git",
    ]);
    (repo, commit)
}

/// Every file under `dir` named `pwned`.
fn pwned(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read a directory").flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "pwned") {
                found.push(p);
            }
        }
    }
    found
}

/// `oci-stamp ARGS` in `dir` with `env`, standard output when it succeeds.
fn direct(sb: &Sandbox, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = sb.command(BIN);
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run oci-stamp");
    assert!(
        out.status.success(),
        "oci-stamp {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

// --- tests ------------------------------------------------------------------------------------

#[test]
fn action_yml_passes_inputs_only_through_env() {
    let action = load_action(Path::new(ROOT));
    let text = std::fs::read_to_string(Path::new(ROOT).join("action.yml")).expect("action.yml");

    // Every input reaches a step, and only as a whole `env:` value.
    let mut used = BTreeSet::new();
    for step in &action.steps {
        if let Some(run) = &step.run {
            assert!(
                !run.contains("${{"),
                "step `{}` has an expression in its script: {run}",
                step.id
            );
            assert_eq!(
                run,
                &format!("bash \"$GITHUB_ACTION_PATH/action/run.sh\" {}", step.id)
            );
        }
        if let Some(uses) = &step.uses {
            assert!(pinned(uses), "`{uses}` is not pinned to a commit");
            let line = text
                .lines()
                .find(|l| l.contains(uses.as_str()))
                .expect("the uses line");
            assert!(line.contains(" # v"), "no `# vX` comment: {line}");
        }
        for (key, value) in &step.env {
            if let Some(name) = input_ref(value) {
                assert!(action.inputs.contains_key(name), "{key}: {value}");
                assert_eq!(
                    key,
                    &format!("INPUT_{}", name.to_uppercase().replace('-', "_")),
                    "inputs keep their names in env"
                );
                used.insert(name.to_string());
            } else {
                assert!(step_output_ref(value).is_some(), "{key}: {value}");
            }
        }
    }
    let declared: BTreeSet<String> = action.inputs.keys().cloned().collect();
    assert_eq!(used, declared, "inputs that reach no step");

    // The outputs: the lists, the bake file, one per predefined key, all from the run step.
    let mut want: BTreeSet<&str> = KEY_OUTPUTS.iter().copied().collect();
    want.extend(LIST_OUTPUTS);
    let have: BTreeSet<&str> = action.outputs.keys().map(String::as_str).collect();
    assert_eq!(have, want);
    for (name, value) in &action.outputs {
        assert_eq!(value, &format!("${{{{ steps.run.outputs.{name} }}}}"));
    }
    for input in [
        "annotations",
        "annotation-file",
        "levels",
        "licenses",
        "created",
        "namespace",
        "label-schema",
        "no-detect",
        "require",
        "require-clean",
        "working-directory",
        "bake-target",
        "annotate",
        "version",
        "binary",
    ] {
        assert!(declared.contains(input), "no input `{input}`");
    }
}

#[test]
fn workflows_pin_actions_and_keep_expressions_out_of_scripts() {
    let mut files = vec![PathBuf::from(ROOT).join("examples/github-workflow.yml")];
    let dir = PathBuf::from(ROOT).join(".github/workflows");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect(".github/workflows")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for f in ["ci.yml", "release.yml"] {
        assert!(names.contains(&dir.join(f)), "no .github/workflows/{f}");
    }
    files.extend(names);
    for file in &files {
        let top = parse_yaml(file);
        let text = std::fs::read_to_string(file).expect("read the workflow");
        let jobs = get_mapping(&top, "jobs").expect("jobs");
        for (job, spec) in entries(&jobs) {
            let spec = spec.as_mapping().expect("a job is a mapping");
            let steps = spec
                .get("steps")
                .and_then(|s| s.as_sequence().cloned())
                .expect("steps");
            for step in steps.values() {
                let step = step.as_mapping().expect("a step is a mapping");
                if let Some(run) = get_string(step, "run") {
                    assert!(
                        !run.contains("${{"),
                        "{}: job `{job}` has an expression in a script: {run}",
                        file.display()
                    );
                }
                if let Some(uses) = get_string(step, "uses") {
                    // This action itself, in the example: a release tag (see its comment).
                    if uses.starts_with("./") || uses.starts_with("OWNER/oci-stamp@v") {
                        continue;
                    }
                    assert!(
                        pinned(&uses),
                        "{}: `{uses}` is not pinned to a commit",
                        file.display()
                    );
                    let line = text
                        .lines()
                        .find(|l| l.contains(uses.as_str()))
                        .expect("the uses line");
                    assert!(line.contains(" # v"), "no `# vX` comment: {line}");
                }
            }
        }
        if !file.ends_with("github-workflow.yml") {
            let permissions = get_mapping(&top, "permissions").expect("top-level permissions");
            assert_eq!(
                entries(&permissions)
                    .into_iter()
                    .map(|(k, v)| (k, string(&v)))
                    .collect::<Vec<_>>(),
                [("contents".to_string(), "read".to_string())],
                "{}",
                file.display()
            );
        }
    }
}

#[test]
fn outputs_are_exact_and_nothing_is_injected() {
    let sb = Sandbox::new();
    let (repo, commit) = hello(&sb, "repo");
    let annotations = format!("com.example.cmd={SHELL_VALUE}\nindex:com.example.index-only=yes\n");
    let file = serde_json::json!({ "org.opencontainers.image.vendor": VENDOR }).to_string();
    repo.write("annotations.json", &file);
    let runner = Runner::new(&sb, &repo.path);
    let run = runner.run(&[
        ("binary", BIN),
        ("annotations", &annotations),
        ("annotation-file", "annotations.json"),
        ("levels", "index,manifest"),
        ("namespace", "com.example.ci"),
        ("require", "revision\nsource, version"),
    ]);
    run.ok();
    let outputs = &run.outputs;
    let step = &run.step("run").outputs;

    // The binary's own outputs, as a direct run with the same settings writes them.
    let env = [
        ("OCI_STAMP_ANNOTATION", annotations.as_str()),
        ("OCI_STAMP_ANNOTATION_FILE", "annotations.json"),
        ("OCI_STAMP_LEVEL", "index,manifest"),
        ("OCI_STAMP_NAMESPACE", "com.example.ci"),
        ("OCI_STAMP_REQUIRE", "revision,source,version"),
    ];
    let (mut want, _) = read_github_output(&direct(
        &sb,
        &repo.path,
        &env,
        &["collect", "--format", "github"],
    ));
    let bake_file = step.get("bake-file").expect("a bake-file output").clone();
    want.insert("bake-file".into(), bake_file.clone());
    assert_eq!(step, &want, "\n{run}");
    for (name, value) in step {
        assert_eq!(
            outputs.get(name),
            Some(value),
            "output `{name}` is not declared in action.yml"
        );
    }

    // The values themselves.
    assert_eq!(outputs["revision"], commit.hash);
    assert_eq!(outputs["created"], commit.time);
    assert_eq!(outputs["version"], "1.4.2");
    assert_eq!(outputs["licenses"], "MIT");
    assert_eq!(outputs["title"], "hello");
    assert_eq!(outputs["source"], "https://github.com/example/hello");
    assert_eq!(outputs["url"], "https://github.com/example/hello");
    assert_eq!(outputs["description"], folded_description());
    assert_eq!(outputs["vendor"], VENDOR);
    for absent in [
        "authors",
        "base-digest",
        "base-name",
        "documentation",
        "ref-name",
    ] {
        assert_eq!(outputs[absent], "", "{absent}");
    }
    let object = json(&outputs["json"]);
    assert_eq!(object["com.example.cmd"], SHELL_VALUE);
    assert_eq!(
        object["org.opencontainers.image.description"],
        folded_description()
    );
    assert_eq!(object["com.example.ci.branch"], "main");
    // The two lists, as build-push-action reads them (tests/integration/list_reader.rs): the
    // description (folded to one line) is one item; the vendor, ending in a line break that reader
    // trims, is left out (it is exact in `json` and its own output).
    if let Some(reader) = crate::list_reader::ListReader::find() {
        let (read, _) = reader.read(
            &sb,
            &[outputs["annotations"].clone(), outputs["labels"].clone()],
            &[],
        );
        let annotation_items = read[0].clone().expect("the annotations list parses");
        for want in [
            format!("index,manifest:com.example.cmd={SHELL_VALUE}"),
            "index:com.example.index-only=yes".to_string(),
            format!(
                "index,manifest:org.opencontainers.image.revision={}",
                commit.hash
            ),
            format!(
                "index,manifest:org.opencontainers.image.description={}",
                folded_description()
            ),
        ] {
            assert!(
                annotation_items.contains(&want),
                "{want:?} in {annotation_items:?}"
            );
        }
        let label_items = read[1].clone().expect("the labels list parses");
        assert!(label_items.contains(&format!("com.example.cmd={SHELL_VALUE}")));
        assert!(label_items.contains(&format!(
            "org.opencontainers.image.description={}",
            folded_description()
        )));
        for items in [&annotation_items, &label_items] {
            assert!(items.iter().all(|i| !i.contains("vendor=")), "{items:?}");
        }
    }
    assert!(
        lines(&outputs["annotations"]).contains(&"index:com.example.index-only=yes"),
        "a line with nothing to quote is as it is"
    );

    // The bake file: under RUNNER_TEMP, as `collect --format bake` writes it.
    let bake_path = PathBuf::from(&bake_file);
    assert!(bake_path.starts_with(&runner.temp), "{bake_file}");
    let bake = json(&std::fs::read_to_string(&bake_path).expect("read the bake file"));
    assert_eq!(
        bake,
        json(&direct(
            &sb,
            &repo.path,
            &env,
            &["collect", "--format", "bake"]
        ))
    );
    // The log group: the explanation as `collect --format text --explain` prints it, with
    // workflow commands stopped around it.
    let explained = direct(
        &sb,
        &repo.path,
        &env,
        &["collect", "--format", "text", "--explain"],
    );
    let log = &run.step("run").stdout;
    let group = log
        .split("::group::oci-stamp: the annotations and where they came from\n")
        .nth(1)
        .and_then(|rest| rest.split("::endgroup::").next())
        .unwrap_or_else(|| panic!("no explanation group in the log:\n{run}"));
    let inner: Vec<&str> = group.lines().collect();
    assert!(
        inner
            .first()
            .is_some_and(|l| l.starts_with("::stop-commands::")),
        "{group}"
    );
    assert_eq!(
        inner[1..inner.len() - 1].join("\n") + "\n",
        explained,
        "{group}"
    );
    // bake reads JSON strings as HCL templates: `${` is written `$${` so it stays literal
    assert_eq!(
        bake["target"]["oci-stamp"]["labels"]["com.example.cmd"],
        SHELL_VALUE.replace("${", "$${")
    );

    // Nothing ran, no output was forged, no command was issued by a value.
    assert_eq!(pwned(sb.path()), Vec::<PathBuf>::new());
    assert!(!outputs.contains_key("forged") && !step.contains_key("forged"));
    let commands = run.commands();
    assert!(
        commands
            .iter()
            .any(|(n, d)| n == "group" && d.contains("annotations")),
        "{commands:?}"
    );
    assert!(
        run.step("run").stdout.contains(&commit.hash),
        "the log shows the annotations\n{run}"
    );
}

#[test]
fn inputs_that_are_shell_or_output_syntax_stay_values_or_are_refused() {
    let sb = Sandbox::new();
    let (repo, _) = hello(&sb, "repo");
    let runner = Runner::new(&sb, &repo.path);

    // Each is refused with a diagnostic on the step, and sets no output.
    for (input, value, status, says) in [
        (
            "licenses",
            "MIT\"; touch pwned; echo \"",
            1,
            "invalid-license",
        ),
        ("created", "$(touch pwned)", 2, "--created"),
        (
            "created",
            "x\n::set-output name=forged::yes\n::add-mask::y",
            2,
            "--created",
        ),
        (
            "namespace",
            "com.example\n::set-output name=revision::forged",
            2,
            "--namespace",
        ),
        (
            "annotations",
            "revision<<EOF\nforged\nEOF",
            2,
            "OCI_STAMP_ANNOTATION",
        ),
        ("label-schema", "true; touch pwned", 2, "label-schema"),
        ("require", "revision,vendor", 1, "missing-required"),
        (
            "bake-target",
            "t\"; touch pwned; echo \"",
            2,
            "is not a bake target name: bake allows only letters, digits, `_` and `-`",
        ),
    ] {
        let run = runner.run(&[("binary", BIN), (input, value)]);
        assert_eq!(run.status, status, "{input}: {value:?}\n{run}");
        let failed = run.steps.last().expect("a step ran");
        assert_eq!(failed.id, "run");
        assert_eq!(failed.outputs, BTreeMap::new(), "{input}\n{run}");
        let errors = run.errors();
        assert!(
            errors.iter().any(|e| e.contains(says)),
            "{input}: no error saying `{says}` in {errors:?}\n{run}"
        );
    }

    // These are plain values: the output holds them exactly.
    let run = runner.run(&[
        ("binary", BIN),
        (
            "annotations",
            "com.example.a=EOF\ncom.example.b=ghadelimiter_1\n",
        ),
        ("licenses", "MIT OR Apache-2.0"),
        ("bake-target", "my-target_2"),
    ]);
    run.ok();
    let object = json(&run.outputs["json"]);
    assert_eq!(object["com.example.b"], "ghadelimiter_1");
    assert_eq!(
        object["org.opencontainers.image.licenses"],
        "MIT OR Apache-2.0"
    );
    assert_eq!(object["com.example.a"], "EOF");
    let bake =
        json(&std::fs::read_to_string(&run.outputs["bake-file"]).expect("read the bake file"));
    assert!(bake["target"]["my-target_2"].is_object(), "{bake}");
    assert_eq!(pwned(sb.path()), Vec::<PathBuf>::new());
}

#[test]
fn annotate_stamps_each_path_with_the_same_created() {
    let sb = Sandbox::new();
    // The workspace holds the checkout in a directory whose name is shell syntax.
    let workspace = sb.dir("workspace", &[]);
    let dir_name = "my repo $(touch pwned)";
    let (repo, commit) = hello(&sb, &format!("workspace/{dir_name}"));
    let deployment =
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web # the web tier\nspec: {}\n";
    // A file name is the repository's to choose: one that prints a workflow command.
    let files = [
        "k8s/deploy $(touch pwned).yaml",
        "k8s/it's \"quoted\"; touch pwned.yaml",
        "k8s/more dir/svc.yaml",
        "k8s/more dir/x\n::set-output name=forged::yes\n.yaml",
    ];
    for f in files {
        repo.write(f, deployment);
    }
    let runner = Runner::new(&sb, &workspace);
    let annotate = "k8s/deploy $(touch pwned).yaml\n  k8s/it's \"quoted\"; touch pwned.yaml  \r\n\n\tk8s/more dir\n";
    let before = crate::harness::now();
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", dir_name),
        ("created", "now"),
        ("annotate", annotate),
    ]);
    run.ok();
    let created = &run.outputs["created"];
    assert_ne!(created, &commit.time);
    let epoch = crate::harness::epoch_of(created);
    assert!(
        (before..=crate::harness::now()).contains(&epoch),
        "created {created} is not now"
    );
    assert_eq!(run.outputs["revision"], commit.hash);
    // One `created` everywhere: the outputs, the bake file, every stamped file.
    let bake =
        json(&std::fs::read_to_string(&run.outputs["bake-file"]).expect("read the bake file"));
    assert_eq!(
        bake["target"]["oci-stamp"]["labels"]["org.opencontainers.image.created"],
        created.as_str()
    );
    for f in files {
        let text = std::fs::read_to_string(repo.path.join(f)).expect("read a stamped file");
        assert!(
            text.contains(&format!("org.opencontainers.image.created: \"{created}\"")),
            "{f}:\n{text}\n{run}"
        );
        assert!(
            text.contains(&format!(
                "org.opencontainers.image.revision: \"{}\"",
                commit.hash
            )),
            "{f}:\n{text}"
        );
        assert!(text.contains("name: web # the web tier"), "{f}:\n{text}");
    }
    assert_eq!(pwned(sb.path()), Vec::<PathBuf>::new());
    // The report shows the file name escaped, so its line breaks start no line of their
    // own (and were they printed raw, `::stop-commands::` would keep the runner from
    // reading them).
    let stdout = &run.step("run").stdout;
    assert!(
        stdout.contains("/x\\n::set-output name=forged::yes\\n.yaml: stamped"),
        "{stdout}"
    );
    assert!(!stdout.contains("\n::set-output"), "{stdout}");
    run.commands();

    // `-` (standard input) is no target for the action.
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", dir_name),
        ("annotate", "-"),
    ]);
    assert_eq!(run.status, 2, "{run}");
    assert!(run.errors().iter().any(|e| e.contains("standard input")));

    // A target that does not exist fails the step, naming it.
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", dir_name),
        ("annotate", "k8s/missing.yaml"),
    ]);
    assert_ne!(run.status, 0, "{run}");
    assert!(
        run.errors().iter().any(|e| e.contains("annotate failed")),
        "{run}"
    );
}

/// A release as release.yml publishes it, under `dir/vVERSION/`: archives made by
/// `.ci/package` around a stand-in binary that prints `oci-stamp VERSION`, and SHA256SUMS.
fn publish(sb: &Sandbox, dir: &Path, version: &str, targets: &[&str]) -> PathBuf {
    let stub = sb.path().join(format!("stub-{version}"));
    std::fs::write(&stub, format!("#!/bin/sh\necho 'oci-stamp {version}'\n")).expect("write stub");
    let docs = sb.path().join("docs");
    let package = Path::new(ROOT).join(".ci/package");
    let ok = |args: &[&std::ffi::OsStr]| {
        let out = sb
            .command(&package)
            .args(args)
            .output()
            .expect("run .ci/package");
        assert!(
            out.status.success(),
            ".ci/package {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if !docs.exists() {
        ok(&["docs".as_ref(), BIN.as_ref(), docs.as_os_str()]);
    }
    let release = dir.join(format!("v{version}"));
    for target in targets {
        ok(&[
            "archive".as_ref(),
            version.as_ref(),
            target.as_ref(),
            stub.as_os_str(),
            docs.as_os_str(),
            release.as_os_str(),
        ]);
    }
    ok(&["sums".as_ref(), release.as_os_str()]);
    stub
}

#[test]
fn a_release_is_downloaded_checked_and_cached() {
    for tool in ["curl", "tar", "gzip", "zip", "unzip", "sha256sum"] {
        if !have(tool) {
            return;
        }
    }
    let sb = Sandbox::new();
    let (repo, _) = hello(&sb, "repo");
    let releases = sb.path().join("releases");
    let linux = "x86_64-unknown-linux-musl";
    let windows_arm = "aarch64-pc-windows-msvc";
    let stub = publish(&sb, &releases, "9.8.7", &[linux, windows_arm]);
    let url = format!("file://{}", releases.display());
    let runner = Runner::new(&sb, &repo.path)
        .env("OCI_STAMP_RELEASE_URL", &url)
        .env("GITHUB_REPOSITORY", "example/oci-stamp");

    let run = runner.run_until(&[("version", "v9.8.7")], Some("install"));
    run.ok();
    let plan = &run.step("plan").outputs;
    assert_eq!(plan["mode"], "release");
    assert_eq!(plan["version"], "9.8.7");
    assert_eq!(plan["target"], linux);
    assert_eq!(plan["key"], format!("oci-stamp-9.8.7-{linux}"));
    let dir = runner.tool_cache.join(format!("oci-stamp/9.8.7/{linux}"));
    assert_eq!(PathBuf::from(&plan["dir"]), dir);
    let bin = dir.join("bin/oci-stamp");
    assert_eq!(PathBuf::from(&plan["bin"]), bin);
    assert_eq!(
        std::fs::read(&bin).expect("the installed binary"),
        std::fs::read(&stub).expect("the stub")
    );
    let install = run.step("install");
    assert!(
        install.stdout.contains("matches SHA256SUMS") && install.stdout.contains("oci-stamp 9.8.7"),
        "{run}"
    );

    // Cached: nothing is downloaded again.
    std::fs::rename(&releases, sb.path().join("gone")).expect("move the release away");
    let run = runner.run_until(&[("version", "9.8.7")], Some("install"));
    run.ok();
    assert!(
        run.step("install").stdout.contains("is there already"),
        "{run}"
    );
    std::fs::rename(sb.path().join("gone"), &releases).expect("move the release back");

    // Windows on arm64: the zip archive, `oci-stamp.exe`.
    let mut windows = Runner::new(&sb, &repo.path)
        .env("OCI_STAMP_RELEASE_URL", &url)
        .env("GITHUB_REPOSITORY", "example/oci-stamp");
    windows.os = "Windows".into();
    windows.arch = "ARM64".into();
    windows.tool_cache = sb.path().join("runner/tool-cache-windows");
    let run = windows.run_until(&[("version", "9.8.7")], Some("install"));
    run.ok();
    let exe = windows
        .tool_cache
        .join(format!("oci-stamp/9.8.7/{windows_arm}/bin/oci-stamp.exe"));
    assert_eq!(PathBuf::from(&run.step("plan").outputs["bin"]), exe);
    assert!(exe.is_file(), "{run}");

    // A tampered archive is not installed.
    let archive = releases.join(format!("v9.8.7/oci-stamp-9.8.7-{linux}.tar.gz"));
    let mut bytes = std::fs::read(&archive).expect("read the archive");
    bytes.push(0);
    std::fs::write(&archive, bytes).expect("tamper with the archive");
    let mut fresh = Runner::new(&sb, &repo.path)
        .env("OCI_STAMP_RELEASE_URL", &url)
        .env("GITHUB_REPOSITORY", "example/oci-stamp");
    fresh.tool_cache = sb.path().join("runner/tool-cache-fresh");
    let run = fresh.run_until(&[("version", "9.8.7")], Some("install"));
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.errors().iter().any(|e| e.contains("sha256 is")),
        "{run}"
    );
    assert!(!fresh
        .tool_cache
        .join(format!("oci-stamp/9.8.7/{linux}/bin/oci-stamp"))
        .exists());

    // A release that does not exist, a runner without a release binary, a bad version.
    for (os, arch, version, says) in [
        ("Linux", "X64", "1.0.0", "cannot download"),
        ("Linux", "ARM", "9.8.7", "no release binary"),
        ("Linux", "X64", "latest", "expected a release"),
    ] {
        let mut r = Runner::new(&sb, &repo.path)
            .env("OCI_STAMP_RELEASE_URL", &url)
            .env("GITHUB_REPOSITORY", "example/oci-stamp");
        r.os = os.into();
        r.arch = arch.into();
        r.tool_cache = sb.path().join("runner/tool-cache-missing");
        let run = r.run_until(&[("version", version)], Some("install"));
        assert_eq!(run.status, 2, "{run}");
        assert!(
            run.errors().iter().any(|e| e.contains(says)),
            "{says}\n{run}"
        );
    }
}

/// A copy of the action as the runner checks it out for `uses: OWNER/REPO@REF`, with its
/// Cargo.toml at `version`, and a source tree to hash.
fn checkout_action(sb: &Sandbox, reference: &str, version: &str) -> PathBuf {
    let dir = sb
        .path()
        .join("runner/work/_actions/example/oci-stamp")
        .join(reference);
    std::fs::create_dir_all(dir.join("action")).expect("create the action directory");
    std::fs::create_dir_all(dir.join("src")).expect("create src");
    for f in ["action.yml", "action/run.sh", "Cargo.lock"] {
        std::fs::copy(Path::new(ROOT).join(f), dir.join(f)).expect("copy the action");
    }
    std::fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"oci-stamp\"\nversion = \"{version}\"\n\n[dependencies]\nversion = \"0\"\n"),
    )
    .expect("write Cargo.toml");
    std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").expect("write src/main.rs");
    dir
}

/// A stand-in `cargo` that logs its arguments and installs the real binary at `--root`.
fn fake_cargo(sb: &Sandbox) -> (PathBuf, PathBuf) {
    let bin_dir = sb.path().join("fake-bin");
    std::fs::create_dir_all(&bin_dir).expect("create fake-bin");
    let log = sb.path().join("cargo.log");
    let script = format!(
        "#!/bin/sh\n\
         printf '%s\\n' \"CARGO_TARGET_DIR=$CARGO_TARGET_DIR\" \"$@\" '--' >> '{log}'\n\
         root=\n\
         while [ $# -gt 0 ]; do case $1 in --root) root=$2; shift ;; esac; shift; done\n\
         mkdir -p \"$root/bin\" && cp '{bin}' \"$root/bin/oci-stamp\"\n",
        log = log.display(),
        bin = BIN
    );
    let cargo = bin_dir.join("cargo");
    std::fs::write(&cargo, script).expect("write the fake cargo");
    let out = sb
        .command("chmod")
        .args(["+x"])
        .arg(&cargo)
        .status()
        .expect("chmod");
    assert!(out.success());
    (bin_dir, log)
}

#[test]
fn at_a_version_tag_the_release_is_used_else_the_source_is_built() {
    if !have("curl") {
        return;
    }
    let sb = Sandbox::new();
    let (repo, commit) = hello(&sb, "repo");
    let releases = sb.path().join("releases");
    publish(&sb, &releases, "9.8.7", &["x86_64-unknown-linux-musl"]);
    let url = format!("file://{}", releases.display());
    let (fake_bin, log) = fake_cargo(&sb);
    let path = format!(
        "{}:{}",
        fake_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // `uses: example/oci-stamp@v9` (a major tag) and `@v9.8.7`: the release of Cargo.toml.
    for reference in ["v9", "v9.8.7"] {
        let mut runner = Runner::new(&sb, &repo.path)
            .env("OCI_STAMP_RELEASE_URL", &url)
            .env("PATH", &path);
        runner.action = checkout_action(&sb, reference, "9.8.7");
        let run = runner.run_until(&[], Some("install"));
        run.ok();
        let plan = &run.step("plan").outputs;
        assert_eq!(plan["mode"], "release", "{reference}\n{run}");
        assert_eq!(plan["version"], "9.8.7");
        assert_eq!(plan["repository"], "example/oci-stamp");
    }
    assert!(!log.exists(), "cargo ran");

    // `@main`, a commit, a tag of another version: built from the action's source, keyed by
    // its hash, and built once.
    for (reference, notice) in [
        ("main", false),
        ("0123456789abcdef0123456789abcdef01234567", false),
        ("v1", true),
    ] {
        let mut runner = Runner::new(&sb, &repo.path).env("PATH", &path);
        runner.action = checkout_action(&sb, reference, "9.8.7");
        let run = runner.run(&[]);
        run.ok();
        let plan = &run.step("plan").outputs;
        assert_eq!(plan["mode"], "source", "{reference}\n{run}");
        assert!(plan["key"].starts_with("oci-stamp-source-"));
        assert_eq!(
            run.commands().iter().filter(|(n, _)| n == "notice").count(),
            usize::from(notice),
            "{reference}\n{run}"
        );
        assert_eq!(run.outputs["revision"], commit.hash, "{run}");
    }
    let logged = std::fs::read_to_string(&log).expect("cargo ran");
    let calls: Vec<&str> = logged.split("--\n").filter(|c| !c.is_empty()).collect();
    // The three checkouts hold the same source: one key, one build.
    assert_eq!(calls.len(), 1, "{logged}");
    let args: Vec<&str> = calls[0].lines().collect();
    let action = sb
        .path()
        .join("runner/work/_actions/example/oci-stamp/main");
    assert_eq!(
        args[1..5],
        ["install", "--locked", "--quiet", "--path"],
        "{logged}"
    );
    assert_eq!(args[5], action.to_str().expect("UTF-8 path"));
    assert_eq!(args[6], "--root");
    assert!(args[7].starts_with(
        &sb.path()
            .join("runner/tool-cache/oci-stamp/source-")
            .display()
            .to_string()
    ));
    assert_eq!(
        args[0],
        format!(
            "CARGO_TARGET_DIR={}",
            sb.path().join("runner/temp/oci-stamp-target").display()
        )
    );

    // A change to the source is a new key and a new build.
    let mut runner = Runner::new(&sb, &repo.path).env("PATH", &path);
    runner.action = checkout_action(&sb, "main", "9.8.7");
    let key = runner.run_until(&[], Some("plan")).step("plan").outputs["key"].clone();
    std::fs::write(runner.action.join("src/main.rs"), "fn main() { }\n").expect("edit");
    let run = runner.run(&[]);
    run.ok();
    assert_ne!(run.step("plan").outputs["key"], key);
    let logged = std::fs::read_to_string(&log).expect("cargo ran");
    assert_eq!(logged.split("--\n").filter(|c| !c.is_empty()).count(), 2);

    // `version: source` builds even at a version tag.
    let mut runner = Runner::new(&sb, &repo.path)
        .env("OCI_STAMP_RELEASE_URL", &url)
        .env("PATH", &path);
    runner.action = checkout_action(&sb, "v9.8.7", "9.8.7");
    let run = runner.run_until(&[("version", "source")], Some("plan"));
    assert_eq!(run.step("plan").outputs["mode"], "source");
}

#[test]
fn the_script_is_posix_sh() {
    if !have("dash") {
        return;
    }
    let sb = Sandbox::new();
    let (repo, commit) = hello(&sb, "repo");
    let output = sb.path().join("github-output");
    std::fs::write(&output, "").expect("create GITHUB_OUTPUT");
    let temp = sb.dir("temp", &[]);
    let out = sb
        .command("dash")
        .arg(Path::new(ROOT).join("action/run.sh"))
        .arg("run")
        .current_dir(&repo.path)
        .env("GITHUB_OUTPUT", &output)
        .env("RUNNER_TEMP", &temp)
        .env("RUNNER_OS", "Linux")
        .env("RUNNER_ARCH", "X64")
        .env("GITHUB_ACTION_PATH", ROOT)
        .env("INPUT_BINARY", BIN)
        .env(
            "INPUT_ANNOTATIONS",
            format!("com.example.cmd={SHELL_VALUE}"),
        )
        .env("INPUT_LABEL_SCHEMA", "true")
        .env("INPUT_ANNOTATE", "")
        .output()
        .expect("run dash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (outputs, _) = read_github_output(&std::fs::read_to_string(&output).expect("read"));
    assert_eq!(outputs["revision"], commit.hash);
    assert_eq!(outputs["description"], folded_description());
    let object = json(&outputs["json"]);
    assert_eq!(object["com.example.cmd"], SHELL_VALUE);
    assert_eq!(object["org.label-schema.vcs-ref"], commit.hash.as_str());
    assert!(PathBuf::from(&outputs["bake-file"]).starts_with(&temp));
    workflow_commands(&stdout);
}

#[test]
fn verify_checks_the_targets_after_collection() {
    let sb = Sandbox::new();
    let workspace = sb.dir("workspace", &[]);
    let (repo, _) = hello(&sb, "workspace/app");
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n";
    repo.write("k8s/stamped.yaml", deployment);
    repo.write("k8s/plain.yaml", deployment);
    let runner = Runner::new(&sb, &workspace);
    // Stamped in the same step, then verified: the step succeeds.
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", "app"),
        ("annotate", "k8s/stamped.yaml"),
        ("verify", "  k8s/stamped.yaml\r\n\n"),
    ]);
    run.ok();
    assert!(run.step("run").stdout.contains("all match"), "{run}");
    // A target that lacks the keys fails the step, each finding an annotation.
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", "app"),
        ("verify", "k8s/stamped.yaml\nk8s/plain.yaml\n"),
    ]);
    assert_eq!(run.status, 1, "{run}");
    let errors = run.errors();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("annotation-missing") && e.contains("plain.yaml")),
        "{run}"
    );
    assert!(errors.iter().any(|e| e.contains("verify failed")), "{run}");
    run.commands();
    // `-` is no target here either.
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", "app"),
        ("verify", "-"),
    ]);
    assert_eq!(run.status, 2, "{run}");
}

/// A stand-in for `tool` on `PATH` (in `bin_dir`) that logs each call to `log` and runs the
/// real one.
fn logging_wrapper(sb: &Sandbox, bin_dir: &Path, tool: &str, log: &Path) {
    let real = sb
        .command("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .expect("find the tool");
    let real = String::from_utf8(real.stdout).expect("UTF-8");
    let script = format!(
        "#!/bin/sh\necho {tool} >> '{log}'\nexec '{real}' \"$@\"\n",
        log = log.display(),
        real = real.trim()
    );
    let path = bin_dir.join(tool);
    std::fs::write(&path, script).expect("write the wrapper");
    assert!(sb
        .command("chmod")
        .arg("+x")
        .arg(&path)
        .status()
        .expect("chmod")
        .success());
}

#[test]
fn the_plan_is_made_once_and_the_later_steps_take_its_outputs() {
    if !have("sha256sum") {
        return;
    }
    let sb = Sandbox::new();
    let (repo, commit) = hello(&sb, "repo");
    let (fake_bin, _) = fake_cargo(&sb);
    let calls = sb.path().join("sha256sum.log");
    logging_wrapper(&sb, &fake_bin, "sha256sum", &calls);
    let path = format!(
        "{}:{}",
        fake_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // Built from source: the source is hashed by the plan step alone (one sha256sum over the
    // files, one over their lines), not again by install and run.
    let mut runner = Runner::new(&sb, &repo.path).env("PATH", &path);
    runner.action = checkout_action(&sb, "main", "9.8.7");
    let run = runner.run(&[]);
    run.ok();
    assert_eq!(run.outputs["revision"], commit.hash, "{run}");
    let logged = std::fs::read_to_string(&calls).expect("sha256sum ran");
    assert_eq!(logged.lines().count(), 2, "{logged}\n{run}");
    // The key is the sha256 of `SHA256 PATH` lines, one a file sorted by path, as it has
    // been since the action had a cache: a faster hash must not orphan existing caches.
    let hex = |bytes: &[u8]| -> String {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let mut lines = String::new();
    for f in ["Cargo.lock", "Cargo.toml", "src/main.rs"] {
        let bytes = std::fs::read(runner.action.join(f)).expect("read a source file");
        lines.push_str(&format!("{} {f}\n", hex(&bytes)));
    }
    assert_eq!(
        run.step("plan").outputs["key"],
        format!("oci-stamp-source-{}-Linux-X64", hex(lines.as_bytes()))
    );
    // A cache hit: the same, and install finds the binary the plan named.
    std::fs::remove_file(&calls).expect("reset the log");
    let run = runner.run(&[]);
    run.ok();
    assert!(
        run.step("install").stdout.contains("is there already"),
        "{run}"
    );
    let logged = std::fs::read_to_string(&calls).expect("sha256sum ran");
    assert_eq!(logged.lines().count(), 2, "{logged}\n{run}");

    // The run step takes the binary from PLAN_BIN, not from planning again (which would
    // refuse this `binary` input); a PLAN_MODE that no plan step writes is refused.
    let output = sb.path().join("github-output");
    for (mode, status) in [("binary", 0), ("elsewhere", 2)] {
        std::fs::write(&output, "").expect("create GITHUB_OUTPUT");
        let out = sb
            .command("bash")
            .arg(Path::new(ROOT).join("action/run.sh"))
            .arg("run")
            .current_dir(&repo.path)
            .env("GITHUB_OUTPUT", &output)
            .env("RUNNER_TEMP", sb.dir(&format!("temp-{mode}"), &[]))
            .env("RUNNER_OS", "Linux")
            .env("RUNNER_ARCH", "X64")
            .env("GITHUB_ACTION_PATH", ROOT)
            .env("INPUT_BINARY", "no/such/oci-stamp")
            .env("PLAN_MODE", mode)
            .env("PLAN_BIN", BIN)
            .output()
            .expect("run bash");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(status), "{mode}: {stdout}");
        let (outputs, _) = read_github_output(&std::fs::read_to_string(&output).expect("read"));
        if status == 0 {
            assert_eq!(outputs["revision"], commit.hash);
        } else {
            assert!(stdout.contains("PLAN_MODE"), "{stdout}");
            assert!(outputs.is_empty(), "{outputs:?}");
        }
    }
}

/// The Dockerfile inputs reach the binary as build-push-action users give them: a file in
/// the working directory, a stage, build arguments one per line, the Dockerfile's labels as
/// a source, and a tag prefix.
#[test]
fn dockerfile_inputs_reach_the_binary() {
    let sb = Sandbox::new();
    let workspace = sb.dir("workspace", &[]);
    let (repo, _) = hello(&sb, "workspace/app");
    repo.write(
        "docker/app.Dockerfile",
        "ARG BASE=debian\nARG TAG\nFROM ${BASE}:${TAG} AS build\n\
         FROM alpine:3.20 AS runtime\nLABEL org.opencontainers.image.vendor=\"Example Co\"\n",
    );
    repo.git(&["tag", "release-7.1.0"]);
    let runner = Runner::new(&sb, &workspace);
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", "app"),
        ("dockerfile", "docker/app.Dockerfile"),
        ("target", "build"),
        ("build-args", "BASE=ubuntu\r\nTAG=24.04\n\n"),
        ("from-dockerfile-labels", "true"),
        ("tag-prefix", "release-"),
    ]);
    run.ok();
    let outputs = &run.step("run").outputs;
    assert_eq!(
        outputs["base-name"], "docker.io/library/ubuntu:24.04",
        "{run}"
    );
    assert_eq!(outputs["version"], "7.1.0", "{run}");
    // The runtime stage's label: not the stage built, so not a source.
    assert!(!outputs.contains_key("vendor"), "{run}");
    let run = runner.run(&[
        ("binary", BIN),
        ("working-directory", "app"),
        ("dockerfile", "docker/app.Dockerfile"),
        ("build-args", "TAG=24.04"),
        ("from-dockerfile-labels", "true"),
    ]);
    run.ok();
    let outputs = &run.step("run").outputs;
    assert_eq!(
        outputs["base-name"], "docker.io/library/alpine:3.20",
        "{run}"
    );
    assert_eq!(outputs["vendor"], "Example Co", "{run}");
    assert_eq!(outputs["version"], "1.4.2", "{run}");
    // A bad boolean is refused by name.
    let run = runner.run(&[("binary", BIN), ("resolve-base", "yes please")]);
    assert_eq!(run.status, 2, "{run}");
    assert!(
        run.errors()
            .iter()
            .any(|e| e.contains("input `resolve-base`")),
        "{run}"
    );
}
