#!/usr/bin/env bash
# The runtime tree of one service, from a checkout where `npm run setup` and `npm run build` ran:
#   deploy/images/bundle.sh <service> <out>
# <out>/app gets the service's production dependencies only (npm ci --omit=dev for its workspace,
# the repository's patches applied), and of each workspace it links (the service, its libs) the
# package.json, dist/ and licence: no sources, tests or dev tools. The Dockerfiles' build stage
# runs it; it works the same outside a container.
set -euo pipefail
svc="${1:?usage: bundle.sh <service> <out>}"
out="${2:?usage: bundle.sh <service> <out>}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
[ -f "$root/services/$svc/package.json" ] || { echo "bundle: no service '$svc'" >&2; exit 1; }
[ -d "$root/services/$svc/dist" ] || { echo "bundle: services/$svc/dist is missing (npm run build first)" >&2; exit 1; }
log() { echo "[bundle:$svc] $*" >&2; }

app="$out/app"
rm -rf "$app" && mkdir -p "$app"
cd "$root"
# npm needs every workspace's manifest to check the lock file, even those it will not install.
cp package.json package-lock.json "$app/"
for m in libs/*/package.json services/*/package.json tools/*/package.json loadtest/package.json; do
  [ -f "$m" ] && install -D -m 0644 "$m" "$app/$m"
done
log "npm ci --omit=dev"
( cd "$app" && npm ci --omit=dev --workspace="@strata/$svc" --ignore-scripts --no-audit --no-fund --loglevel=error >&2 )

# Our patches, for the dependencies this service has (patch-package stops at a missing one).
mkdir -p "$app/patches"
for p in patches/*.patch; do
  name="$(basename "$p" .patch)"; name="${name%+*}"; name="${name//+//}"
  [ -d "$app/node_modules/$name" ] && cp "$p" "$app/patches/"
done
if compgen -G "$app/patches/*.patch" >/dev/null; then
  ( cd "$app" && "$root/node_modules/.bin/patch-package" --error-on-fail >&2 )
fi
rm -rf "$app/patches"

# The workspaces npm linked: this service and the libs it uses. Everything else goes.
linked=()
for l in "$app"/node_modules/@strata/*; do linked+=("$(readlink "$l" | sed 's|^\.\./\.\./||')"); done
for ws in libs/* services/* tools/* loadtest; do
  keep=0; for l in "${linked[@]}"; do [ "$l" = "$ws" ] && keep=1; done
  if [ $keep = 1 ]; then
    [ -d "$ws/dist" ] || { echo "bundle: $ws/dist is missing (npm run build first)" >&2; exit 1; }
    cp -r "$ws/dist" "$app/$ws/"
    for f in LICENSE LICENSE.md public; do [ -e "$ws/$f" ] && cp -r "$ws/$f" "$app/$ws/"; done
    find "$app/$ws/dist" \( -name '*.d.ts' -o -name '*.d.ts.map' -o -name '*.tsbuildinfo' \) -delete
  else
    rm -rf "${app:?}/$ws"
  fi
done
rmdir "$app"/libs "$app"/tools 2>/dev/null || true
cp LICENSE "$app/" 2>/dev/null || true

# Native parts for this platform only: µWebSockets.js ships a binary per OS, CPU and Node ABI, and
# mediasoup its worker's sources (the worker binary built by setup replaces them).
abi="$(node -p process.versions.modules)"
uws="$app/node_modules/@trufflesuite/uws-js-unofficial"
if [ -d "$uws" ]; then
  find "$uws/binaries" -type f ! -name "uws_linux_x64_${abi}.node" -delete
  rm -rf "$uws/docs" "$uws/src/"*.d.ts
fi
ms="$app/node_modules/mediasoup"
if [ -d "$ms" ]; then
  worker="$root/node_modules/mediasoup/worker/out/Release/mediasoup-worker"
  [ -x "$worker" ] || { echo "bundle: $worker is missing (npm run setup first)" >&2; exit 1; }
  rm -rf "$ms/worker" && install -D -m 0755 "$worker" "$ms/worker/out/Release/mediasoup-worker"
  strip "$ms/worker/out/Release/mediasoup-worker" 2>/dev/null || true
fi
rm -f "$app/node_modules/.package-lock.json"
log "$(du -sh "$app" | cut -f1) in $app"
