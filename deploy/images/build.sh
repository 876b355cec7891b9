#!/usr/bin/env bash
# `npm run images`: builds every image of deploy/images, then prints each one's size and checks it
# against its budget (media 400 MB, the others 250 MB; exit 1 when one is over).
#
#   deploy/images/build.sh [name ...]     names: build signaling media turn geo-router recorder nats
#
# docker where an engine answers, buildah otherwise (engine.sh). FROM is debian:bookworm-20250520-slim
# with docker; with buildah, where no registry can be reached, the local debootstrap base (base.sh).
# Env: STRATA_BASE_IMAGE (force a base), STRATA_IMAGE_PREFIX (default strata/, with buildah
# localhost/strata/), STRATA_ENGINE.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
. "$here/engine.sh"
cd "$root"
log() { echo "[images] $*" >&2; }
ensure_container_tools

version="$(node -p "require('./package.json').version")"
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then revision="$revision-dirty"; fi
source_url="$(git config --get remote.origin.url 2>/dev/null || echo unknown)"
services=(signaling media turn geo-router recorder)
all=(build "${services[@]}" nats)
wanted=("$@"); [ ${#wanted[@]} -gt 0 ] || wanted=("${all[@]}")
for w in "${wanted[@]}"; do [[ " ${all[*]} " == *" $w "* ]] || { log "unknown image '$w' (known: ${all[*]})"; exit 2; }; done

if [ "$STRATA_ENGINE" = docker ]; then
  prefix="${STRATA_IMAGE_PREFIX:-strata/}"
  base="${STRATA_BASE_IMAGE:-docker.io/library/debian:bookworm-20250520-slim}"
  bud() { DOCKER_BUILDKIT=1 docker build "$@"; }
  size_of() { docker image inspect --format '{{.Size}}' "$1"; }
  image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
  remove_image() { docker image rm "$1" >/dev/null 2>&1 || true; }
else
  prefix="${STRATA_IMAGE_PREFIX:-localhost/strata/}"
  base="${STRATA_BASE_IMAGE:-$("$here/base.sh" | tail -1)}"
  # docker format: OCI image configs have no HEALTHCHECK. --force-rm: a failed step leaves no
  # working container. --layers only for the build stage, whose steps are worth caching (setup,
  # the worker build): a service image's steps take seconds, and cached ones would keep a copy of
  # the build stage each on vfs storage.
  bud() {
    local layers=--layers=false
    [[ " $* " == *" deploy/images/build.Dockerfile "* ]] && layers=--layers
    "${BUILDAH[@]}" bud --isolation=chroot "$layers" --force-rm --format docker --quiet "$@" >/dev/null
  }
  size_of() { "${PODMAN[@]}" image inspect --format "{{.Size}}" "$1"; }
  image_id() { "${PODMAN[@]}" image inspect --format "{{.Id}}" "$1" 2>/dev/null || true; }
  # Not when an image or a layer cache entry still builds on it (then it is not dangling).
  remove_image() { "${PODMAN[@]}" image rm "$1" >/dev/null 2>&1 || true; }
fi
log "engine $STRATA_ENGINE, base $base, version $version ($revision)"

# CA certificates this host trusts beyond Debian's (an intercepting proxy's), for the build stage's
# downloads; STRATA_BUILD_CA_FILE names another bundle. Handed over as a build secret.
ca_bundle="$(mktemp)"; trap 'rm -f "$ca_bundle"' EXIT
if [ -n "${STRATA_BUILD_CA_FILE:-}" ]; then cat "$STRATA_BUILD_CA_FILE" > "$ca_bundle"
elif compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then cat /usr/local/share/ca-certificates/*.crt > "$ca_bundle"; fi

build_ref="${prefix}build:$version"
args=(--build-arg "BASE_IMAGE=$base" --build-arg "BUILD_IMAGE=$build_ref" --build-arg "VERSION=$version"
  --build-arg "REVISION=$revision" --build-arg "SOURCE=$source_url" --secret "id=extra-ca,src=$ca_bundle")
# Every service image starts from the build image, so it is (re)built first whenever one is asked
# (from cache when nothing changed); nats's image is Debian's nats-server and the configs alone.
for w in "${wanted[@]}"; do
  if [[ " ${services[*]} " == *" $w "* && " ${wanted[*]} " != *" build "* ]]; then wanted=(build "${wanted[@]}"); fi
done
declare -A budget=([media]=400 [build]=0)
fail=0
for name in "${all[@]}"; do
  [[ " ${wanted[*]} " == *" $name "* ]] || continue
  ref="${prefix}$name:$version"
  t0=$(date +%s)
  previous="$(image_id "$ref")"
  log "building $ref"
  bud "${args[@]}" -f "deploy/images/$name.Dockerfile" -t "$ref" .
  # A rebuild moves the tag: the image it pointed to is dropped unless something else uses it.
  if [ -n "$previous" ] && [ "$previous" != "$(image_id "$ref")" ]; then remove_image "$previous"; fi
  bytes="$(size_of "$ref")"
  mb=$(( bytes / 1000000 ))
  limit="${budget[$name]:-250}"
  if [ "$limit" = 0 ]; then verdict="(build stage, not shipped)"
  elif [ "$mb" -le "$limit" ]; then verdict="within $limit MB"
  else verdict="OVER the $limit MB budget"; fail=1; fi
  printf '%-36s %5d MB  %s  (%d s)\n' "$ref" "$mb" "$verdict" $(( $(date +%s) - t0 ))
done
# The build stage's cache of steps a changed context made stale (its steps carry its title label).
if [ "$STRATA_ENGINE" = docker ]; then
  docker image prune -f --filter label=org.opencontainers.image.title=strata-build >/dev/null
else
  "${PODMAN[@]}" image prune -f --filter label=org.opencontainers.image.title=strata-build >/dev/null
fi
exit $fail
