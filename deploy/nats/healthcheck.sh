#!/bin/bash
# The nats image's HEALTHCHECK: the monitoring port's /healthz (200 once the server, and JetStream
# when enabled, is ready). bash's /dev/tcp, so the image needs no HTTP client.
set -eu
exec 3<>"/dev/tcp/127.0.0.1/${NATS_HTTP_PORT:-8222}"
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 4 _ status _ <&3
[ "$status" = 200 ]
