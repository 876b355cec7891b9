# syntax=docker/dockerfile:1.4
# Strata TURN server: regional relay with credentials from signaling, /healthz and /metrics
# Build with `npm run images` (deploy/images/README.md has the plain docker and buildah commands).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-20250520-slim
ARG BUILD_IMAGE=strata/build:0.1.0

FROM ${BUILD_IMAGE} AS build
RUN --mount=type=cache,target=/root/.npm deploy/images/bundle.sh turn /out

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="strata-turn" \
      org.opencontainers.image.description="Strata TURN server: regional relay with credentials from signaling, /healthz and /metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 strata \
 && useradd --system --uid 10001 --gid strata --home-dir /app --no-create-home --shell /usr/sbin/nologin strata
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /src/deploy/images/healthcheck.mjs /usr/local/lib/strata/healthcheck.mjs
COPY --from=build /out/app /app
WORKDIR /app
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=7882 TURN_LISTEN_IP=0.0.0.0
USER 10001:10001
EXPOSE 7882/tcp 3478/udp 3478/tcp 5349/tcp
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/usr/local/lib/strata/healthcheck.mjs"]
CMD ["node", "services/turn/dist/main.js"]
