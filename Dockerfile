# syntax=docker/dockerfile:1
#
# commandbridge-operator image: a release build on Debian bookworm, run on distroless
# cc-debian12 (glibc and CA certificates, no shell, no package manager) as UID 65532.
#
#   docker build -t commandbridge-operator:dev .
#   docker run --rm commandbridge-operator:dev crd
#
# The base images are pinned by tag; pin them by digest as well in a release pipeline
# (docker buildx imagetools inspect <image> prints the digest).

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src

# The release profile (size-optimised, thin LTO, stripped) is set in Cargo.toml.
ENV CARGO_TERM_COLOR=never

COPY Cargo.toml Cargo.lock ./
COPY testenv testenv
COPY src src

# The registry and target folders are BuildKit cache mounts: a rebuild after a change to src/
# recompiles only the operator's crate. A cache mount is not part of the image, so the binary
# is copied out in the same step. testenv is a workspace member, so it must be present for
# the workspace to load, but it is not built.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin commandbridge-operator \
    && install -D -m 0755 target/release/commandbridge-operator /out/commandbridge-operator \
    && /out/commandbridge-operator --help >/dev/null

FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="commandbridge-operator" \
      org.opencontainers.image.description="Regional failover and maintenance mode operator for the ScotAccount platform" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build --chown=65532:65532 /out/commandbridge-operator /commandbridge-operator

USER 65532:65532
EXPOSE 8080

# Kubernetes probes /healthz and /readyz on port 8080 (see the chart); the image has no shell
# or HTTP client for a Docker HEALTHCHECK to run.
#checkov:skip=CKV_DOCKER_2:Liveness and readiness are Kubernetes probes on /healthz and /readyz; the distroless image has no program a HEALTHCHECK could run.
ENTRYPOINT ["/commandbridge-operator"]
CMD ["run"]
