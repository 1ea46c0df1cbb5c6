# sluice in a minimal image: built with the official Bun image, run on
# distroless base-nossl (glibc and its loader, CA-free, no shell, non-root).
#
# Why not scratch or distroless/static: the compiled binary is a glibc
# executable that loads libc, libm, libpthread and libdl through
# /lib64/ld-linux-x86-64.so.2, and neither image has them. The musl builds
# need libstdc++ and libgcc_s as well, so they save nothing here. The runtime
# also needs /proc, which every container runtime mounts.
#
#   docker build -t sluice:0.1.0 .
#   docker run --rm -p 5001:5001 -p 9900:9900 -v "$PWD/config.toml:/etc/sluice/config.toml:ro" sluice:0.1.0
#
# scripts/container-smoke.sh proves the same layout without a registry: a
# root holding only the binary, those libraries, /proc and a config.

FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
RUN bun install --production
COPY src ./src
# The package's own build script; a stripped binary would run as plain Bun,
# so the version check below would catch one.
RUN bun run build && ./dist/sluice --version | grep -q '^sluice '

FROM gcr.io/distroless/base-nossl-debian12:nonroot
COPY --from=build /src/dist/sluice /usr/local/bin/sluice
COPY deploy/container/config.toml /etc/sluice/config.toml
USER 65532:65532
# The admin port, for readiness and liveness probes (no HEALTHCHECK: probes
# belong to the orchestrator). App ports depend on the config: publish them.
EXPOSE 9900
# SIGTERM drains open connections for shutdown_timeout, then exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/sluice"]
CMD ["-c", "/etc/sluice/config.toml"]
