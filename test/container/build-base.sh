#!/usr/bin/env bash
# Builds a local stand-in for node:20-bookworm-slim, so the image can be built and tested where no container
# registry is reachable: a minimal Debian bookworm from the Debian mirror apt already uses (debootstrap), plus
# this machine's own Node.js binary and npm, imported into podman as one layer.
#
#   bash test/container/build-base.sh [IMAGE]        (default localhost/ward-base:bookworm)
#   podman build --build-arg BASE_IMAGE=localhost/ward-base:bookworm -t ward .
#
# Needs root, debootstrap and podman (apt-get install debootstrap podman runc). Takes about a minute the first time;
# a second run with the image already present does nothing unless FORCE=1.
set -euo pipefail

IMAGE="${1:-localhost/ward-base:bookworm}"
SUITE=bookworm

if [ "${FORCE:-0}" != 1 ] && podman image exists "$IMAGE"; then
  echo "build-base: $IMAGE already present (FORCE=1 rebuilds)"
  exit 0
fi

# The mirror apt is configured with (deb822 or one-line sources), unless DEBIAN_MIRROR says otherwise.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -E '^(URIs:|deb )' | grep -E '/debian/?([[:space:]]|$)' |
    sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//' | head -n1 || true)"
fi
: "${mirror:?no Debian mirror found in /etc/apt; set DEBIAN_MIRROR}"

node_bin="$(command -v node)"
node_prefix="$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)"
npm_dir="$node_prefix/lib/node_modules/npm"
[ -d "$npm_dir" ] || { echo "build-base: npm not found beside $node_bin ($npm_dir)" >&2; exit 1; }

root="$(mktemp -d /var/tmp/ward-base.XXXXXX)"
# debootstrap mounts proc and sys inside the target: unmount before removing, and never cross into them.
trap 'umount -R "$root/proc" "$root/sys" 2>/dev/null; rm -rf --one-file-system "$root" "$root.log"' EXIT

echo "build-base: debootstrap $SUITE from $mirror"
debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$root.log" 2>&1 || {
  tail -n 30 "$root.log" >&2
  exit 1
}
rm -f "$root.log"

echo "build-base: adding $("$node_bin" --version) from $node_bin"
install -m 0755 "$node_bin" "$root/usr/local/bin/node"
mkdir -p "$root/usr/local/lib/node_modules"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# Smaller, like the official slim images: no apt lists, docs or caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*

echo "build-base: importing as $IMAGE"
tar -C "$root" -c . | podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["node"]' \
  - "$IMAGE" >/dev/null
# runc and explicit limits: see test/container/image.test.ts (hybrid cgroups, a low hard RLIMIT_NOFILE).
runtime=()
if command -v runc >/dev/null; then runtime=(--runtime runc); fi
podman "${runtime[@]}" run --rm --network none --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$IMAGE" node -e 'console.log("build-base: node " + process.version + " runs in " + process.platform)'
