# Sourced by the image scripts: which container tools to use, with the settings they need here.
# docker when an engine answers; otherwise buildah (build) and podman (run) on vfs storage with
# runc and cgroupfs, which work without a daemon, systemd or overlay support.
# Env: STRATA_ENGINE=docker|buildah to choose, CONTAINERS_STORAGE_DRIVER (default vfs).
images_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -z "${STRATA_ENGINE:-}" ]; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then STRATA_ENGINE=docker; else STRATA_ENGINE=buildah; fi
fi
export STRATA_ENGINE
storage_driver="${CONTAINERS_STORAGE_DRIVER:-vfs}"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$images_dir/containers.conf}"
BUILDAH=(buildah --storage-driver="$storage_driver")
PODMAN=(podman --storage-driver="$storage_driver" --runtime runc)

# Debian's container tools, installed on first use (as `npm run setup` installs what it needs).
# netavark and aardvark-dns are named, not left to podman's Recommends: without them apt picks the
# CNI plugins, whose networks have no DNS, and a service cannot find `nats` by its name; netavark
# runs iptables but does not depend on it.
ensure_container_tools() {
  [ "$STRATA_ENGINE" = docker ] && return 0
  local pkgs=() p
  for p in buildah podman runc podman-compose debootstrap netavark aardvark-dns iptables; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || pkgs+=("$p")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "missing ${pkgs[*]}: apt-get install ${pkgs[*]} (as root), or run with a Docker engine" >&2
    return 1
  fi
  echo "[images] apt-get install ${pkgs[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >&2
}
