"""Every view of a corpus, exported by modelmap and loaded in PyTorch: are the predictions the same?

    PYTHONPATH=python /usr/bin/python3 python/tools/parity.py CORPUS [--limit N] [--modelmap build/modelmap]
        [--sample K]

For each view (all, or the first N): `corpus export`, then `predict --domain --logits` (or K random inputs
with --sample, for domains too large to enumerate) against `modelmap.load_subject(...).predict`. Prints one
line per 100 views and a summary: views, inputs compared, inputs whose predictions differ, the largest
logit difference. Exits 1 if any prediction differs.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

import modelmap  # noqa: E402
from modelmap import same_outputs  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("corpus")
    ap.add_argument("--limit", type=int, default=0, help="the first N views (0 = all)")
    ap.add_argument("--sample", type=int, default=0, help="K random inputs per view instead of the whole domain")
    ap.add_argument("--modelmap", default="build/modelmap")
    a = ap.parse_args()
    listing = subprocess.run([a.modelmap, "corpus", "list", a.corpus], capture_output=True, text=True, check=True).stdout
    views = [int(line.split()[0]) for line in listing.splitlines()[1:]]
    if a.limit:
        views = views[:a.limit]
    compared = differ = 0
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        f = os.path.join(tmp, "v.safetensors")
        for k, view in enumerate(views, 1):
            subprocess.run([a.modelmap, "corpus", "export", a.corpus, "--view", str(view), "-o", f], check=True,
                           capture_output=True)
            model = modelmap.load_subject(f)
            cmd = [a.modelmap, "predict", "--model", f, "--logits"]
            stdin = None
            if a.sample:
                rng, d = random.Random(view), model.domain
                xs = [[rng.randint(d["value_min"], d["value_max"]) for _ in range(rng.randint(d["len_min"], d["len_max"]))]
                      for _ in range(a.sample)]
                cmd += ["--inputs", "-"]
                stdin = "".join(json.dumps(x) + "\n" for x in xs)
            else:
                cmd += ["--domain"]
            rows = [json.loads(line) for line in
                    subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=True).stdout.splitlines()]
            got = model.predict([r["input"] for r in rows])
            by_len = {}
            for r, g in zip(rows, got):
                compared += 1
                differ += not same_outputs(g, r["output"])
                by_len.setdefault(len(r["input"]), []).append(r)
            with torch.no_grad():
                for group in by_len.values():
                    ours = model(model.encode([r["input"] for r in group]))
                    worst = max(worst, (ours - torch.tensor([r["logits"] for r in group])).abs().max().item())
            if k % 100 == 0 or k == len(views):
                print(f"{k}/{len(views)} views: {compared:,} inputs compared, {differ} differ, "
                      f"largest logit difference {worst:.2e}", flush=True)
    print(f"parity: {len(views)} views of {a.corpus}: {compared:,} inputs, predictions differ on {differ}; "
          f"largest |logit difference| {worst:.2e}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
