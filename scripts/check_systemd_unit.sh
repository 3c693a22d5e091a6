#!/usr/bin/env bash
# Checks dist/systemd/menagerie.service with `systemd-analyze verify` (Debian's systemd
# package), with ExecStart pointed at the given menagerie binary (verify requires it to
# exist). Without systemd-analyze it says so and succeeds; the unit's content is also checked
# by `cargo test -p menagerie --test operator` (unit_file_runs_the_server_with_readiness).
#
#   bash scripts/check_systemd_unit.sh target/release/menagerie
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(realpath "${1:?usage: $0 path/to/menagerie}")"
if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "systemd-analyze not installed (apt-get install systemd); skipping"
  exit 0
fi
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/local/bin/menagerie#$bin#" dist/systemd/menagerie.service >"$dir/menagerie.service"
out="$(systemd-analyze verify "$dir/menagerie.service" 2>&1)" || { echo "$out"; exit 1; }
# verify exits 0 on some warnings (an unknown key is "ignored"): fail on any output about the unit.
if printf '%s\n' "$out" | grep -q 'menagerie.service'; then
  echo "$out"
  exit 1
fi
echo "systemd-analyze verify: dist/systemd/menagerie.service OK"
