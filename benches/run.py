#!/usr/bin/env python3
"""Runs the benchmarks and writes BENCHMARKS.md.

Every figure is a whole-process timing by hyperfine (Debian's package): several runs after
warm-ups, reported as median and min–max, with the ratio to a baseline measured in the same
run on the same repository. Peak RSS comes from getrusage of the child; the binary size is
the stripped release binary's.

Usage: benches/run.py [--quick] [--out FILE]
  --quick  small repositories and 3 runs each (what .ci/run does, so the suite cannot rot;
           nothing is asserted about the times)
"""

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = "--quick" in sys.argv
OUT = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else os.path.join(ROOT, "BENCHMARKS.md")
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
DATA = os.environ.get("BENCH_DIR", os.path.join(TARGET, "bench-data-quick" if QUICK else "bench-data"))
RUNS = 3 if QUICK else 20
BIN = os.path.join(TARGET, "release", "oci-stamp")
ENV = {k: v for k, v in os.environ.items()
       if not (k.startswith(("GITHUB_", "GITLAB", "CI_", "OCI_STAMP_", "BUILDKITE", "CIRCLE",
                             "TRAVIS", "BITBUCKET_", "SYSTEM_", "BUILD_"))
               or k in ("CI", "SOURCE_DATE_EPOCH", "JENKINS_URL", "TF_BUILD"))}
ENV.update({"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"})


def sh(*args, **kw):
    return subprocess.run(args, check=True, env=ENV, **kw)


def hyperfine(commands, prepare=None, runs=None):
    """Times commands side by side; returns {name: (median, min, max)} in milliseconds."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        args = ["hyperfine", "--style", "none", "--warmup", "1" if QUICK or runs else "3",
                "--runs", str(runs or RUNS), "--export-json", out.name]
        if prepare:
            args += ["--prepare", prepare]
        else:
            args.append("-N")
        for name, cmd in commands:
            args += ["--command-name", name, cmd]
        sh(*args, stdout=subprocess.DEVNULL)
        results = json.load(open(out.name))["results"]
    return {r["command"]: (r["median"] * 1000, r["min"] * 1000, r["max"] * 1000) for r in results}


def peak_rss_mb(cmd):
    """Peak RSS of one run of `cmd`, by GNU time (Debian's `time`): it forks from a small
    process, so the figure is the command's own, not a copy of this Python process."""
    if not os.path.exists("/usr/bin/time"):
        return None
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], env=ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True).stderr
    return int(out.strip().splitlines()[-1]) / 1024


