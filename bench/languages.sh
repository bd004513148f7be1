#!/usr/bin/env bash
# Sampler and evaluator throughput of both languages, the evaluator side by side with its CPython peer
# on the same programs and inputs, in one run. Needs a build (scripts/setup). Prints a markdown table.
# Usage: bench/languages.sh [programs=300] [peer_programs=20]
set -euo pipefail
cd "$(dirname "$0")/.."
programs="${1:-300}"
peer_programs="${2:-20}"
bin=build/bench/bench_languages
[ -x "$bin" ] || { echo "languages.sh: $bin is missing; run scripts/setup first" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "| language | accepted programs/s | rejection rate | evaluations/s (ours) | evaluations/s (CPython peer) | ratio |"
echo "|---|---|---|---|---|---|"
for lang in rasp python; do
  "$bin" --lang "$lang" --programs "$programs" --peer-programs "$peer_programs" --dump "$tmp/$lang.json" >"$tmp/$lang.ours"
  python3 bench/peer_languages.py "$tmp/$lang.json" >"$tmp/$lang.peer"
  python3 - "$tmp/$lang.ours" "$tmp/$lang.peer" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
s, e = o["sampler"], o["evaluator"]
assert e["checksum"] * p["evals"] == p["checksum"] * e["evals"], "peer computed different output lengths"
print(f"| {o['lang']} | {s['accepted_per_s']:.0f} | {s['rejection_rate']:.1%} | {e['evals_per_s']:.3g} | "
      f"{p['evals_per_s']:.3g} | {e['evals_per_s'] / p['evals_per_s']:.1f}x |")
PY
done
echo
echo "| language | prefixes | allowed tokens (ms a call) | every token tried (ms a call) | ratio |"
echo "|---|---|---|---|---|"
for lang in rasp python; do
  python3 -c "import json,sys; g=json.load(open(sys.argv[1]))['grammar']; r=g['reference_ms_per_call']; print(f\"| {sys.argv[2]} | {g['prefixes']} | {g['ms_per_call']:.4f} | \" + (f\"{r:.4f} | {r/g['ms_per_call']:.0f}x |\" if r else '— | — |'))" "$tmp/$lang.ours" "$lang"
done
for lang in rasp python; do
  python3 -c "import json,sys; o=json.load(open(sys.argv[1])); print(sys.argv[2]+' rejections:', o['sampler']['rejected'], '; evaluator:', o['evaluator']['programs'], 'programs x', o['evaluator']['inputs'], 'inputs')" "$tmp/$lang.ours" "$lang"
done
echo "peer: $(python3 -c 'import sys; print("CPython", sys.version.split()[0])')"
