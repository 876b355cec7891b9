#!/usr/bin/env bash
# One-step install for a Debian 12 machine with Node 20: apt packages, npm workspaces and a
# mediasoup worker built from npm + Debian parts only. Idempotent: a second run checks and exits.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
log() { echo "[setup] $*"; }
t0=$(date +%s)

# STRATA_SETUP_PROFILE=build is what an image's build stage runs (deploy/images/build.Dockerfile):
# the same worker build and npm install, without the tools that only running and testing here use.
profile="${STRATA_SETUP_PROFILE:-full}"
case "$profile" in full | build) ;; *) echo "STRATA_SETUP_PROFILE: \"$profile\" is not full or build" >&2; exit 1 ;; esac
apt_packages=(
  # mediasoup worker build (see scripts/build-mediasoup-worker.sh)
  build-essential pkg-config python3 ninja-build dpkg-dev
  libssl-dev libuv1-dev libabsl-dev libsrtp2-dev flatbuffers-compiler libflatbuffers-dev
)
# Running a local region and its tests: NATS, TURN baseline, media tools, the browser, netns.
[ "$profile" = full ] && apt_packages+=(nats-server ffmpeg chromium coturn iproute2)

meson_ok() { meson --version 2>/dev/null | awk -F. '{ exit !($1 > 1 || ($1 == 1 && $2 >= 1)) }'; }

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ] || ! meson_ok; then
  [ "$(id -u)" = 0 ] || { echo "setup needs root for apt-get (missing: ${missing[*]} meson>=1.1)" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  mirror="$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  # meson >= 1.1 (mediasoup's minimum) is in bookworm-backports; bookworm has 1.0.1.
  if [ ! -e /etc/apt/sources.list.d/strata-backports.sources ]; then
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" > /etc/apt/sources.list.d/strata-backports.sources
  fi
  # Source packages, to rebuild libsrtp2 on OpenSSL.
  if [ ! -e /etc/apt/sources.list.d/strata-src.sources ]; then
    printf 'Types: deb-src\nURIs: %s\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" > /etc/apt/sources.list.d/strata-src.sources
  fi
  log "apt-get install ${missing[*]} meson(backports)"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${apt_packages[@]}"
  apt-get install -y -q --no-install-recommends -t bookworm-backports meson
fi
# Debian starts nats-server and coturn as system services on install; they would hold ports
# 4222 and 3478, which `npm run dev` uses. The project runs its own instances, so stop theirs.
for unit in nats-server coturn; do
  if systemctl is-enabled "$unit" >/dev/null 2>&1 || systemctl is-active "$unit" >/dev/null 2>&1; then
    log "disabling the $unit system service (Strata starts its own)"
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
done

worker_bin="$("$root/scripts/build-mediasoup-worker.sh" | tail -1)"
log "mediasoup worker: $worker_bin"

# npm install only when the lock file changed since the last successful one.
stamp="node_modules/.strata-setup"
want="$(cat package-lock.json package.json | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "npm ci"
  MEDIASOUP_WORKER_BIN="$worker_bin" npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
# mediasoup looks here when MEDIASOUP_WORKER_BIN is unset; npm ci wipes it, hence every run.
dest="node_modules/mediasoup/worker/out/Release/mediasoup-worker"
if ! cmp -s "$worker_bin" "$dest"; then
  mkdir -p "$(dirname "$dest")" && install -m 0755 "$worker_bin" "$dest"
fi
# The demo page's bundle (mediasoup-client + our client library), served by the gateway.
npm run build:web -w @strata/signaling --silent
node -e "import('mediasoup').then(async (m) => { const w = await m.createWorker(); w.close(); console.log('[setup] mediasoup ' + m.version + ' worker OK') })"
log "done in $(( $(date +%s) - t0 )) s"
