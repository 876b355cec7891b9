#!/bin/sh
# Starts nats-server with the configs of this folder, after checking that every variable they read is
# set and not empty: nats-server refuses an unset one, but takes an empty password as "no password",
# which would let anyone in as that user.
#
#   deploy/nats/start.sh -c deploy/nats/gateway.conf      (or region.conf, standalone.conf; other nats-server flags pass through)
#
# NATS_SERVER_BIN: the nats-server binary (default: nats-server on PATH).
set -eu
conf=""
prev=""
for a in "$@"; do
  if [ "$prev" = "-c" ] || [ "$prev" = "--config" ]; then conf="$a"; fi
  prev="$a"
done
vars="NATS_SERVER_NAME STRATA_REGION NATS_CLUSTER_ROUTES NATS_ROUTE_PASSWORD NATS_STORE_DIR
NATS_SIGNALING_PASSWORD NATS_MEDIA_PASSWORD NATS_TURN_PASSWORD NATS_GEO_ROUTER_PASSWORD NATS_RECORDER_PASSWORD
NATS_ADMIN_PASSWORD NATS_SYS_PASSWORD"
case "$conf" in
  *gateway.conf) vars="$vars NATS_GATEWAYS NATS_GATEWAY_PASSWORD" ;;
  *standalone.conf) vars="$(echo $vars | sed 's/NATS_CLUSTER_ROUTES //; s/NATS_ROUTE_PASSWORD //')" ;;
esac
missing=""
for v in $vars; do
  eval "val=\${$v:-}"
  [ -n "$val" ] || missing="$missing $v"
done
if [ -n "$missing" ]; then
  echo "nats: not set or empty:$missing" >&2
  exit 78
fi
# nats-server parses a variable's value as a config value, not as a string: a password such as
# 5853e29a... reads as a number and stops the server. Hand each password over quoted instead.
for v in $vars; do
  case "$v" in
    *_PASSWORD)
      eval "val=\${$v}"
      case "$val" in \"*\") ;; *) export "$v=\"$(printf '%s' "$val" | sed 's/\\/\\\\/g; s/"/\\"/g')\"" ;; esac
      ;;
  esac
done
exec "${NATS_SERVER_BIN:-nats-server}" "$@"
