#!/usr/bin/env bash
# Builds the mediasoup C++ worker from the npm tarball against Debian's libraries.
#
# mediasoup's own build downloads a prebuilt worker (GitHub) or its meson subprojects (wrapdb);
# neither is reachable from a machine that only sees npm and apt. We replace the download-only
# wraps with the shim subprojects in ./mediasoup-worker/subprojects, which hand meson Debian's
# libuv, OpenSSL, abseil, flatbuffers and libsrtp2 under the names mediasoup's meson.build expects.
#
# Prints the path of the built binary on its last line. Cached by version and recipe hash.
# Env: MS_VERSION (default: the version in package-lock.json), STRATA_CACHE (default ~/.cache/strata).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
MS_VERSION="${MS_VERSION:-$(node -p "require('$root/package-lock.json').packages['node_modules/mediasoup'].version" 2>/dev/null || echo 3.27.1)}"
CACHE="${STRATA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/strata}/mediasoup"
recipe_hash="$(cat "$0" $(find "$here/mediasoup-worker" -type f | sort) | sha256sum | cut -c1-12)"
bin="$CACHE/bin/$MS_VERSION-$recipe_hash/mediasoup-worker"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi

log() { echo "[mediasoup-worker] $*" >&2; }
mkdir -p "$CACHE"
jobs=$(( $(nproc) + 1 ))

# libsrtp 2.5 rebuilt on OpenSSL from Debian's source package: Debian's binary package does its
# crypto through NSS, which makes SRTP cost about twice the forwarding itself (see docs/operations.md).
srtp_static=""
srtp_dir="$CACHE/libsrtp2-openssl"
if [ -f "$srtp_dir/libsrtp2.a" ]; then
  srtp_static="$srtp_dir/libsrtp2.a"
else
  log "building libsrtp2 on OpenSSL from Debian's source package"
  tmp="$(mktemp -d)"
  if ( cd "$tmp" && apt-get source -q libsrtp2 >&2 && cd libsrtp2-*/ && ./configure -q --enable-openssl >&2 \
       && make -j"$jobs" libsrtp2.a >&2 ); then
    mkdir -p "$srtp_dir" && cp "$tmp"/libsrtp2-*/libsrtp2.a "$srtp_dir/" && srtp_static="$srtp_dir/libsrtp2.a"
  else
    log "WARNING: could not rebuild libsrtp2 on OpenSSL; linking Debian's shared libsrtp2 (slower SRTP)"
  fi
  rm -rf "$tmp"
fi

src="$CACHE/src/mediasoup-$MS_VERSION"
rm -rf "$src" && mkdir -p "$src"
log "unpacking mediasoup@$MS_VERSION from the npm registry"
( cd "$CACHE" && npm pack -q "mediasoup@$MS_VERSION" >/dev/null )
tar xzf "$CACHE/mediasoup-$MS_VERSION.tgz" -C "$src" --strip-components=1
sp="$src/worker/subprojects"
rm -f "$sp"/{libuv,openssl,libsrtp3,flatbuffers,abseil-cpp,unordered-dense}.wrap
cp -r "$here/mediasoup-worker/subprojects/." "$sp/"

# Debian's libssl3 is built with kernel TLS. mediasoup's BIO callback answers every control
# operation with 1 unless it is exactly BIO_CB_RETURN; OpenSSL then believes kTLS is on, never
# allocates the DTLS write buffer, and the worker segfaults on the first handshake.
dtls="$src/worker/src/RTC/DtlsTransport.cpp"
sed -i 's/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1/(operationType \& BIO_CB_RETURN) ? static_cast<long>(ret) : 1/' "$dtls"
grep -q '(operationType & BIO_CB_RETURN)' "$dtls" || { log "DtlsTransport.cpp fix did not apply"; exit 1; }

log "building (meson $(meson --version), ninja $(ninja --version), $jobs jobs)"
( cd "$src/worker"
  meson setup --buildtype=release -Db_lto=false --wrap-mode=nodownload \
    -Dlibsrtp3:static-lib="$srtp_static" out/build >&2
  # The worker's sources include headers flatc generates (fbs/FBS/*.h), but not every object that
  # includes them depends on their generation: with an empty build tree, parallel jobs may
  # compile one before flatc ran ("sctpParameters.h: No such file"). Generate them first.
  generated="$(ninja -C out/build -t targets all | sed -n 's|^\(fbs/FBS/[^:]*\.h\): CUSTOM_COMMAND$|\1|p')"
  [ -n "$generated" ] || { log "no generated flatbuffers headers found among the build's targets"; exit 1; }
  # shellcheck disable=SC2086
  ninja -C out/build -j"$jobs" $generated >&2
  ninja -C out/build -j"$jobs" mediasoup-worker >&2 )
mkdir -p "$(dirname "$bin")"
install -m 0755 "$src/worker/out/build/mediasoup-worker" "$bin"
rm -rf "$src"
echo "$bin"
