#!/usr/bin/env bash
# Makes the Debian base image the Dockerfiles start FROM where no registry can be reached:
# debootstrap's minbase of bookworm, trimmed the way the official debian:bookworm-slim is
# (no docs, man pages or locales; apt told to keep it so), imported with buildah.
#
# Prints the image reference on its last line. Idempotent: an existing image is kept.
# Env: STRATA_BASE_REF (default localhost/strata/debian:bookworm-slim), DEBIAN_MIRROR (default:
# the first URIs line of /etc/apt/sources.list.d/debian.sources, else deb.debian.org).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/engine.sh"
ref="${STRATA_BASE_REF:-localhost/strata/debian:bookworm-slim}"
log() { echo "[base] $*" >&2; }

if "${BUILDAH[@]}" inspect --type image "$ref" >/dev/null 2>&1; then echo "$ref"; exit 0; fi
command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install debootstrap)"; exit 1; }
mirror="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: //p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)}"
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs="$(mktemp -d /var/tmp/strata-base.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

log "debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >&2
# What debian:bookworm-slim does: dpkg leaves documentation out from now on, and it goes now.
cat > "$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,locale,lintian}/* "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
# apt sources in the deb822 form the official image uses (and scripts/setup.sh reads).
rm -f "$rootfs/etc/apt/sources.list"
printf 'Types: deb\nURIs: %s\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$mirror" > "$rootfs/etc/apt/sources.list.d/debian.sources"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' > "$rootfs/etc/apt/apt.conf.d/90strata-slim"
# And no package caches left in a layer by an install step (the official image's docker-clean).
cat > "$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG

log "importing $(du -sh "$rootfs" | cut -f1) as $ref"
ctr="$("${BUILDAH[@]}" from scratch)"
mnt="$("${BUILDAH[@]}" mount "$ctr")"
cp -a "$rootfs/." "$mnt/"
"${BUILDAH[@]}" umount "$ctr" >/dev/null
"${BUILDAH[@]}" config --cmd /bin/bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.description="debootstrap minbase of Debian bookworm, slim" \
  --label org.opencontainers.image.created="$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$ctr"
"${BUILDAH[@]}" commit -q --rm "$ctr" "$ref" >/dev/null
echo "$ref"
