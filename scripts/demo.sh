#!/usr/bin/env bash
# The demo: start the simulators, scrape every provider and league into ./demo-data (or the folder
# given, relative to the repo), monitor until the simulated games end (60 s at most), stop the
# simulators, print what was captured. Usage: scripts/demo.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
OUT=${1:-demo-data}
MARK=.snuper-demo  # says a folder is a demo's output, so the next demo may replace it

if [ -e "$OUT" ] && [ ! -e "$OUT/$MARK" ] && [ -n "$(ls -A "$OUT" 2>/dev/null || echo x)" ]; then
    echo "demo: $OUT is not a previous demo's output; not replacing it (pick another DEMO_DIR)" >&2
    exit 2
fi
exports=$(mktemp)
sim_log=$(mktemp)

echo "== removing the previous demo output in $OUT"
rm -rf "$OUT"
mkdir -p "$OUT"
touch "$OUT/$MARK"

echo "== starting the simulators"
"$BIN/snuper" sim --seed 7 --speed 60 >"$exports" 2>"$sim_log" &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; rm -f "$exports" "$sim_log"' EXIT
for _ in $(seq 100); do
    grep -q '^export ' "$exports" && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$sim_log"; exit 1; }
    sleep 0.1
done
cat "$exports"
eval "$(cat "$exports")"

echo "== scrape"
"$BIN/snuper" -t scrape -o "$OUT"

echo "== monitor (until the games end, at most 60 s)"
"$BIN/snuper" -t monitor -o "$OUT" --heartbeat 5 --max-runtime 60

echo "== summary"
"$BIN/python" scripts/summary.py "$OUT"
