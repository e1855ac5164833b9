# SoniqueBay Worker: one image for the API and the workers (the command picks the role).
# Debian's ffmpeg for audio analysis; better-sqlite3 compiles on install, so the build stage has
# a C++ toolchain and the runtime stage does not.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
COPY bin ./bin
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
ENV NODE_ENV=production SONIQUEBAY_DATA_DIR=/data MALLOC_ARENA_MAX=2
# owned by the user the process runs as (a named volume takes this ownership)
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=2", "--heap-growing-percent=50", "--no-turbo-inlining", "bin/soniquebay.js"]
# the embedded default: API, every queue and the periodic tasks in one container
CMD ["serve", "--embedded", "--host", "0.0.0.0"]
EXPOSE 8080
