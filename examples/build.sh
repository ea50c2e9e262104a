#!/bin/sh
# Building from a POSIX shell script without eval: NUL-separated arguments through xargs -0
# keep every value intact, whatever it contains. DOCKER may name another build command.
# The flags go through a file, not a pipe: a pipeline's status is its last command's, so a
# refused collection (`--require`, a bad value) would still run an unstamped build.
set -eu
: "${OCI_STAMP:=oci-stamp}" "${DOCKER:=docker}" "${IMAGE:=example/hello:dev}"
flags=$(mktemp)
trap 'rm -f "$flags"' EXIT
# One platform: no image index, so `manifest` (buildx refuses `index` for it).
"$OCI_STAMP" flags -0 --level manifest --labels > "$flags"
xargs -0 "$DOCKER" buildx build --tag "$IMAGE" "${1:-.}" < "$flags"
