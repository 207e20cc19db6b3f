# Tessera image: one executable (`tessera`), the command picks the role
# (`router --config ...` or `shard --config ... --node ...`).
#
# Dependencies are installed in the full node image, which has the compiler
# better-sqlite3 falls back to when no prebuilt binary fits, then copied into
# the slim image of the same Debian release.
FROM node:20 AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin/ ./bin/
COPY src/ ./src/
COPY router/ ./router/
COPY shard/ ./shard/
COPY config/ ./config/
# The data volume is created from this folder, so it is owned by the
# unprivileged user the processes run as.
RUN mkdir -p /data && chown node:node /data
USER node
# 8080: router, 7000: shard node (config/docker.json)
EXPOSE 8080 7000
ENTRYPOINT ["node", "bin/tessera.mjs"]
CMD ["--help"]