def peak_heap_mb(cmd):
    """Peak heap (malloc'd memory) of one run, by valgrind's massif; None without valgrind.
    Peak RSS also counts file pages libgit2 maps (pack indexes); this is the process's own."""
    if not shutil.which("valgrind"):
        return None
    with tempfile.NamedTemporaryFile(suffix=".massif") as out:
        subprocess.run(["valgrind", "--tool=massif", f"--massif-out-file={out.name}", *cmd],
                       env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peaks = [int(l.split("=")[1]) for l in open(out.name) if l.startswith("mem_heap_B=")]
    return max(peaks, default=0) / (1024 * 1024)


rows = []


def table(title, timings, baseline=None):
    rows.append(f"\n### {title}\n")
    rows.append("| command | median | min–max | vs baseline |")
    rows.append("|---|---:|---:|---:|")
    base = timings.get(baseline, (None,))[0] if baseline else None
    for name, (med, lo, hi) in timings.items():
        ratio = f"{med / base:.2f}×" if base and name != baseline else ("1" if name == baseline else "")
        spread = "" if lo != lo else f"{lo:.1f}–{hi:.1f} ms"  # NaN: a derived row
        rows.append(f"| `{name}` | {med:.1f} ms | {spread} | {ratio} |")


def main():
    for tool in ("hyperfine", "git"):
        if not shutil.which(tool):
            sys.exit(f"benches/run.py needs {tool} (apt-get install {tool})")
    sh("cargo", "build", "--release", "--locked", "--quiet", cwd=ROOT)
    sh(sys.executable, os.path.join(HERE, "generate.py"), DATA, *(["--quick"] if QUICK else []))
    repos = ["small"] + ([] if QUICK else ["large"])
    ladder = [d for d in sorted(os.listdir(DATA), key=lambda d: (len(d), d)) if d.startswith("ladder-")]
    base = f"sh {HERE}/baseline.sh"

    for repo in repos + ladder:
        path = os.path.join(DATA, repo)
        table(f"Repository `{repo}`", hyperfine([
            ("baseline (git CLI, 6 processes)", f"{base} {path}"),
            ("oci-stamp flags", f"{BIN} flags -C {path}"),
            ("oci-stamp collect --format json", f"{BIN} collect --format json -C {path}"),
        ]), "baseline (git CLI, 6 processes)")

    # The process floor: `flags` against `git rev-parse HEAD` on every repository, without
    # and with a commit-graph. The graph goes in a `--shared` clone (same objects through
    # alternates, no checkout), so the generated repository itself stays graph-free.
    floor = {}
    # The license repositories hold one commit and a LICENSE file, as a project that
    # declares no license in a manifest: collection then detects the license from its text.
    for repo in repos + ([] if QUICK else ["mid"]) + ladder + ["license", "license-apache"]:
        path = os.path.join(DATA, repo)
        graph = os.path.join(DATA, "graph", repo)
        if not os.path.exists(os.path.join(graph, ".git", "objects", "info", "commit-graph")):
            shutil.rmtree(graph, ignore_errors=True)
            sh("git", "clone", "-q", "--shared", "--no-checkout", path, graph)
            sh("git", "-C", graph, "commit-graph", "write", "--reachable")
        # The graph clones have no work tree: on a license repository, whose cost is reading
        # its LICENSE, they would measure something else, so they are left out there.
        graphed = not repo.startswith("license")
        t = hyperfine([c for c in [
            ("git rev-parse HEAD", f"git -C {path} rev-parse HEAD"),
            ("oci-stamp flags (no commit-graph)", f"{BIN} flags -C {path}"),
            ("oci-stamp flags (commit-graph)", f"{BIN} flags -C {graph}") if graphed else None,
            # `-a version=1.0`, not `--version 1.0`: that is clap's own --version (it prints
            # the program's version and exits), which earlier runs measured by mistake.
            ("oci-stamp flags -a version=1.0 (no describe walk)", f"{BIN} flags -a version=1.0 -C {path}"),
            # What git itself takes to read the commits the bounded describe walk reads at
            # most (500 from HEAD): the cost of the walk, done by git.
            ("git rev-list -n 500 HEAD (no commit-graph)",
             f"git -c core.commitGraph=false -C {path} rev-list -n 500 HEAD"),
            ("git rev-list -n 500 HEAD (commit-graph)", f"git -C {graph} rev-list -n 500 HEAD")
            if graphed else None,
        ] if c])
        floor[repo] = t
        table(f"Process floor on `{repo}`", t, "git rev-parse HEAD")
        # What git itself takes to describe HEAD (unbounded: on `large` it walks the whole
        # history), with and without the graph; a few runs, it can take seconds. The license
        # repositories have no tag to describe.
        if repo.startswith("license"):
            continue
        table(f"`git describe --tags` on `{repo}`", hyperfine([
            ("git rev-parse HEAD", f"git -C {path} rev-parse HEAD"),
            ("git describe --tags (no commit-graph)", f"git -C {path} describe --tags"),
            ("git describe --tags (commit-graph)", f"git -C {graph} describe --tags"),
        ], runs=3), "git rev-parse HEAD")

    # The dirty check on each kind of index git writes, each in a `--shared` clone of the
    # same checkout, against `git status` on that clone in the same run.
    dirty_base = os.path.join(DATA, "small" if QUICK else "large")
    kinds = {
        "index v2": [],
        "index v3 (skip-worktree entries)": [["sparse-checkout", "set", "--no-cone", "/*", "!/src/d1*"],
                                             ["update-index", "--index-version", "3"]],
        "index v4": [["update-index", "--index-version", "4"]],
        "split index": [["update-index", "--split-index"]],
        # One skip-worktree entry invalidates the cached trees from the root down to its
        # directory, as on ruff's sparse checkout: staged changes are then found by reading
        # the trees on the way to that entry, the rest trusted to the cached tree.
        "cached root invalidated (one skip-worktree entry)": [
            ["update-index", "--skip-worktree", "src/d000/f00000.txt"]],
        "untracked cache": [["config", "core.untrackedCache", "true"],
                            ["update-index", "--untracked-cache"], ["status", "--porcelain"]],
        # The same v2 index with a commit-graph: the describe walk, the rest of collection's
        # cost, is then a fraction of what it is without one.
        "index v2 with a commit-graph": [["commit-graph", "write", "--reachable"]],
    }
    for kind, steps in kinds.items():
        clone = os.path.join(DATA, "index", os.path.basename(dirty_base) + "-" + kind.split(" (")[0].replace(" ", "-"))
        if not os.path.exists(clone):
            sh("git", "clone", "-q", "--shared", dirty_base, clone)
            for step in steps:
                sh("git", "-C", clone, *step, stdout=subprocess.DEVNULL)
            # Let every entry be older than the index, as a checkout settles; a second
            # later, two `git status` runs rewrite an index whose entries are still racily
            # clean, so that no timed run of either tool pays for that.
            sh("git", "-C", clone, "update-index", "-q", "--refresh")
            time.sleep(1.1)
            for _ in range(2):
                sh("git", "-C", clone, "status", "--porcelain", stdout=subprocess.DEVNULL)
        t = hyperfine([
            ("git status --porcelain --untracked-files=no", f"git -C {clone} status --porcelain --untracked-files=no"),
            ("oci-stamp collect --require-clean", f"{BIN} collect --format json --require-clean -C {clone}"),
            ("oci-stamp collect (no dirty check)", f"{BIN} collect --format json -C {clone}"),
        ])
        t["the dirty check alone (difference of medians)"] = (
            t["oci-stamp collect --require-clean"][0] - t["oci-stamp collect (no dirty check)"][0],
            float("nan"), float("nan"))
        table(f"Dirty check, {kind}, on `{os.path.basename(dirty_base)}`", t,
              "git status --porcelain --untracked-files=no")

    dirty_repo = os.path.join(DATA, "small" if QUICK else "large")
    dirty = hyperfine([
        ("git status --porcelain --untracked-files=no", f"git -C {dirty_repo} status --porcelain --untracked-files=no"),
        ("oci-stamp collect --require-clean", f"{BIN} collect --format json --require-clean -C {dirty_repo}"),
        ("oci-stamp collect (no dirty check)", f"{BIN} collect --format json -C {dirty_repo}"),
    ])
    with_check = dirty["oci-stamp collect --require-clean"]
    without = dirty["oci-stamp collect (no dirty check)"]
    # The dirty check's own cost: the difference of the two medians (no min-max for it).
    dirty["the dirty check alone (difference of medians)"] = (
        with_check[0] - without[0], float("nan"), float("nan"))
    table(f"Dirty check on `{os.path.basename(dirty_repo)}`", dirty,
          "git status --porcelain --untracked-files=no")

    lic = os.path.join(DATA, "license")
    apache = os.path.join(DATA, "license-apache")
    table("License: detected from a LICENSE file vs declared", hyperfine([
        ("declared (--licenses MIT)", f"{BIN} collect --format json --licenses MIT -C {lic}"),
        ("detected from LICENSE (MIT)", f"{BIN} collect --format json -C {lic}"),
        ("detected from LICENSE (Apache-2.0)", f"{BIN} collect --format json -C {apache}"),
    ]), "declared (--licenses MIT)")

    work = tempfile.mkdtemp(prefix="oci-stamp-bench-")
    try:
        n = len(json.load(open(os.path.join(DATA, "layout-1000", "blobs", "sha256",
                                            json.load(open(os.path.join(DATA, "layout-1000", "index.json")))["manifests"][0]["digest"].split(":")[1])))["manifests"])
        copy_big = f"rm -rf {work}/big && cp -r {DATA}/layout-1000 {work}/big"
        copy_one = f"rm -rf {work}/one && cp -r {DATA}/layout-single {work}/one"
        timings = {}
        if shutil.which("umoci"):
            timings.update(hyperfine([("umoci config --manifest.annotation (1 manifest)",
                                       f"umoci config --image {work}/one:latest --manifest.annotation com.example.k=v")],
                                     prepare=copy_one))
        timings.update(hyperfine([("oci-stamp annotate (1 manifest)",
                                   f"{BIN} annotate -C {lic} --licenses MIT {work}/one")], prepare=copy_one))
        timings.update(hyperfine([(f"oci-stamp annotate ({n} manifests in one index)",
                                   f"{BIN} annotate -C {lic} --licenses MIT {work}/big")], prepare=copy_big))
        copy_yaml = f"cp {DATA}/k8s-5000.yaml {work}/k8s.yaml"
        objects = open(os.path.join(DATA, "k8s-5000.yaml")).read().count("\nkind:")
        timings.update(hyperfine([(f"oci-stamp annotate ({objects}-object YAML)",
                                   f"{BIN} annotate -C {lic} --licenses MIT {work}/k8s.yaml")], prepare=copy_yaml))
        table("annotate (each run on a fresh copy)", timings,
              "umoci config --manifest.annotation (1 manifest)" if shutil.which("umoci") else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    rss_repos = ["small"] + ([] if QUICK else ["large"])
    rss = []
    for repo in rss_repos:
        path = os.path.join(DATA, repo)
        rss += [
            (f"`flags` on `{repo}`", [BIN, "flags", "-C", path]),
            (f"`flags -a version=1.0` on `{repo}` (no describe walk)",
             [BIN, "flags", "-a", "version=1.0", "-C", path]),
            (f"`collect --require-clean` on `{repo}`",
             [BIN, "collect", "--format", "json", "--require-clean", "-C", path]),
        ]
    rss.append(("`collect` with license detection (LICENSE-only repository)",
                [BIN, "collect", "--format", "json", "-C", lic]))
    if not QUICK:
        biggest = os.path.join(DATA, ladder[-1])
        rss.append((f"`flags` on `{ladder[-1]}`", [BIN, "flags", "-C", biggest]))
    rss = [(name, peak_rss_mb(cmd), peak_heap_mb(cmd)) for name, cmd in rss]
    show = lambda mb: "n/a (needs /usr/bin/time, valgrind)" if mb is None else f"{mb:.1f} MB"
    size = os.path.getsize(BIN) / (1024 * 1024)

    head = [
        "# Benchmarks",
        "",
        "Written by `benches/run.py`" + (" in quick mode (small inputs, 3 runs: not for quoting)" if QUICK else "")
        + f": {RUNS} runs per command after warm-ups, whole-process times by hyperfine, medians"
        " with min–max, ratios to the baseline measured in the same run.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
        + subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout.strip() + ".",
        "",
        f"Release binary (stripped): {size:.1f} MB.",
        "",
        "| one run of | peak RSS (GNU time) | peak heap (valgrind massif) |",
        "|---|---:|---:|",
    ] + [f"| {name} | {show(mb)} | {show(heap)} |" for name, mb, heap in rss]
    notes = os.path.join(HERE, "NOTES.md")
    tail = ["", open(notes).read().rstrip()] if os.path.exists(notes) and not QUICK else []
    with open(OUT, "w") as f:
        f.write("\n".join(head + rows + tail) + "\n")
    print(open(OUT).read())


if __name__ == "__main__":
    main()
