# One image for every Tillstream service; SERVICE picks which one runs.
#   docker build --build-arg SERVICE=ingest -t tillstream-ingest .
# Services run their TypeScript through tsx (esbuild), the same way as in
# development and tests: there is no separate emit step to drift from.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY services ./services
RUN npm ci --omit=dev --ignore-scripts && npm install --no-save --ignore-scripts tsx@4

FROM node:20-bookworm-slim
ARG SERVICE
ENV NODE_ENV=production SERVICE=${SERVICE}
WORKDIR /app
COPY --from=deps /app /app
USER node
# SIGTERM goes straight to node (no shell in between), so stop() runs.
CMD ["sh", "-c", "exec node --import tsx services/${SERVICE}/src/main.ts"]
