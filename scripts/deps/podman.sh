#!/usr/bin/env bash
# A Docker-API engine for the container tests (testcontainers) and image builds on a machine
# without Docker: Debian's podman serving the Docker API on a unix socket, started in the
# background when it is not answering. Prints the socket's DOCKER_HOST on its last line.
#   TOKENROUTE_PODMAN_SOCKET  socket path (default /run/podman/podman.sock)
# Rootful podman with runc and cgroupfs (the sandbox has no systemd); default ulimits are set
# because podman's inherited ones are too high for runc here.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/lib.sh"

socket="${TOKENROUTE_PODMAN_SOCKET:-/run/podman/podman.sock}"

command -v podman >/dev/null && command -v runc >/dev/null || apt_install podman runc uidmap
# Containers on a test network reach each other by name (the gateway dials `epp:9002`): with
# Debian's podman 4 on its CNI backend that is the dnsname plugin's job, a package of its own.
# Without it every name lookup fails and the gateway quietly fails open.
if [[ "$(podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null)" == cni && ! -x /usr/lib/cni/dnsname ]]; then
  apt_install golang-github-containernetworking-plugin-dnsname
fi

conf=/etc/containers/containers.conf
if ! grep -q 'tokenroute' "$conf" 2>/dev/null; then
  mkdir -p /etc/containers
  cat >>"$conf" <<'CONF'
# tokenroute (scripts/deps/podman.sh): runc with cgroupfs, no systemd in this sandbox.
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
fi

ping() { curl -fsS --max-time 3 --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; }
if ! ping; then
  mkdir -p "$(dirname "$socket")"
  log="${DEPS_REPO_ROOT}/.cache/podman-service.log"
  mkdir -p "$(dirname "$log")"
  nohup podman system service --time=0 "unix://$socket" >"$log" 2>&1 &
  for _ in $(seq 1 100); do ping && break; sleep 0.1; done
  ping || { echo "podman service did not answer on $socket (log: $log)" >&2; tail -20 "$log" >&2; exit 1; }
fi
echo "DOCKER_HOST=unix://$socket"
