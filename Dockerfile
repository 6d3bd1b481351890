# botbox in a container: compiled in the Rust image, run in a slim Debian image as a plain user.
#
#   docker build -t botbox .
#   docker run -d --name botbox -e BOTBOX_TOKEN=123456:ABC... -v botbox-data:/data botbox
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
    && useradd --system --user-group --home-dir /data --shell /usr/sbin/nologin botbox \
    && mkdir -p /data /modules \
    && chown botbox:botbox /data
COPY --from=build /out/botbox /usr/local/bin/botbox
COPY --from=build /out/modules/ /modules/
USER botbox
WORKDIR /data
# The admin API (and /healthz, /metrics) listens on every interface of the container so that
# a port can be published; publish it on 127.0.0.1 only (compose.yaml does).
ENV BOTBOX_DATA_DIR=/data \
    BOTBOX_MODULES_DIR=/modules \
    BOTBOX_ADMIN_LISTEN=0.0.0.0:9180 \
    BOTBOX_LOG_FORMAT=json
VOLUME /data
EXPOSE 9180
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9180 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"]
ENTRYPOINT ["botbox"]
CMD ["run"]
