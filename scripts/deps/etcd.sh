#!/usr/bin/env bash
# Install etcd from Debian (package etcd-server; bookworm ships 3.4.23) and link
# it as <repo>/.cache/bin/etcd. Idempotent: reuses a working cached etcd.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="$DEPS_BIN_DIR/etcd"

if [[ -x "$OUT" ]] && "$OUT" --version >/dev/null 2>&1; then
  echo "etcd $("$OUT" --version | sed -n 's/^etcd Version: //p'): cached at $OUT"
  exit 0
fi

if [[ ! -x /usr/bin/etcd ]] || ! /usr/bin/etcd --version >/dev/null 2>&1; then
  # The package ships an etcd service (init.d + systemd) that its postinst would
  # start on :2379; we never want a system etcd. A policy-rc.d that exits 101
  # forbids invoke-rc.d to start services during the install.
  policy=/usr/sbin/policy-rc.d
  added_policy=""
  if [[ ! -e "$policy" && "$(id -u)" == 0 ]]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && added_policy=1
  fi
  rc=0
  apt_install etcd-server || rc=$?
  [[ -n "$added_policy" ]] && rm -f "$policy"
  (( rc == 0 )) || exit "$rc"
  if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
    systemctl stop etcd || true
  fi
fi

mkdir -p "$DEPS_BIN_DIR"
ln -sfn /usr/bin/etcd "$OUT"
"$OUT" --version >/dev/null
echo "etcd $("$OUT" --version | sed -n 's/^etcd Version: //p'): $OUT -> /usr/bin/etcd"
