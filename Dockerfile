# ward: multi-stage image. Build:   docker build -t ward .      (or podman build --format docker -t ward .)
# The base must carry Node.js 20 and npm on PATH; BASE_IMAGE lets an offline build use a local one
# (test/container/build-base.sh makes such a base from Debian bookworm and the machine's own Node.js).
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, compile TypeScript to dist/ -----------------------------------------------------
FROM ${BASE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (the build) needs the sources, copied below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
RUN npm run build

# ---- production dependencies only -----------------------------------------------------------------------------
FROM ${BASE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc, a dev dependency that is not installed here; dist/ comes from `build`.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime ----------------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# ward runs as its own unprivileged user; nothing in /app is writable by it, only the evidence volume.
RUN groupadd --system ward \
  && useradd --system --gid ward --home-dir /var/lib/ward --no-create-home --shell /usr/sbin/nologin ward \
  && mkdir -p /var/lib/ward/evidence /etc/ward \
  && chown -R ward:ward /var/lib/ward
WORKDIR /app
ENV NODE_ENV=production \
    PORT=3000 \
    WARD_BIND=0.0.0.0 \
    WARD_EVIDENCE_DIR=/var/lib/ward/evidence
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY slack ./slack
USER ward
EXPOSE 3000
# Evidence bundles (forensics tarballs and manifests). Keep it: it is the chain of custody.
VOLUME ["/var/lib/ward/evidence"]
# /healthz answers 200 while the process serves HTTP (/readyz also checks Redis and the Slack token).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/src/main.js"]
