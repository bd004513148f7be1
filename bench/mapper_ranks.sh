#!/usr/bin/env bash
# Data-parallel mapper training: the epoch time of one process against N local ranks (--procs N), each
# with --threads 1, side by side on one corpus and one configuration. Epoch times come from the
# checkpoints' records (the second epoch's, past the warm-up and the first epoch's allocations).
#
#   bench/mapper_ranks.sh CORPUS [ranks=2] [extra mapper-train flags...]
set -euo pipefail
corpus="${1:?usage: bench/mapper_ranks.sh CORPUS [ranks] [flags...]}"
ranks="${2:-2}"
shift $(( $# >= 2 ? 2 : 1 ))
bin="$(cd "$(dirname "$0")/.." && pwd)/build/modelmap"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
common=(mapper train --corpus "$corpus" --epochs 2 --patience 0 --threads 1 "$@")
"$bin" "${common[@]}" -o "$work/one.pt" >/dev/null 2>"$work/one.err" || { tail -n 3 "$work/one.err"; exit 1; }
"$bin" "${common[@]}" --procs "$ranks" -o "$work/many.pt" >/dev/null 2>"$work/many.err" || { tail -n 3 "$work/many.err"; exit 1; }
python3 - "$work" "$ranks" <<'PY'
import re, sys
work, ranks = sys.argv[1], int(sys.argv[2])
def epoch2(name):
    for line in open(f"{work}/{name}.err"):
        m = re.match(r"epoch 2/2: train loss ([0-9.]+).* ([0-9.]+) s$", line.strip())
        if m:
            return float(m.group(1)), float(m.group(2))
    sys.exit(f"no epoch 2 line in {name}.err")
(l1, t1), (ln, tn) = epoch2("one"), epoch2("many")
print(f"| ranks (--threads 1 each) | epoch 2 (s) | train loss | speed-up |")
print(f"|---|---|---|---|")
print(f"| 1 | {t1:.1f} | {l1:.4f} | 1.00x |")
print(f"| {ranks} | {tn:.1f} | {ln:.4f} | {t1 / tn:.2f}x |")
PY
