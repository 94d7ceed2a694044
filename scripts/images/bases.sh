#!/usr/bin/env bash
# Local base images for the Dockerfile's BUILD_IMAGE / RUNTIME_IMAGE on a machine where no
# container registry is reachable (nothing is pulled): both are made from a Debian bookworm
# root filesystem built here with debootstrap from Debian's package mirror, cached under
# .cache/images/. Node.js 20 is not in bookworm (it has 18), so the host's own Node 20 binary
# and npm are copied in — the same ones the tests run on. The build base also trusts the host's CA
# bundle (a machine whose registry traffic goes through a TLS-inspecting egress proxy needs its
# CA for `npm ci`); the runtime base keeps Debian's own bundle.
#   localhost/tokenroute/build-base:bookworm-node20    minbase + ca-certificates + unzip + node/npm
#   localhost/tokenroute/runtime-base:bookworm         scratch + the dynamic loader, glibc,
#                                                      libstdc++/libgcc_s, CA certificates and a
#                                                      nonroot user 65532 (distroless-style, no shell)
# Prints the two image names as BUILD_IMAGE=… and RUNTIME_IMAGE=… lines.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../deps/lib.sh"

cache="$DEPS_REPO_ROOT/.cache/images"
build_image=localhost/tokenroute/build-base:bookworm-node20
runtime_image=localhost/tokenroute/runtime-base:bookworm
mkdir -p "$cache"

command -v podman >/dev/null || apt_install podman runc uidmap
command -v debootstrap >/dev/null || apt_install debootstrap

has_image() { podman image exists "$1"; }

rootfs_tar="$cache/bookworm-minbase.tar"
if [[ ! -s "$rootfs_tar" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "bases: debootstrap bookworm (minbase) ..."
  debootstrap --variant=minbase --include=ca-certificates,unzip bookworm "$work/rootfs" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*
  tar -C "$work/rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work"
  trap - EXIT
fi

node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
node_version="$("$node_bin" --version)"
[[ "$node_version" == v20.* ]] || { echo "bases: need the host's Node.js 20, found $node_version" >&2; exit 1; }

host_ca=/etc/ssl/certs/ca-certificates.crt
stamp="$node_version $(cat "$rootfs_tar" "$host_ca" 2>/dev/null | sha256sum | cut -c1-16)"
if ! has_image "$build_image" || [[ "$(podman image inspect --format '{{index .Labels "tokenroute.base"}}' "$build_image" 2>/dev/null)" != "$stamp" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/rootfs"
  tar -C "$work/rootfs" -xf "$rootfs_tar"
  install -D -m 0755 "$node_bin" "$work/rootfs/usr/local/bin/node"
  mkdir -p "$work/rootfs/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$work/rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$work/rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$work/rootfs/usr/local/bin/npx"
  [[ -s "$host_ca" ]] && cp -L "$host_ca" "$work/rootfs/usr/local/share/ca-certificates-host.crt"
  tar -C "$work/rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates-host.crt' \
    --change "LABEL tokenroute.base=\"$stamp\"" \
    --change 'CMD ["/bin/bash"]' - "$build_image" >/dev/null 2>&1

  # The runtime base: only what node and the native addons load (ldd of node and zeromq's addon).
  rt="$work/runtime"
  mkdir -p "$rt/lib/x86_64-linux-gnu" "$rt/lib64" "$rt/etc/ssl/certs" "$rt/tmp" "$rt/home/nonroot"
  for lib in libc.so.6 libm.so.6 libdl.so.2 libpthread.so.0 libgcc_s.so.1 libstdc++.so.6 librt.so.1; do
    cp -L "$work/rootfs/lib/x86_64-linux-gnu/$lib" "$rt/lib/x86_64-linux-gnu/" 2>/dev/null \
      || cp -L "$work/rootfs/usr/lib/x86_64-linux-gnu/$lib" "$rt/lib/x86_64-linux-gnu/"
  done
  cp -L "$work/rootfs/lib64/ld-linux-x86-64.so.2" "$rt/lib64/"
  cp -L "$work/rootfs/etc/ssl/certs/ca-certificates.crt" "$rt/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$rt/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$rt/etc/group"
  chmod 1777 "$rt/tmp"
  chown 65532:65532 "$rt/home/nonroot"
  tar -C "$rt" -c . | podman import --change 'USER 65532:65532' --change "LABEL tokenroute.base=\"$stamp\"" - "$runtime_image" >/dev/null 2>&1
  rm -rf "$work"
  trap - EXIT
fi
echo "BUILD_IMAGE=$build_image"
echo "RUNTIME_IMAGE=$runtime_image"
