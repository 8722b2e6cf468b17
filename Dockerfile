# rollcalld in a container (docs/install.md):
#   docker build -t rollcall .
#   docker run -p 3000:3000 -v $PWD/rollcall.toml:/etc/rollcall/rollcall.toml:ro \
#     -e ROLLCALL_AUTH_JWT_SECRET=... -v rollcall-data:/var/lib/rollcall rollcall
# Without a config file of yours it runs the image's default (below).

# --- build: the same packages and script as a checkout (scripts/deps.sh) ---
FROM debian:12 AS build
WORKDIR /src
COPY scripts/deps.sh scripts/
COPY src/app/web/package.json src/app/web/package-lock.json src/app/web/
RUN bash scripts/deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/deps.sh \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DROLLCALL_TESTS=OFF -DROLLCALL_BENCH=OFF \
 && cmake --build build --target rollcalld \
 && strip build/bin/rollcalld

# --- run: only the shared libraries rollcalld links against ---------------
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-url1.81.0 libfmt9 libhiredis0.14 libpq5 libspdlog1.10 \
      libsqlite3-0 libssl3 libtomlplusplus3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home-dir /var/lib/rollcall --shell /usr/sbin/nologin rollcall \
 && install -d -o rollcall -g rollcall -m 0700 /var/lib/rollcall \
 && install -d -m 0755 /etc/rollcall
COPY --from=build /src/build/bin/rollcalld /usr/local/bin/rollcalld
COPY packaging/rollcall.toml.example /usr/local/share/doc/rollcall/rollcall.toml.example
# The default: listen on every interface of the container, data in the volume.
RUN printf '[server]\nlisten = "0.0.0.0:3000"\ndata_dir = "/var/lib/rollcall"\n\n[log]\nformat = "json"\n' \
      > /etc/rollcall/rollcall.toml
USER rollcall
VOLUME /var/lib/rollcall
EXPOSE 3000
# SIGTERM drains (server.drain_ms, 10 s): give `docker stop -t 20` room.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rollcalld", "--config", "/etc/rollcall/rollcall.toml"]
