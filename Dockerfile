# Production image: Node 24, compiled JavaScript, no dev dependencies.
# Needs DATABASE_URL, JWT_SECRET and ADMIN_API_KEYS (NODE_ENV=production refuses to boot without them).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=8000
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The local outbox (used while SMTP_URL is unset) lives under .data/.
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 8000
# Readiness: the database (and Redis, and a worker's queue connection, in queue mode); an LLM or SMTP outage does
# not make the container unhealthy. Node's fetch, since the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8000)+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--max-old-space-size=192", "dist/src/main.js"]
