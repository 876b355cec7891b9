# syntax=docker/dockerfile:1.4
# NATS for a Strata region: Debian's nats-server with the configs of deploy/nats (accounts with a
# user per service, a region's cluster, the gateways between regions) in /etc/nats, started by
# their start.sh (which refuses unset or empty passwords). JetStream data in /data (a volume).
#   CMD -c /etc/nats/region.conf (default), gateway.conf or standalone.conf; see deploy/nats/README.md.
ARG BASE_IMAGE=docker.io/library/debian:bookworm-20250520-slim
FROM ${BASE_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="strata-nats" \
      org.opencontainers.image.description="nats-server (Debian) with Strata's region, gateway and account configs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends nats-server \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 strata \
 && useradd --system --uid 10001 --gid strata --home-dir /data --no-create-home --shell /usr/sbin/nologin strata \
 && install -d -o 10001 -g 10001 /data
COPY deploy/nats/accounts.conf deploy/nats/region.conf deploy/nats/gateway.conf deploy/nats/standalone.conf deploy/nats/start.sh deploy/nats/healthcheck.sh /etc/nats/
ENV NATS_STORE_DIR=/data/jetstream
VOLUME /data
USER 10001:10001
EXPOSE 4222/tcp 6222/tcp 7222/tcp 8222/tcp
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 CMD ["/etc/nats/healthcheck.sh"]
ENTRYPOINT ["/etc/nats/start.sh"]
CMD ["-c", "/etc/nats/region.conf"]
