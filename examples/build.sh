#!/bin/sh
# Building from a POSIX shell script without eval: NUL-separated arguments through xargs -0
# keep every value intact, whatever it contains. DOCKER may name another build command.
set -eu
: "${OCI_STAMP:=oci-stamp}" "${DOCKER:=docker}" "${IMAGE:=example/hello:dev}"
"$OCI_STAMP" flags -0 --level index,manifest --labels |
  xargs -0 "$DOCKER" buildx build --tag "$IMAGE" "${1:-.}"
