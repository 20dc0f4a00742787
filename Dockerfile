# syntax=docker/dockerfile:1
#
# The `entra` binary in a small image, run as a non-root user:
#
#   docker build -t entra .
#   docker run --rm -p 8000:8000 -p 8080:8080 -p 9000:9000 -p 9443:9443 entra demo
#   docker run --rm -p 8080:8080 -e AZURE_AUTHORITY_HOST=https://login.microsoftonline.com \
#     -e AZURE_TENANT_ID=... -e AZURE_CLIENT_ID=... entra api
#   docker run --rm -p 9000:9000 -e ENTRA_EMULATOR_ADMIN_TOKEN=... entra emulator
#
# Inside the container the servers listen on 0.0.0.0 (ENTRA_BIND below); the
# binary's own default stays 127.0.0.1. Beyond loopback the emulator's
# administration API needs a bearer token: `entra emulator` refuses to start
# without ENTRA_EMULATOR_ADMIN_TOKEN, and `entra demo` closes it with a random
# token nobody is told unless that variable is set. The runtime contract below
# (user, variables, /data, probes) is tested on the binary itself:
# crates/entra-cli/tests/it/container.rs reads this file.

# --- build -------------------------------------------------------------------
FROM rust:1.95-trixie AS build
WORKDIR /src
# Only what the workspace needs to build (.dockerignore keeps the rest out);
# README.md is a crate's documentation.
COPY Cargo.toml Cargo.lock README.md ./
COPY crates crates
COPY xtask xtask
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p entra-cli \
    && install -D -m 0755 target/release/entra /out/usr/local/bin/entra \
    && install -d -m 0700 /out/data

# --- run ---------------------------------------------------------------------
# glibc and libgcc only, no shell, no package manager; the same Debian release
# as the build stage.
FROM gcr.io/distroless/cc-debian13:nonroot
LABEL org.opencontainers.image.title="entra" \
      org.opencontainers.image.description="Secure web APIs with Microsoft Entra ID: entra demo, api, web, emulator" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.source="https://github.com/entra-rs/entra"
COPY --from=build /out/usr/local/bin/entra /usr/local/bin/entra
# The data directory belongs to the user the servers run as (distroless
# "nonroot"); everything else in the image is read-only to it.
COPY --from=build --chown=65532:65532 /out/data /data
# ENTRA_BIND: every server listens on all interfaces, unless its own variable
# (API_BIND, WEB_BIND, ENTRA_EMULATOR_BIND) says otherwise.
# ENTRA_HEALTH_URL: the liveness URL of each command on its default port
# (web app or demo, API, emulator); the health check passes when the one the
# container runs answers. Change it with the ports (API_PORT...).
ENV ENTRA_BIND=0.0.0.0 \
    ENTRA_DATA_DIR=/data \
    ENTRA_HEALTH_URL=http://127.0.0.1:8000/health/live,http://127.0.0.1:8080/health/live,http://127.0.0.1:9000/common/v2.0/.well-known/openid-configuration
VOLUME ["/data"]
# A working directory the servers cannot write: only /data is theirs (a .env
# file is read from here; mount one read-only if you want one).
WORKDIR /
USER 65532:65532
# web app, API, emulator (http, https)
EXPOSE 8000 8080 9000 9443
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["entra", "health", "--any", "--timeout", "3"]
ENTRYPOINT ["entra"]
CMD ["demo"]
