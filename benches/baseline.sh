#!/bin/sh
# The git-CLI way a Makefile gets provenance today, for comparison: one process per fact.
# Prints the same facts oci-stamp collects, as KEY=VALUE lines.
set -u
cd "${1:-.}"
echo "revision=$(git rev-parse HEAD)"
echo "branch=$(git symbolic-ref --short -q HEAD)"
echo "source=$(git config --get remote.origin.url)"
echo "version=$(git describe --tags 2>/dev/null)"
echo "created=$(git log -1 --format=%ct)"
echo "dirty=$(test -z "$(git status --porcelain --untracked-files=no)" && echo false || echo true)"
