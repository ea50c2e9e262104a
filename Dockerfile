# syntax=docker/dockerfile:1
# oci-stamp in a container: a static binary on an empty base, run as an unprivileged user in
# /src, where the checkout to describe is mounted:
#
#   docker build -t oci-stamp .
#   docker run --rm -v "$PWD:/src" oci-stamp collect --explain
#
# The mounted checkout belongs to another user (the host's); oci-stamp reads it anyway (git
# itself would refuse it as "dubious ownership"; see README.md).
#
# BINARY=build (the default) compiles from this context, for the platform being built.
# BINARY=prebuilt takes the release's static binaries from a build context named `dist`
# holding linux-amd64/oci-stamp and linux-arm64/oci-stamp, so a multi-platform image needs no
# emulated compile (.github/workflows/release.yml):
#
#   docker buildx build --platform linux/amd64,linux/arm64 \
#     --build-arg BINARY=prebuilt --build-context dist=dist .
#
# .ci/image builds the same image without a daemon (umoci), and tests/integration/image.rs
# checks it.
ARG RUST_VERSION=1.89
ARG BINARY=build

# Alpine's Rust targets musl, which links statically by default.
FROM rust:${RUST_VERSION}-alpine AS build
RUN apk add --no-cache musl-dev
WORKDIR /build
COPY . .
RUN cargo build --release --locked \
 && install -m 755 target/release/oci-stamp /oci-stamp \
 && /oci-stamp --version

FROM scratch AS prebuilt
ARG TARGETARCH
COPY --from=dist --chmod=755 linux-${TARGETARCH}/oci-stamp /oci-stamp

FROM ${BINARY} AS binary

FROM scratch
COPY --from=binary /oci-stamp /usr/local/bin/oci-stamp
ENV PATH=/usr/local/bin
WORKDIR /src
USER 65532:65532
ENTRYPOINT ["oci-stamp"]
