#!/bin/sh
# Building from a POSIX shell script without eval: NUL-separated arguments through xargs -0
# keep every value intact, whatever it contains. DOCKER may name another build command.
# The flags go through a file, not a pipe: a pipeline's status is its last command's, so a
# refused collection (`--require`, a bad value) would still run an unstamped build.
set -eu
: "${OCI_STAMP:=oci-stamp}" "${DOCKER:=docker}" "${IMAGE:=example/hello:dev}"
: "${PLATFORMS:=linux/amd64,linux/arm64}"
flags=$(mktemp)
trap 'rm -f "$flags"' EXIT
# Several platforms make an image index, so `index` annotations are accepted (for one
# platform, use `--level manifest`: buildx refuses `index` there). The index is pushed: the
# Docker engine's image store would refuse it.
"$OCI_STAMP" flags -0 --level index,manifest --labels > "$flags"
xargs -0 "$DOCKER" buildx build --tag "$IMAGE" --platform "$PLATFORMS" --push "${1:-.}" < "$flags"
