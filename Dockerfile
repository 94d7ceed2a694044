# tokenroute's container images, two targets of one multi-stage build:
#   --target epp     the `tokenroute` CLI (epp, gateway, render, tokenize, filter): production
#                    node_modules only, non-root 65532, nothing written at run time (read-only
#                    root filesystem friendly); entrypoint `tokenroute`, default command `epp`.
#   --target filter  the edge filter as an OCI Wasm image: one layer holding /plugin.wasm, the
#                    "compat" image layout that Istio's WasmPlugin (oci://) and Envoy Gateway's
#                    EnvoyExtensionPolicy (image code source) both pull. One module carries every
#                    model family's tables (6.8 MB): a route picks its family in the filter's
#                    plugin configuration, so one image serves every pool and upgrades atomically.
#
# Base images are build arguments so the same file builds on a machine with a registry (the
# defaults, public images) and where none is reachable (scripts/images/build.sh makes local
# bases with debootstrap and passes them in):
#   BUILD_IMAGE    Node.js 20 with npm and a shell (glibc; unzip is installed if missing)
#   RUNTIME_IMAGE  glibc + libstdc++ and a nonroot user 65532, no shell needed
ARG BUILD_IMAGE=docker.io/library/node:20-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
RUN command -v unzip >/dev/null || (apt-get update && apt-get install -y --no-install-recommends unzip && rm -rf /var/lib/apt/lists/*)
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The lockfile stamp makes the build's own install check a no-op; Envoy's protos come from the
# context's .cache/envoy-api when present, else from Maven Central (scripts/fetch-envoy-protos.mjs).
RUN node -e "const c=require('crypto'),f=require('fs');f.writeFileSync('node_modules/.tokenroute-lock-sha256',c.createHash('sha256').update(f.readFileSync('package-lock.json')).digest('hex'))" \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && mkdir -p /out/app/dist /out/app/filter/build /out/app/protos \
 && cp -r package.json node_modules /out/app/ \
 && cp -r dist/cli dist/epp dist/gateway dist/filter /out/app/dist/ \
 && cp filter/build/filter.wasm filter/build/tokenroute-core.wasm /out/app/filter/build/ \
 && cp -r .cache/envoy-api/. /out/app/protos/ \
 && find /out/app/dist -name '*.map' -delete

FROM scratch AS filter
COPY --from=build /src/filter/build/filter.wasm /plugin.wasm

FROM ${RUNTIME_IMAGE} AS epp
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /out/app /app
ENV NODE_ENV=production \
    TOKENROUTE_ENVOY_PROTO_DIR=/app/protos
WORKDIR /app
USER 65532:65532
# Ports (GIE's): 9002 ext_proc gRPC, 9003 gRPC health, 9090 /metrics. Not EXPOSEd: podman's
# Docker API lists every EXPOSEd port as an unbound port binding, which clients waiting for
# their published ports (testcontainers) take as "not bound yet".
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/tokenroute.js"]
CMD ["epp"]
