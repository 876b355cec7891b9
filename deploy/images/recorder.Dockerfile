# syntax=docker/dockerfile:1.4
# Strata recorder: per-track Ogg/WebM recordings, S3 upload, /healthz and /metrics
# Build with `npm run images` (deploy/images/README.md has the plain docker and buildah commands).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-20250520-slim
ARG BUILD_IMAGE=strata/build:0.1.0

FROM ${BUILD_IMAGE} AS build
RUN --mount=type=cache,target=/root/.npm deploy/images/bundle.sh recorder /out
RUN --mount=type=cache,target=/root/.cache/strata deploy/images/build-ffmpeg.sh /out/ffmpeg

FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="strata-recorder" \
      org.opencontainers.image.description="Strata recorder: per-track Ogg/WebM recordings, S3 upload, /healthz and /metrics" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends libvpx7 libopus0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 strata \
 && useradd --system --uid 10001 --gid strata --home-dir /app --no-create-home --shell /usr/sbin/nologin strata \
 && install -d -o 10001 -g 10001 /var/lib/strata/recordings
COPY --from=build /usr/local/bin/node /usr/local/bin/node
COPY --from=build /src/deploy/images/healthcheck.mjs /usr/local/lib/strata/healthcheck.mjs
COPY --from=build /out/ffmpeg/bin/ /usr/local/bin/
COPY --from=build /out/app /app
WORKDIR /app
ENV NODE_ENV=production HTTP_HOST=0.0.0.0 HTTP_PORT=7884 RECORDER_DIR=/var/lib/strata/recordings
VOLUME /var/lib/strata/recordings
USER 10001:10001
EXPOSE 7884/tcp
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "/usr/local/lib/strata/healthcheck.mjs"]
CMD ["node", "services/recorder/dist/main.js"]
