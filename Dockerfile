# syntax=docker/dockerfile:1
# Build: compile TypeScript with the dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
COPY routes ./routes
# npm run build also bundles the demo (web/src) and the SDK (client/src) with scripts/build-web.mjs.
COPY scripts ./scripts
COPY client ./client
COPY web ./web
RUN npm run build

# Production dependencies only.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Runtime: no compiler, no dev dependencies, not root.
FROM node:20-bookworm-slim
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# The demo at /: its page, stylesheet and bundle (plugins/web.ts finds web/ beside dist/).
COPY --from=build --chown=node:node /app/web/index.html /app/web/styles.css ./web/
COPY --from=build --chown=node:node /app/web/dist ./web/dist
COPY --chown=node:node package.json ./
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/health/live').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Production needs JWT_SECRET, PUBLIC_URL, METRICS_TOKEN, MONGODB_URL and REDIS_URL (or REDIS_CLUSTER_NODES) from the
# environment. With TLS_CERT_FILE and TLS_KEY_FILE the node serves HTTPS, and this HTTP health check does not apply.
CMD ["node", "dist/src/server.js"]
