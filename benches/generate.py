#!/usr/bin/env python3
"""Builds the synthetic repositories and images the benchmarks run on.

Repositories are written with `git fast-import` from a seeded stream, so every run builds
the same history, byte for byte, in seconds:

  small     100 commits, 50 files, a tag 10 commits back
  large     200,000 commits, 20,000 files at HEAD, 5,000 annotated tags in packed-refs,
            HEAD 50,000 commits past the newest tag
  ladder-N  N commits (10k, 100k, 1M) over the same 50-file tree, one tag at the root
  mid       60,000 commits, 2,000 files, 1,334 tags on every 30th of the first 40,000
            commits: HEAD 20,000 commits past the newest tag (describe walks its bound)
  license   one commit holding only an MIT LICENSE file (no declared license)
  license-apache  the same with the Apache-2.0 text (the project's LICENSE-APACHE)

plus `layout-1000` (an OCI layout with 1,000 image manifests in one index),
`layout-single` (one manifest, for the umoci comparison) and `k8s-5000.yaml`.

Usage: generate.py OUTDIR [--quick]   (--quick: small, ladder-10000, license, small images)
"""

import hashlib
import json
import os
import random
import subprocess
import sys

EPOCH = 1_700_000_000
ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}


def run(*args, cwd=None, stdin=None):
    subprocess.run(args, cwd=cwd, env=ENV, check=True, stdin=stdin,
                   stdout=subprocess.DEVNULL)


def blob_data(text):
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def fast_import(path, commits, files, tags_every=None, tag_limit=None, tag_at=None):
    """Writes a repository at `path` with `commits` commits over `files` files.

    The first commit creates every file; each later commit changes one of them. Annotated
    tags go on every `tags_every`-th commit up to commit `tag_limit`, or on commit `tag_at`.
    """
    if os.path.exists(os.path.join(path, ".git")):
        return
    os.makedirs(path, exist_ok=True)
    run("git", "init", "-q", "-b", "main", path)
    rng = random.Random(f"{path}:{commits}:{files}")
    proc = subprocess.Popen(["git", "fast-import", "--quiet", "--done"], cwd=path,
                            env=ENV, stdin=subprocess.PIPE)
    out = proc.stdin
    for i in range(commits):
        when = EPOCH + i * 60
        out.write(b"commit refs/heads/main\n")
        out.write(b"mark :%d\n" % (i + 1))
        out.write(b"committer Bench <bench@example.com> %d +0000\n" % when)
        out.write(blob_data(f"commit {i}"))
        if i == 0:
            for f in range(files):
                out.write(b"M 100644 inline src/d%03d/f%05d.txt\n" % (f % 200, f))
                out.write(blob_data(f"file {f} seed {rng.random()}"))
        else:
            out.write(b"from :%d\n" % i)
            f = rng.randrange(files)
            out.write(b"M 100644 inline src/d%03d/f%05d.txt\n" % (f % 200, f))
            out.write(blob_data(f"file {f} rev {i}"))
        tagged = (tags_every and i % tags_every == 0 and i <= tag_limit) or i == tag_at
        if tagged:
            out.write(b"tag v%d.%d.%d\n" % (i // 10000, (i // 100) % 100, i % 100))
            out.write(b"from :%d\n" % (i + 1))
            out.write(b"tagger Bench <bench@example.com> %d +0000\n" % when)
            out.write(blob_data(f"release at commit {i}"))
    out.write(b"done\n")
    out.close()
    if proc.wait() != 0:
        sys.exit(f"git fast-import failed for {path}")
    run("git", "pack-refs", "--all", cwd=path)
    run("git", "reset", "-q", "--hard", "main", cwd=path)
    run("git", "remote", "add", "origin", "git@github.com:example/bench.git", cwd=path)


def license_repo(path, mit_text):
    if os.path.exists(os.path.join(path, ".git")):
        return
    os.makedirs(path, exist_ok=True)
    run("git", "init", "-q", "-b", "main", path)
    with open(os.path.join(path, "LICENSE"), "w") as f:
        f.write(mit_text)
    run("git", "add", "LICENSE", cwd=path)
    env_date = f"@{EPOCH} +0000"
    subprocess.run(["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.com",
                    "commit", "-q", "-m", "license"], cwd=path, check=True,
                   env={**ENV, "GIT_AUTHOR_DATE": env_date, "GIT_COMMITTER_DATE": env_date})


def write_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}


def layout(path, manifests):
    """An OCI layout: one index of `manifests` image manifests, each its own platform variant."""
    if os.path.exists(os.path.join(path, "index.json")):
        return
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    layer = write_blob(path, b"\x1f\x8b" + b"\0" * 30)
    entries = []
    for i in range(manifests):
        config = write_blob(path, json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": [f"N={i}"]},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "0" * 64]},
        }, indent=2).encode())
        manifest = write_blob(path, json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
        }, indent=2).encode())
        entries.append({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
            "platform": {"architecture": "amd64", "os": "linux", "variant": f"v{i}"},
        })
    if manifests == 1:
        index_json = {"schemaVersion": 2, "manifests": [
            {**entries[0], "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    else:
        index = write_blob(path, json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }, indent=2).encode())
        index_json = {"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json", **index,
             "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump(index_json, f, indent=2)


def kube_yaml(path, objects):
    if os.path.exists(path):
        return
    with open(path, "w") as f:
        for i in range(objects):
            f.write(f"""---
# object {i}
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{i}
  labels:
    app: bench
data:
  key: "value {i}"
""")


def main():
    out = sys.argv[1]
    quick = "--quick" in sys.argv
    os.makedirs(out, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "LICENSE-MIT")) as f:
        mit = f.read()
    fast_import(os.path.join(out, "small"), 100, 50, tag_at=89)
    license_repo(os.path.join(out, "license"), mit)
    # The Apache-2.0 text, as most Go and Java projects ship it (LICENSE only, nothing
    # declared): a long text, whose reading is a larger share of detection than MIT's.
    with open(os.path.join(here, "..", "LICENSE-APACHE")) as f:
        license_repo(os.path.join(out, "license-apache"), f.read())
    ladder = [10_000] if quick else [10_000, 100_000, 1_000_000]
    for n in ladder:
        fast_import(os.path.join(out, f"ladder-{n}"), n, 50, tag_at=0)
    if not quick:
        fast_import(os.path.join(out, "mid"), 60_000, 2_000, tags_every=30, tag_limit=39_999)
        # 5,000 tags on every 30th commit of the first 150,000; HEAD 50,000 past the last
        fast_import(os.path.join(out, "large"), 200_000, 20_000, tags_every=30,
                    tag_limit=149_999)
    layout(os.path.join(out, "layout-single"), 1)
    layout(os.path.join(out, "layout-1000"), 100 if quick else 1000)
    kube_yaml(os.path.join(out, "k8s-5000.yaml"), 500 if quick else 5000)


if __name__ == "__main__":
    main()
