# syntax=docker/dockerfile:1
# The IRONFORGE processor as a container image: docker build -t ironforge-processor .
# The replay of the bundled sessions, as the stack's one-shot job: docker build --target replay -t ironforge-replay .

# Build stage: the workspace's minimum Rust, on the same Debian release as the runtime so glibc matches.
FROM rust:1.88-bookworm AS builder
WORKDIR /src
COPY . .
# Cache mounts keep the registry and compiled dependencies between builds; the binary is copied out in the
# same step because the target directory is not part of the image layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p ironforge-processor -p ironforge-replay \
    && install -D target/release/ironforge-processor /out/ironforge-processor \
    && install -D target/release/ironforge-replay /out/ironforge-replay

# The replay: its binary and the 57 session files it reads, sending to --endpoint (the stack's Collector).
FROM debian:bookworm-slim AS replay
COPY --from=builder /out/ironforge-replay /usr/local/bin/ironforge-replay
COPY fixtures/ironforge/sessions /usr/share/ironforge/sessions
USER 10001
ENTRYPOINT ["/usr/local/bin/ironforge-replay", "--sessions-dir", "/usr/share/ironforge/sessions"]

# Runtime stage, the default target: only the processor binary, run as an unprivileged user (uid 10001, no
# shell login, no home), in a working directory it owns so the default data directory (data/) can be created.
FROM debian:bookworm-slim
# CA certificates for an https:// --logs-endpoint.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin ironforge \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/ironforge
COPY --from=builder /out/ironforge-processor /usr/local/bin/ironforge-processor
USER 10001
WORKDIR /var/lib/ironforge
# Outside a container the processor binds loopback only. Here OTLP must listen on every interface for other
# containers (and published ports) to reach it, and so must a scraper's view of the metrics: the metrics
# listener serves /metrics, /healthz and /readyz and nothing else. The admin API (/api/v1/*) stays on the
# container's loopback; widen it deliberately, with IRONFORGE_API_TOKEN_FILE set. Set
# IRONFORGE_INGEST_TOKEN_FILE (and IRONFORGE_TLS_*) before exposing OTLP beyond a private network.
ENV IRONFORGE_OTLP_GRPC_ADDR=0.0.0.0:4317 \
    IRONFORGE_OTLP_HTTP_ADDR=0.0.0.0:4318 \
    IRONFORGE_ADMIN_ADDR=127.0.0.1:9464 \
    IRONFORGE_METRICS_ADDR=0.0.0.0:9465
# OTLP/gRPC (and the monitor's gRPC API), OTLP/HTTP, metrics.
EXPOSE 4317 4318 9465
ENTRYPOINT ["/usr/local/bin/ironforge-processor"]
