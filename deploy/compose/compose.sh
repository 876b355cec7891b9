#!/usr/bin/env bash
# `npm run compose:up` / `npm run compose:down`: the one-region stack of compose.yaml.
#
#   deploy/compose/compose.sh up      writes .env from env.example if there is none (fresh random
#                                     secrets), starts the stack, waits until every service is
#                                     healthy, prints the demo URL
#   deploy/compose/compose.sh down    stops and removes the containers and the network
#                                     (add --volumes to drop NATS's data and the recordings too)
#   deploy/compose/compose.sh ps|logs [service]
#
# docker compose where a Docker engine answers, podman-compose otherwise (deploy/images/engine.sh).
# Env: STRATA_COMPOSE_ENV (default deploy/compose/.env), STRATA_COMPOSE_PROJECT (default strata),
# STRATA_HEALTH_TIMEOUT (seconds, default 120).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/../images/engine.sh"
env_file="${STRATA_COMPOSE_ENV:-$here/.env}"
project="${STRATA_COMPOSE_PROJECT:-strata}"
services=(nats signaling media turn geo-router recorder)
log() { echo "[compose] $*" >&2; }
ensure_container_tools

if [ "$STRATA_ENGINE" = docker ]; then
  # The file's pass-through variables (`VAR:`) are taken from the environment: .env is exported.
  compose() { ( set -a; . "$env_file"; set +a; docker compose -p "$project" --env-file "$env_file" -f "$here/compose.yaml" "$@" ); }
  container_of() { compose ps -q "$1"; }
  healthy() { [ "$(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]; }
  running() { [ "$(docker inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
else
  compose() {
    # podman-compose reads the .env next to the compose file only; the chosen one is exported, for the
    # file's ${...} and its pass-through variables (`VAR:`, which podman takes from its environment).
    ( set -a; . "$env_file"; set +a
      podman-compose --no-ansi -p "$project" -f "$here/compose.yaml" \
        --podman-args="--storage-driver=$storage_driver --runtime runc" "$@" )
  }
  container_of() { echo "${project}_$1_1"; }
  # Without systemd nothing runs podman's health checks on their interval: run them here.
  healthy() { "${PODMAN[@]}" healthcheck run "$1" >/dev/null 2>&1; }
  running() { [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
  # Services reach NATS as `nats`: only netavark's networks resolve such names here (CNI's lack
  # the dnsname plugin), and without them every service waits for NATS for ever.
  backend="$("${PODMAN[@]}" info --format '{{.Host.NetworkBackend}}' 2>/dev/null || true)"
  if [ "$backend" != netavark ]; then
    log "podman's network backend is '${backend:-unknown}', not netavark: containers could not find each other by name"
    log "install netavark and aardvark-dns (apt-get install netavark aardvark-dns iptables); $images_dir/containers.conf selects it"
    exit 1
  fi
fi

new_env() {
  [ -f "$env_file" ] && return
  log "writing $env_file with fresh secrets (from env.example)"
  umask 077
  while IFS= read -r line; do
    if [[ "$line" == *=CHANGE_ME ]]; then echo "${line%CHANGE_ME}$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"; else echo "$line"; fi
  done < "$here/env.example" > "$env_file"
}

wait_healthy() {
  local deadline=$(( $(date +%s) + ${STRATA_HEALTH_TIMEOUT:-120} )) pending
  while :; do
    pending=()
    for s in "${services[@]}"; do healthy "$(container_of "$s")" || pending+=("$s"); done
    [ ${#pending[@]} -eq 0 ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "not healthy after ${STRATA_HEALTH_TIMEOUT:-120} s: ${pending[*]}"
      for s in "${pending[@]}"; do log "--- $s (last lines)"; compose logs --tail 20 "$s" >&2 || true; done
      return 1
    fi
    sleep 2
  done
}

cmd="${1:-}"; shift || true
case "$cmd" in
  up)
    new_env
    compose up -d "$@"
    log "waiting for every service's /healthz"
    wait_healthy
    set -a; . "$env_file"; set +a
    log "all healthy: ${services[*]}"
    echo "Strata region '${STRATA_REGION:-local}' is up: open http://${STRATA_PUBLIC_IP:-127.0.0.1}:${SIGNALING_PORT:-7880}/"
    ;;
  down)
    compose down "$@"
    # podman-compose 1.0 leaves the network it made behind: remove the project's own.
    if [ "$STRATA_ENGINE" != docker ]; then
      for net in $("${PODMAN[@]}" network ls --filter "label=io.podman.compose.project=$project" --format '{{.Name}}'); do
        "${PODMAN[@]}" network rm "$net" >/dev/null && log "removed network $net"
      done
    fi
    ;;
  ps | logs) compose "$cmd" "$@" ;;
  *) echo "usage: compose.sh up|down [--volumes]|ps|logs [service]" >&2; exit 2 ;;
esac
