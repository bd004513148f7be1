#!/usr/bin/env bash
# Our subject trainer against its peer, side by side in one run on the same programs:
# bench_subjects (ours) trains them `--slots` at a time; peer_subjects.py (plain PyTorch, one model at a
# time, same architecture and stopping rule) trains the same ones. Prints models to convergence per hour
# of both, the ratio, and our GFLOP/s against a large-sgemm peak measured in the same run.
# The peer needs Debian's python3-torch (for /usr/bin/python3); this script installs it if missing
# (as root) — it is needed for this benchmark only.
# Usage: bench/subjects.sh [lang=rasp] [programs=64] [preset=small] [threads=2] [bench_subjects options...]
# (e.g. `--min-params 1000000 --max-params 1200000` with the paper preset, to time one size)
set -euo pipefail
cd "$(dirname "$0")/.."
lang="${1:-rasp}"
programs="${2:-64}"
preset="${3:-small}"
threads="${4:-2}"
shift $(( $# < 4 ? $# : 4 ))
bin=build/bench/bench_subjects
[ -x "$bin" ] || { echo "subjects.sh: $bin is missing; run scripts/setup first" >&2; exit 2; }
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "subjects.sh: python3-torch is missing; run as root to install it" >&2; exit 2; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin" --lang "$lang" --programs "$programs" --preset "$preset" --threads "$threads" --dump "$tmp/jobs.json" "$@" \
  >"$tmp/ours.json" 2>"$tmp/ours.log"
PEER_THREADS="$threads" /usr/bin/python3 bench/peer_subjects.py "$tmp/jobs.json" >"$tmp/peer.json"
python3 - "$tmp/ours.json" "$tmp/peer.json" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
steps_o = [m["steps"] for m in o["models"]]; steps_p = [m["steps"] for m in p["models"]]
a = o["architecture"]
print(f"{o['programs']} {o['lang']} programs, preset {o['preset']} ({o['params']} parameters, d {a['d_model']}, "
      f"{a['n_layers']} layers, {a['n_heads']} heads, first model), "
      f"{o['slots']} slots, {o['threads']} threads; peer: torch {p['torch']}, {p['threads']} threads")
print("| trainer | models/hour | learned | mean steps to convergence | wall s |")
print("|---|---|---|---|---|")
mean = lambda xs: sum(xs) / max(len(xs), 1)
print(f"| modelmap ({o['trainer']} trainer) | {o['models_per_hour']:.0f} | {o['learned']}/{o['programs']} | {mean(steps_o):.0f} | {o['seconds']:.0f} |")
print(f"| PyTorch peer (one at a time) | {p['models_per_hour']:.0f} | {p['learned']}/{p['programs']} | {mean(steps_p):.0f} | {p['seconds']:.0f} |")
print(f"ratio: {o['models_per_hour'] / p['models_per_hour']:.2f}x; ours {o['gflops']:.2f} GFLOP/s against a "
      f"{o['sgemm_peak_gflops']:.0f} GFLOP/s sgemm peak ({o['fraction_of_peak']:.1%})")
PY
