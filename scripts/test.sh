#!/usr/bin/env bash
# The project's test command (see README): formatting, lints, unit and integration tests,
# benchmark smoke run, then the compatibility suite against real ZooKeeper clients and the
# real Java ZooKeeper (differential), then the ensemble tests (tests/ensemble). Needs the
# packages .ci/run installs.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test"
cargo test --workspace

echo "== benchmarks compile and run once"
cargo bench --workspace -- --test >/dev/null

echo "== fuzz smoke run (client request decoder 30 s, peer decoders 15 s)"
if cargo fuzz --version >/dev/null 2>&1; then
  (cd fuzz && cargo fuzz run --sanitizer=none request_decoder -- -max_total_time=30 -print_final_stats=0 2>&1 | tail -n 2)
  (cd fuzz && cargo fuzz run --sanitizer=none peer_decoder -- -max_total_time=15 -print_final_stats=0 2>&1 | tail -n 2)
else
  echo "cargo-fuzz not installed (cargo install cargo-fuzz --locked); skipping"
fi

echo "== systemd unit (systemd-analyze verify)"
cargo build --release --bin menagerie
bash scripts/check_systemd_unit.sh target/release/menagerie

echo "== simulator (400 seeds of 3 voters, 200 of 5 voters + 1 observer; docs/simulation.md)"
target/release/menagerie sim --seeds 400 --jobs 2
target/release/menagerie sim --seeds 200 --first 400 --nodes 5 --observers 1 --jobs 2

echo "== compatibility suite (kazoo, zkCli.sh, cli_mt, differential vs Java ZooKeeper)"
cargo build --release --bin menagerie
MENAGERIE_BIN="$PWD/target/release/menagerie" bash tests/compat/run_all.sh

echo "== ensemble tests (Java ZooKeeper 3.8 and Menagerie members, real processes; CI subset)"
MENAGERIE_BIN="$PWD/target/release/menagerie" bash tests/ensemble/run_ci.sh
