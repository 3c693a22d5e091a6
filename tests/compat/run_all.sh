#!/usr/bin/env bash
# Compatibility suite: real ZooKeeper clients (kazoo, the Java client, zkCli.sh, the C client
# cli_mt) against the real Java ZooKeeper 3.8 and Menagerie, compared with each other.
#
#   bash tests/compat/run_all.sh             # Menagerie from $MENAGERIE_BIN
#                                            # (default: target/release/menagerie; built elsewhere)
#   bash tests/compat/run_all.sh --selftest  # Java vs Java only: checks the harness and its masking
#
# Needs: python3 with kazoo; Debian packages zookeeper (Java server, jars, zkCli.sh) and
# zookeeper-bin (cli_mt); a JDK (javac) for the Java-client scenario; chromium, chromium-driver
# and pip selenium for the console's browser test. Builds nothing.
# Every test prints "TESTRESULT PASS|FAIL <name>"; the last line is "N passed, N failed".
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export MENAGERIE_BIN="${MENAGERIE_BIN:-$ROOT/target/release/menagerie}"
export PYTHONDONTWRITEBYTECODE=1
PY="${PYTHON:-python3}"
STEP_TIMEOUT=150 # seconds per script (the whole suite takes about two minutes)

selftest=0
case "${1:-}" in
  --selftest) selftest=1 ;;
  "") ;;
  *) echo "usage: $0 [--selftest]" >&2; exit 2 ;;
esac

pass=0
fail=0
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/compat-run-all.XXXXXX")"
trap 'rm -rf "$LOGDIR"' EXIT

# run NAME SCRIPT ARGS...: run one script, show its output, count its TESTRESULT lines.
run() {
  local name="$1"; shift
  local log="$LOGDIR/$name.log"
  echo
  echo "=== $name: $*"
  local t0=$SECONDS
  timeout --kill-after=10 "$STEP_TIMEOUT" "$PY" "$HERE/$@" >"$log" 2>&1
  local rc=$?
  cat "$log"
  local p f
  p=$(grep -c '^TESTRESULT PASS ' "$log")
  f=$(grep -c '^TESTRESULT FAIL ' "$log")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      echo "TESTRESULT FAIL $name (timed out after ${STEP_TIMEOUT} s)"
    else
      echo "TESTRESULT FAIL $name (exit status $rc without a test result)"
    fi
    f=1
  fi
  pass=$((pass + p))
  fail=$((fail + f))
  echo "--- $name: $p passed, $f failed ($((SECONDS - t0)) s)"
}

missing=()
[ -x /usr/share/zookeeper/bin/zkCli.sh ] || missing+=("zookeeper (apt)")
[ -x /usr/lib/zookeeper/bin/cli_mt ] || missing+=("zookeeper-bin (apt)")
"$PY" -c 'import kazoo' 2>/dev/null || missing+=("kazoo (pip)")
"$PY" -c 'import prometheus_client' 2>/dev/null || missing+=("prometheus_client (pip)")
"$PY" -c 'import puresasl' 2>/dev/null || missing+=("pure-sasl (pip, acl_test.py)")
"$PY" -c 'import cryptography' 2>/dev/null || missing+=("cryptography (pip, tls_test.py)")
command -v javac >/dev/null 2>&1 || missing+=("a JDK with javac (apt default-jdk-headless)")
command -v tmux >/dev/null 2>&1 || missing+=("tmux (apt)")
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || missing+=("chromium chromium-driver (apt, console_test.py)")
"$PY" -c 'import selenium' 2>/dev/null || missing+=("selenium (pip, console_test.py)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "compat suite: missing prerequisites: ${missing[*]}"
fi

if [ "$selftest" -eq 1 ]; then
  cand=java
else
  cand=menagerie
  if [ ! -x "$MENAGERIE_BIN" ]; then
    echo "compat suite: Menagerie binary '$MENAGERIE_BIN' does not exist or is not executable."
    echo "Build it with 'cargo build --release --bin menagerie' or point MENAGERIE_BIN at it."
    echo "Running only the harness self-test (Java ZooKeeper vs Java ZooKeeper)."
    echo "TESTRESULT FAIL menagerie-binary-present"
    fail=$((fail + 1))
    cand=java
  fi
fi

# Harness self-test: the kazoo scenario must give identical records on two Java servers
# (with --selftest every test below is Java vs Java anyway).
if [ "$cand" = menagerie ]; then
  run selftest-kazoo differential.py --scenario kazoo --candidate java
fi

run differential-kazoo differential.py --scenario kazoo --candidate "$cand"
run differential-kazoo-sessions differential.py --scenario kazoo_sessions --candidate "$cand"
run differential-javaclient differential.py --scenario javaclient --candidate "$cand"
run differential-reaper differential.py --scenario javaclient_reaper --candidate "$cand"
run restart restart_test.py --candidate "$cand"
run zkcli zkcli_test.py --servers "java,$cand"
run cli_mt cli_mt_test.py --servers "java,$cand"
run acl acl_test.py --servers "java,$cand"
run tls tls_test.py --servers "java,$cand"
if [ "$cand" = menagerie ]; then
  run cli cli_test.py # menagerie cli vs zkCli.sh (needs tmux for the interactive part)
fi
run fourlw fourlw_test.py --servers "java,$cand"
run zktop zktop_test.py --servers "java,$cand"
run recipes recipes_test.py --servers "java,$cand"
run admin admin_test.py --servers "java,$cand"
if [ "$cand" = menagerie ]; then
  run console console_test.py # the web console in headless Chromium (screenshots: target/console-screenshots)
fi
if [ "$cand" = menagerie ]; then
  run stress stress_test.py --servers java,menagerie
else
  run stress stress_test.py --servers java
fi
run crash crash_test.py --servers "$cand" --rounds 5
if [ "$cand" = menagerie ]; then
  run interop interop_test.py
  run inspect inspect_test.py
fi

echo
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
