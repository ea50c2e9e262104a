#!/usr/bin/env python3
"""Times the composite action (action.yml) on a cache hit, step by step, as the runner runs it.

Each `run:` step of action.yml is written to a script file and run the way the Actions runner
runs a `shell: bash` step: `bash --noprofile --norc -eo pipefail SCRIPT`, in the workspace,
with GITHUB_ACTION_PATH, GITHUB_OUTPUT, GITHUB_ENV, GITHUB_PATH, GITHUB_STATE,
GITHUB_STEP_SUMMARY (fresh files), GITHUB_WORKSPACE, GITHUB_REPOSITORY, RUNNER_OS,
RUNNER_ARCH, RUNNER_TEMP and RUNNER_TOOL_CACHE set, and the step's `env:` block resolved
(`${{ inputs.… }}` from the inputs or their defaults, `${{ steps.….outputs.… }}` from the
outputs earlier steps wrote). The steps are run once in order to resolve those values, then
each step is timed by hyperfine (-N, whole process) with its resolved environment; the
action's time is the sum of the step medians.

The `uses:` steps (actions/cache restore and save) are not run: a cache hit is modelled as
the binary already being where the restore puts it (the plan's `bin`), which this script
arranges before timing. The restore action's own time (a Node.js process and a download) is
not counted: it is the same whatever run.sh does.

The baseline is the binary's own time: `oci-stamp collect --format github` in the same
workspace with the same settings, timed in the same hyperfine run.

Usage: benches/action.py [--quick] [--workspace DIR] [--action DIR]…
  --quick      3 runs each (for .ci/run, so the bench cannot rot; asserts nothing)
  --workspace  the checkout to describe (default: this repository's own checkout)
  --action     a copy of the action to time (default: this checkout); repeat to compare
The binary is $OCI_STAMP_BIN, else $CARGO_TARGET_DIR/release/oci-stamp (built if missing).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = "--quick" in sys.argv
RUNS = 3 if QUICK else 30
ROUNDS = 1 if QUICK else 3
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
BIN = os.environ.get("OCI_STAMP_BIN") or os.path.join(TARGET, "release", "oci-stamp")
WORKSPACE = sys.argv[sys.argv.index("--workspace") + 1] if "--workspace" in sys.argv else ROOT
# Several copies of the action (`--action DIR`, repeatable) are timed side by side, e.g. a
# `git archive` of an older commit against this checkout.
ACTIONS = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--action"] or [ROOT]
# What a runner's environment does not hold: other CI providers' and oci-stamp's variables.
BASE_ENV = {k: v for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "OCI_STAMP_", "GITLAB", "CI_"))}
BASE_ENV.update({"GITHUB_ACTIONS": "true", "CI": "true"})


def action_steps(action):
    """(inputs' defaults, steps) of action.yml: each step {id, uses, run, env}. A reader for
    the shape action.yml has (block mappings, `key: value` scalars), not a YAML parser."""
    text = open(os.path.join(action, "action.yml")).read()
    inputs, steps, section, current, in_env, name = {}, [], None, None, False, None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            section = line.split(":")[0]
            continue
        if section == "inputs":
            m = re.match(r"^  ([a-z-]+):$", line)
            if m:
                name = m.group(1)
                inputs[name] = ""
            m = re.match(r"^    default: (.*)$", line)
            if m:
                value = m.group(1)
                inputs[name] = json.loads(value) if value.startswith('"') else value
        elif section == "runs":
            m = re.match(r"^    - (\w+): (.*)$", line)
            if m:
                current = {"id": None, "uses": None, "run": None, "env": {}}
                steps.append(current)
                line = "      " + m.group(1) + ": " + m.group(2)
            m = re.match(r"^      (\w+): ?(.*)$", line)
            if m and current is not None:
                in_env = m.group(1) == "env"
                if m.group(1) in ("id", "uses", "run"):
                    current[m.group(1)] = m.group(2).split(" #")[0].strip()
                continue
            m = re.match(r"^        (\w+): (.*)$", line)
            if m and in_env:
                current["env"][m.group(1)] = m.group(2)
    return inputs, steps


def read_outputs(path):
    """GITHUB_OUTPUT as the runner reads it: NAME=VALUE and NAME<<DELIM … DELIM."""
    out, lines, i = {}, open(path).read().split("\n"), 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1:j])
            i = j + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


def hyperfine_times(name, cmd, env, runs):
    """The wall-clock times (ms) of `runs` runs of cmd, by hyperfine (-N: no shell)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        args = ["hyperfine", "-N", "--style", "none", "--warmup", "1" if QUICK else "2",
                "--runs", str(runs), "--export-json", out.name, "--command-name", name, cmd]
        subprocess.run(args, check=True, env=env, cwd=WORKSPACE, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        return [t * 1000 for t in json.load(open(out.name))["results"][0]["times"]]


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def scenario(action, name, inputs, extra_env, place_binary):
    """Runs the action once to resolve every step's environment, puts the binary where the
    cache restore would, then times each step; returns the rows of its table."""
    defaults, steps = action_steps(action)
    work = tempfile.mkdtemp(prefix="oci-stamp-action-bench-")
    temp, tool_cache = os.path.join(work, "temp"), os.path.join(work, "tool-cache")
    os.makedirs(temp)
    os.makedirs(tool_cache)
    env_of, outputs = {}, {}
    for step in steps:
        if step["run"] is None:
            continue
        sid = step["id"]
        files = os.path.join(temp, "_runner_file_commands", sid)
        os.makedirs(files, exist_ok=True)
        env = dict(BASE_ENV)
        env.update({
            "GITHUB_ACTION_PATH": action, "GITHUB_WORKSPACE": WORKSPACE,
            "GITHUB_REPOSITORY": "example/oci-stamp",
            "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": temp, "RUNNER_TOOL_CACHE": tool_cache,
        })
        for f in ("OUTPUT", "ENV", "PATH", "STATE", "STEP_SUMMARY"):
            env[f"GITHUB_{f}"] = os.path.join(files, f"{f.lower()}_{sid}")
            open(env[f"GITHUB_{f}"], "w").close()
        env.update(extra_env)
        for key, value in step["env"].items():
            m = re.match(r"^\$\{\{ inputs\.([a-z-]+) \}\}$", value)
            s = re.match(r"^\$\{\{ steps\.([a-z-]+)\.outputs\.([a-z-]+) \}\}$", value)
            if m:
                env[key] = inputs.get(m.group(1), defaults[m.group(1)])
            elif s:
                env[key] = outputs.get(s.group(1), {}).get(s.group(2), "")
            else:
                sys.exit(f"env {key}: {value} is not an input or a step output")
        script = os.path.join(files, f"{sid}.sh")
        open(script, "w").write(step["run"] + "\n")
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
                              env=env, cwd=WORKSPACE, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{name}: step {sid} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        if sid == "install" and place_binary and "is there already" not in done.stdout:
            sys.exit(f"{name}: the install step did not find the binary in place:\n{done.stdout}")
        outputs[sid] = read_outputs(env["GITHUB_OUTPUT"])
        env_of[sid] = (env, script)
        if sid == "plan" and place_binary:
            # The cache hit: the restore put the binary at the plan's `bin`.
            bin_path = outputs["plan"]["bin"]
            os.makedirs(os.path.dirname(bin_path), exist_ok=True)
            shutil.copy2(BIN, bin_path)

    # The binary alone, with the settings the run step gives it.
    run_env = dict(env_of["run"][0])
    for key, var in (("INPUT_ANNOTATIONS", "OCI_STAMP_ANNOTATION"), ("INPUT_LEVELS", "OCI_STAMP_LEVEL"),
                     ("INPUT_CREATED", "OCI_STAMP_CREATED"), ("INPUT_BAKE_TARGET", "OCI_STAMP_BAKE_TARGET")):
        if run_env.get(key):
            run_env[var] = run_env[key]
    bash = "bash --noprofile --norc -eo pipefail "
    items = [("binary", f"{BIN} collect --format github", run_env)]
    for step in steps:
        if step["run"] is not None:
            env, script = env_of[step["id"]]
            items.append((step["id"], bash + script, env))
    return items, work


def main():
    for tool in ("hyperfine", "bash"):
        if not shutil.which(tool):
            sys.exit(f"benches/action.py needs {tool}")
    if not os.path.exists(BIN):
        subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True)
    version = subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.split()[-1]
    scenarios = [
        ("`binary:` given (no restore)", {"binary": BIN}, {}, False),
        (f"release at `version: {version}`, cache hit", {"version": version}, {}, True),
        ("built from source (`version: source`), cache hit", {"version": "source"}, {}, True),
    ]
    print("## The GitHub Action step (benches/action.py)\n")
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    print(f"{RUNS} runs per step in {ROUNDS} rounds after warm-ups; medians; load average at the start {' '.join(load)}; "
          f"workspace `{os.path.relpath(WORKSPACE, ROOT) if WORKSPACE.startswith(ROOT) else WORKSPACE}`.\n")
    print("| action | input | plan | install | run | action (sum) | binary alone | action − binary |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, inputs, extra, place in scenarios:
        prepared = [(action, *scenario(action, name, inputs, extra, place)) for action in ACTIONS]
        # Rounds, each timing every step of every copy in turn, so that a change of the
        # machine's load falls on all of them; medians over the pooled runs.
        times = {}
        for _ in range(ROUNDS):
            for action, items, _work in prepared:
                for label, cmd, env in items:
                    times.setdefault((action, label), []).extend(
                        hyperfine_times(label, cmd, env, RUNS // ROUNDS))
        base = median([t for (a, label), ts in times.items() if label == "binary" for t in ts])
        for action, items, work in prepared:
            steps = {label: median(times[(action, label)]) for label, _, _ in items if label != "binary"}
            total = sum(steps.values())
            cells = " | ".join(f"{steps[s]:.1f} ms" for s in ("plan", "install", "run"))
            label = "this checkout" if action == ROOT else f"`{action}`"
            print(f"| {label} | {name} | {cells} | {total:.1f} ms | {base:.1f} ms | {total - base:.1f} ms |",
                  flush=True)
            shutil.rmtree(work, ignore_errors=True)
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else ["?"] * 3
    print(f"\nLoad average at the end {' '.join(load)}.")


if __name__ == "__main__":
    main()
