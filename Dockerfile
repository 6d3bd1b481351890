# botbox in a container: compiled in the Rust image, run in a slim Debian image as a plain user
# (uid 10001) that owns the only two folders it writes, /data and /modules; everything else is
# root's and read-only to it. The admin API listens on the container's own loopback.
#
#   docker build -t botbox .
#   docker run -d --name botbox --read-only --cap-drop ALL --security-opt no-new-privileges \
#       -e BOTBOX_TOKEN=123456:ABC... -v botbox-data:/data -v botbox-modules:/modules botbox
#
# Not built by botbox's CI (it has no container engine); see docs/operations.md, "Containers".

FROM rust:1-slim-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p botbox \
    && cd example-modules \
    && cargo build --release --locked --target wasm32-wasip2 \
    && mkdir -p /out/modules \
    && cp /src/target/release/botbox /out/ \
    && cp /src/example-modules/target/wasm32-wasip2/release/*.wasm /out/modules/

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 botbox \
    && useradd --system --uid 10001 --gid botbox --home-dir /data --shell /usr/sbin/nologin botbox \
    && mkdir -p /data /modules \
    && chown botbox:botbox /data /modules \
    && chmod 700 /data
COPY --from=build /out/botbox /usr/local/bin/botbox
# The example modules; /install from Telegram adds others here (a new volume starts with these).
COPY --from=build --chown=botbox:botbox /out/modules/ /modules/
# Numeric, so that an orchestrator can check it is not root.
USER 10001:10001
WORKDIR /data
# The admin API (and /healthz, /metrics) listens on the container's loopback only: the health
# check below and `docker exec botbox botbox ...` reach it, nothing outside does. To read
# /metrics from the host, set BOTBOX_ADMIN_LISTEN=0.0.0.0:9180 and publish the port on the
# host's loopback only (-p 127.0.0.1:9180:9180).
ENV BOTBOX_DATA_DIR=/data \
    BOTBOX_MODULES_DIR=/modules \
    BOTBOX_ADMIN_LISTEN=127.0.0.1:9180 \
    BOTBOX_LOG_FORMAT=json
VOLUME ["/data", "/modules"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9180 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["botbox"]
CMD ["run"]
