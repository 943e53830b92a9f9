# syntax=docker/dockerfile:1
#
# Ipê FHIR R4 server.
#
#   docker build -t ipe .
#   docker run -p 8080:8080 -v ipe-data:/data ipe
#
# With no settings it serves on :8080 with an embedded SQLite database in the
# /data volume; point IPE_DATABASE_URL at PostgreSQL for real deployments, e.g.
#   docker run -p 8080:8080 -e IPE_DATABASE_URL=postgres://ipe:secret@db:5432/ipe ipe

# --- 1. the build's manifests only -------------------------------------------
# Every Cargo.toml / Cargo.lock of the workspace, at its own path, and nothing
# else. When only sources change this stage's output is byte-identical, so the
# dependency layer in the builder below stays cached. (COPY with a wildcard
# would flatten crates/*/Cargo.toml into one folder, hence this stage.)
FROM debian:bookworm-slim AS manifests
WORKDIR /src
COPY . .
RUN find . -type f ! -name Cargo.toml ! -name Cargo.lock ! -name 'rust-toolchain*' \
        ! -path './.cargo/*' -delete \
 && find . -mindepth 1 -depth -type d -empty -delete

# --- 2. build ------------------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /build
ENV CARGO_TERM_COLOR=never \
    CARGO_INCREMENTAL=0 \
    SQLX_OFFLINE=true

# Dependencies first, against stub sources: this layer is rebuilt only when a
# manifest or the lock file changes. It is an optimisation only: if it fails
# (say a manifest names a target path the stubs don't provide) the full build
# below still compiles everything.
COPY --from=manifests /src/ ./
RUN set -eux; \
    mkdir -p src; \
    echo 'fn main() {}' > src/main.rs; \
    : > src/lib.rs; \
    mkdir -p benches; \
    echo 'fn main() {}' > benches/rest.rs; \
    for manifest in crates/*/Cargo.toml; do \
        [ -e "$manifest" ] || continue; \
        dir="${manifest%/Cargo.toml}"; \
        mkdir -p "$dir/src"; \
        : > "$dir/src/lib.rs"; \
    done; \
    cargo build --release --bin ipe \
        || echo 'warning: dependency pre-build failed; the full build compiles everything'; \
    rm -rf src benches crates/*/src

# The real sources, plus what the binary embeds at compile time
# (conformance/ via include_bytes!, migrations/ via sqlx::migrate!) — the
# whole context minus .dockerignore.
COPY . .
# Make every source newer than the stub build's records: COPY keeps the files'
# own (older) mtimes, and cargo would otherwise take the stub crates as fresh.
RUN set -eux; \
    find . -path ./target -prune -o -type f -exec touch {} +; \
    cargo build --release --bin ipe; \
    install -m 0755 target/release/ipe /usr/local/bin/ipe; \
    ldd /usr/local/bin/ipe || true

# --- 3. runtime ----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
LABEL org.opencontainers.image.title="Ipê" \
      org.opencontainers.image.description="FHIR R4 server on PostgreSQL and SQLite" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends ca-certificates; \
    rm -rf /var/lib/apt/lists/*; \
    groupadd --system --gid 10001 ipe; \
    useradd --system --uid 10001 --gid ipe --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin ipe; \
    mkdir -p /data; \
    chown ipe:ipe /data

COPY --from=builder /usr/local/bin/ipe /usr/local/bin/ipe

ENV IPE_DATABASE_URL=sqlite:/data/ipe.db \
    IPE_HOST=0.0.0.0 \
    IPE_PORT=8080

USER ipe:ipe
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080

ENTRYPOINT ["/usr/local/bin/ipe"]
CMD ["serve"]
