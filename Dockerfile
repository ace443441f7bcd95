# vera-service: the consumer, started exactly as `npm start` starts it (node --import tsx
# src/main.ts, with package.json's flags; tsx is a runtime dependency, there is no build step).
#   docker build -t vera-service .
#   docker run --env-file .env vera-service
# Or the whole local stack (PostgreSQL, the dev plugboard, three consumers):
#   docker compose up --build --scale vera-service=3

ARG NODE_VERSION=20

# Production dependencies only, installed from the lockfile.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HEALTH_PORT=9090 \
    DATA_DIR=/app/.data
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY events ./events
COPY actions ./actions
COPY migrations ./migrations
# DATA_DIR is the only place the service writes (the embedded database and a development
# secret, used only without DATABASE_URL / JWT_SECRET); everything else stays root-owned.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 9090
# The slim image has no curl: ask node's fetch. /healthz is 200 while joined to the plugboard
# and the database answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `npm start`'s command itself rather than npm: SIGTERM reaches the service directly (it drains,
# README "Operations") and stdout carries only its JSON log lines, without npm's banner.
CMD ["node", "--max-semi-space-size=4", "--import", "tsx", "src/main.ts"]
