# rollcalld in a container (docs/install.md, "Docker"):
#
#   docker build -t rollcall .
#   docker run -d --name rollcall -p 3000:3000 --stop-timeout 20 \
#     -v rollcall-data:/var/lib/rollcall \
#     -v "$PWD/rollcall.toml:/etc/rollcall/rollcall.toml:ro" \
#     -e ROLLCALL_AUTH_JWT_SECRET=... -e ROLLCALL_ADMIN_KEY=... \
#     rollcall
#
# Without a config file of yours the image runs its own (below): every
# interface, data in the volume, JSON logs.

# --- build: the Debian packages and npm package of scripts/deps.sh --------
FROM debian:12 AS build
WORKDIR /src
# Dependencies first, in their own layers: they change far less than the code.
# deps.sh installs the build packages with apt (including Node.js and npm),
# unpacks msgpack-c's headers, and runs `npm ci` in src/app/web: the build
# embeds its node_modules/socket.io-client/dist/socket.io.min.js.
COPY scripts/deps.sh scripts/
COPY src/app/web/package.json src/app/web/package-lock.json src/app/web/
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
# .dockerignore keeps build trees and node_modules of the checkout out.
COPY . .
# Only the daemon, built as scripts/build.sh release builds it (RelWithDebInfo,
# the build the benchmarks measure), then stripped. Parallel jobs default to
# the cores; compiling the Asio/Beast sources takes a lot of memory per job,
# so lower BUILD_JOBS (--build-arg BUILD_JOBS=1) on a small builder.
ARG BUILD_JOBS=
RUN test -f src/app/web/node_modules/socket.io-client/dist/socket.io.min.js \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DROLLCALL_TESTS=OFF -DROLLCALL_BENCH=OFF -DROLLCALL_INSTALL=OFF \
 && cmake --build build --target rollcalld --parallel ${BUILD_JOBS:-$(nproc)} \
 && strip build/bin/rollcalld \
 && build/bin/rollcalld --help >/dev/null

# --- run: the runtime libraries rollcalld links, nothing else -------------
# The packages own the binary's NEEDED libraries (readelf -d), and are what
# the -dev packages of deps.sh depend on: libssl-dev -> libssl3,
# libboost-{json,url}1.81-dev -> libboost-{json,url}1.81.0, libspdlog-dev ->
# libspdlog1.10, libfmt-dev -> libfmt9, libtomlplusplus-dev ->
# libtomlplusplus3, libhiredis-dev -> libhiredis0.14, libsqlite3-dev ->
# libsqlite3-0, libpq-dev -> libpq5. CLI11, msgpack-c and Asio/Beast are
# header-only. ca-certificates: HTTPS webhooks and rediss:// verify peers.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libboost-json1.81.0 libboost-url1.81.0 libspdlog1.10 libfmt9 \
      libtomlplusplus3 libhiredis0.14 libsqlite3-0 libpq5 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 rollcall \
 && useradd --system --uid 10001 --gid rollcall --home-dir /var/lib/rollcall \
      --no-create-home --shell /usr/sbin/nologin rollcall \
 && install -d -o rollcall -g rollcall -m 0700 /var/lib/rollcall \
 && install -d -m 0755 /etc/rollcall
COPY --from=build /src/build/bin/rollcalld /usr/local/bin/rollcalld
COPY packaging/rollcall.toml.example /usr/local/share/doc/rollcall/rollcall.toml.example
# The image's default configuration; mount yours over it. Secrets come from
# the environment (ROLLCALL_<TABLE>_<KEY>), not from this file.
RUN printf '%s\n' \
      '# The image default (docs/install.md). Mount your own over this file.' \
      '[server]' 'listen = "0.0.0.0:3000"' 'data_dir = "/var/lib/rollcall"' '' \
      '[log]' 'format = "json"' > /etc/rollcall/rollcall.toml \
 && /usr/local/bin/rollcalld --check-config /etc/rollcall/rollcall.toml
USER rollcall:rollcall
WORKDIR /var/lib/rollcall
VOLUME ["/var/lib/rollcall"]
EXPOSE 3000
# Liveness from inside the image, with bash's /dev/tcp (the slim image has no
# curl or wget): GET /healthz on port 3000 must answer 200. Change the port
# here (or --health-cmd) if you listen on another one.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3000 && printf 'GET /healthz HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && IFS= read -r -t 4 status <&3 && [[ $status == *' 200 '* ]]"]
# SIGTERM drains within server.drain_ms (10 s): give `docker stop` more than
# its default 10 s (`docker stop -t 20`, `--stop-timeout 20`, compose's
# stop_grace_period: 20s). rollcalld handles signals itself as PID 1.
STOPSIGNAL SIGTERM
# The flags win over the file: the default command listens on every
# interface; pass your own command (e.g. `--listen 0.0.0.0:8080`,
# `--print-config`, `--check-config /etc/rollcall/rollcall.toml`) to replace it.
ENTRYPOINT ["/usr/local/bin/rollcalld", "--config", "/etc/rollcall/rollcall.toml"]
CMD ["--listen", "0.0.0.0:3000"]
