#!/usr/bin/env bash
# An ffmpeg for the recorder image, from Debian's own source package (deb-src), configured with
# only what the recorder uses: the mix post-step (services/recorder/src/mix.ts: VP8 and Opus in
# WebM/Ogg in, a grid of overlays and an audio mix, libvpx VP8 and libopus out) and the version
# check at start. Debian's binary ffmpeg pulls in about 440 MB of codec, device and GPU
# libraries; this one needs libvpx and libopus, and is about 10 MB.
#
#   deploy/images/build-ffmpeg.sh <prefix>     installs bin/ffmpeg and bin/ffprobe under <prefix>
# Build dependencies (apt): build-essential pkg-config nasm libvpx-dev libopus-dev dpkg-dev, and a
# deb-src line for bookworm. Cached in $STRATA_CACHE (default ~/.cache/strata) by source version.
set -euo pipefail
prefix="${1:?usage: build-ffmpeg.sh <prefix>}"
CACHE="${STRATA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/strata}/ffmpeg"
log() { echo "[ffmpeg] $*" >&2; }
here="$(cd "$(dirname "$0")" && pwd)"
recipe="$(sha256sum "$0" | cut -c1-12)"
version="$(apt-cache showsrc ffmpeg 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1)"
[ -n "$version" ] || { log "no ffmpeg source package: add a deb-src line for bookworm (scripts/setup.sh writes one)"; exit 1; }
out="$CACHE/$version-$recipe"

if [ ! -x "$out/bin/ffmpeg" ]; then
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  log "apt-get source ffmpeg ($version)"
  ( cd "$tmp" && apt-get source -q --download-only "ffmpeg=$version" >&2 && dpkg-source -x --no-check ffmpeg_*.dsc src >&2 )
  filters=(buffer buffersink abuffer abuffersink color format scale pad setsar setpts overlay null anull
    asetpts aformat adelay amix apad aresample anullsrc trim atrim)
  log "configure and build ($(nproc) cores)"
  ( cd "$tmp/src"
    ./configure --prefix="$out" --disable-everything --disable-autodetect --disable-doc --disable-debug \
      --disable-ffplay --disable-network \
      --enable-libvpx --enable-libopus --enable-swscale --enable-swresample \
      --enable-decoder=vp8,opus,libopus,pcm_s16le --enable-encoder=libvpx_vp8,libopus,pcm_s16le \
      --enable-demuxer=ogg,matroska,wav --enable-muxer=webm,ogg,matroska,wav,null \
      --enable-parser=vp8,opus --enable-protocol=file,pipe \
      --enable-filter="$(IFS=,; echo "${filters[*]}")" >&2
    make -j"$(( $(nproc) + 1 ))" >&2
    make install >&2 )
  rm -rf "$out/share" "$out/include" "$out/lib"
  strip "$out/bin/ffmpeg" "$out/bin/ffprobe"
fi
install -D -m 0755 "$out/bin/ffmpeg" "$prefix/bin/ffmpeg"
install -D -m 0755 "$out/bin/ffprobe" "$prefix/bin/ffprobe"
log "$("$prefix/bin/ffmpeg" -hide_banner -version | head -1)"
