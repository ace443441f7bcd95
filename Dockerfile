# vera-service: the consumer, compiled (npm run build) and run by plain node, as `npm start` runs it.
#   docker build -t vera-service .
#   docker run --env-file .env vera-service
# Or the whole local stack (PostgreSQL, the dev plugboard, three consumers):
#   docker compose up --build --scale vera-service=3
# tests/deploy-files.test.ts replays this file without Docker, stage by stage as written, from
# the files a fresh clone holds (tests/support/dockerfile.ts), and runs the image's CMD and
# HEALTHCHECK.

ARG NODE_VERSION=24

# Build: every dependency, then type-check and compile to dist/ (tsc fails the build on a type error).
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# Everything the build context holds (.dockerignore keeps tests, bench, node_modules and secrets
# out): the compiler reads the folders tsconfig.build.json names, and a folder added there
# needs no line here.
COPY . .
RUN npm run build

# Production dependencies only, installed from the lockfile: no TypeScript, no tsx.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# DATA_DIR is the only place the service writes (the embedded database and a development secret,
# used only without DATABASE_URL / JWT_SECRET): the node user's home, which it owns; everything
# else stays root-owned.
ENV NODE_ENV=production \
    HEALTH_PORT=9090 \
    DATA_DIR=/home/node/.data \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
# package.json: "type": "module" makes dist/'s .js files ES modules.
COPY package.json ./
COPY --from=build /app/dist ./dist
USER node
EXPOSE 9090
# The slim image has no curl: ask node's fetch. /healthz is 200 while joined to the plugboard
# and the database answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# `npm start`'s command itself rather than npm: SIGTERM reaches the service directly (it drains,
# README "Operations") and stdout carries only its JSON log lines, without npm's banner.
CMD ["node", "--max-semi-space-size=4", "dist/src/cli/main.js", "start", "--dir", "dist/app"]
