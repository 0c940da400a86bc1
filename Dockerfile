# syntax=docker/dockerfile:1
# One Dockerfile, one image per Tillstream service; SERVICE picks which
# (services/<SERVICE>), or SERVICE=cli for the operator CLI the compose
# files' init steps run (migrate, kafka provision).
#   docker build --build-arg SERVICE=ingest -t tillstream-ingest .
# The image runs the JavaScript `tsc -b` emitted with plain node, and holds
# only SERVICE's production dependencies and the workspaces it imports: no
# TypeScript sources, no tsx, no dev or test dependencies (Chromium's driver).
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Compile every workspace a service image can need.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services
# npm's download cache survives between builds (BuildKit cache mount), not in the image.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
RUN npx tsc -b packages/cli services/*

# 2. /deploy (the quoted heredoc goes to sh as it is; SERVICE is in its
#    environment): SERVICE's production dependencies (npm ci of that workspace
#    alone, from the same lockfile), the workspaces it links, without their
#    sources, and main.js linking to SERVICE's entry point.
FROM build AS deploy
ARG SERVICE
RUN --mount=type=cache,target=/root/.npm <<'SH'
set -eu
: "${SERVICE:?build with --build-arg SERVICE=<ingest|inventory|trends|sync|hq|cli>}"
dir="services/${SERVICE}"
[ -d "$dir" ] || dir="packages/${SERVICE}"
[ -f "$dir/dist/main.js" ] || { echo "no workspace ${SERVICE} with a dist/main.js" >&2; exit 1; }
mkdir /deploy
tar -cf - package.json package-lock.json packages/*/package.json services/*/package.json | tar -xf - -C /deploy
cd /deploy
npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "$dir" --include-workspace-root=false
for link in node_modules/@tillstream/*; do
  workspace="$(realpath --relative-to=/deploy "$link")"
  (cd /app && tar -cf - --exclude="$workspace/src" --exclude="$workspace/node_modules" --exclude=tsconfig.json --exclude='*.tsbuildinfo' "$workspace") | tar -xf -
done
# The other workspaces' package.json files were there for npm ci only.
for workspace in packages/* services/*; do
  [ "$(ls -A "$workspace")" != package.json ] || rm -r "$workspace"
done
rm package.json package-lock.json
ln -s "$dir/dist/main.js" main.js
SH
COPY deploy/healthcheck.js /deploy/healthcheck.mjs

# 3. The runtime: root owns the files, the service runs as node.
FROM ${NODE_IMAGE}
# (kafkajs 2.2.4's negative setTimeout, tulios/kafkajs#1751, is fixed where
# kafkajs is loaded: packages/kafka/src/request-queue-fix.ts; no warning is hidden.)
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deploy /deploy /app
USER node
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["node", "healthcheck.mjs"]
# SIGTERM goes straight to node (no shell in between), so the service's stop() runs.
CMD ["node", "main.js"]
