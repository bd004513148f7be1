"""Peer of bench_subjects: trains the same subject architecture with plain PyTorch, one model at a time,
with the same stopping rule (check every `check_every` steps; a full evaluation once the batch accuracy is
within `check_margin` of the threshold; converged at per-position accuracy >= threshold on the evaluation
set; then views every `view_every` steps). Reads the jobs bench_subjects wrote (--dump). Run with the
system python3 (Debian's python3-torch). Prints one JSON object."""
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tracr_shim"))

dump = json.load(open(sys.argv[1]))
limit = int(sys.argv[2]) if len(sys.argv) > 2 else len(dump["jobs"])
cfg = dump["config"]
threads = int(os.environ.get("PEER_THREADS", "0"))
if threads:
    torch.set_num_threads(threads)


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, key_mask):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.h) + key_mask
        x = x + self.out((att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))


class Subject(nn.Module):
    def __init__(self, a):
        super().__init__()
        d = a["d_model"]
        self.tok, self.pos = nn.Embedding(a["vocab"], d), nn.Embedding(a["max_len"], d)
        self.blocks = nn.ModuleList(Block(d, a["n_heads"]) for _ in range(a["n_layers"]))
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, a["n_classes"])
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * a["n_layers"]) if name.endswith(("out.weight", "proj.weight")) else 0.02
                nn.init.normal_(p, 0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, ids):
        key_mask = (ids == 0).float().mul(-1e9)[:, None, None, :]
        x = self.tok(ids) + self.pos.weight[: ids.shape[1]]
        for blk in self.blocks:
            x = blk(x, key_mask)
        return self.head(self.ln_f(x))


def key(v):
    if v is None:
        return None
    return float("%.6g" % v)


def run_job(job):
    a, dom = job["arch"], job["domain"]
    vmin, vmax, lmin, lmax = dom
    ns = {}
    exec(job["source"], ns)
    f = ns["random_function"] if dump["lang"] == "python" else ns["program"]
    rng = random.Random(job["seed"])
    torch.manual_seed(job["seed"])
    # Evaluation set: the whole domain when small (as bench_subjects), else a fixed random sample.
    size = sum((vmax - vmin + 1) ** n for n in range(lmin, lmax + 1))
    def draw():
        n = rng.randint(lmin, lmax)
        return [rng.randint(vmin, vmax) for _ in range(n)]
    if size <= 100000:
        import itertools
        evals = [list(x) for n in range(lmin, lmax + 1) for x in itertools.product(range(vmin, vmax + 1), repeat=n)]
    else:
        evals = [draw() for _ in range(10000)]
    classes = sorted({key(v) for x in evals for v in f(x)}, key=lambda c: (c is not None, c if c is not None else 0))
    class_of = {c: i for i, c in enumerate(classes)}
    a = dict(a, n_classes=len(classes))

    def encode(xs):
        ids, tgt = [], []
        for x in xs:
            y = f(x)
            pad = lmax - len(x)
            ids.append([v - vmin + 1 for v in x] + [0] * pad)
            tgt.append([class_of.get(key(v), -100) for v in y] + [-100] * pad)
        return torch.tensor(ids), torch.tensor(tgt)

    eval_ids, eval_tgt = encode(evals)
    if size <= 100000:
        # The whole domain is tabulated: draw a batch as a length, then a row of that length, vectorized.
        lengths = (eval_ids > 0).sum(1)
        starts = torch.tensor([int((lengths < n).sum()) for n in range(lmin, lmax + 1)])
        counts = torch.tensor([int((lengths == n).sum()) for n in range(lmin, lmax + 1)])
        gen = torch.Generator().manual_seed(job["seed"])

        def batch():
            which = torch.randint(0, len(counts), (cfg["batch"],), generator=gen)
            rows = starts[which] + (torch.rand(cfg["batch"], generator=gen) * counts[which]).long()
            return eval_ids[rows], eval_tgt[rows]
    else:
        def batch():
            return encode([draw() for _ in range(cfg["batch"])])

    model = Subject(a)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=1e-8)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg["warmup"])))

    def full_accuracy():
        with torch.no_grad():
            right = total = 0
            for i in range(0, len(evals), 4096):
                pred = model(eval_ids[i:i + 4096]).argmax(-1)
                tgt = eval_tgt[i:i + 4096]
                valid = tgt >= 0
                right += ((pred == tgt) & valid).sum().item()
                total += valid.sum().item()
            return right / max(total, 1)

    t0 = time.perf_counter()
    step, converged_at, views, attempts, next_view = 0, None, 0, 0, None
    while True:
        ids, tgt = batch()
        logits = model(ids)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["clip"])
        opt.step()
        sched.step()
        step += 1
        if converged_at is None:
            if step % cfg["check_every"] == 0:
                valid = tgt >= 0
                batch_acc = ((logits.argmax(-1) == tgt) & valid).sum().item() / max(valid.sum().item(), 1)
                if batch_acc >= cfg["threshold"] - 0.05 and full_accuracy() >= cfg["threshold"]:
                    converged_at, views, next_view = step, 1, step + cfg["view_every"]
            if converged_at is None and step >= cfg["max_steps"]:
                return {"status": "not learned", "steps": step, "seconds": time.perf_counter() - t0}
        elif step == next_view:
            attempts += 1
            views += full_accuracy() >= cfg["threshold"]
            next_view += cfg["view_every"]
        if converged_at is not None and (views >= cfg["views"] or attempts >= 2 * cfg["views"]):
            return {"status": "learned", "steps": converged_at, "seconds": time.perf_counter() - t0}


t0 = time.perf_counter()
results = [run_job(j) for j in dump["jobs"][:limit]]
seconds = time.perf_counter() - t0
learned = sum(r["status"] == "learned" for r in results)
print(json.dumps({"programs": len(results), "learned": learned, "seconds": seconds,
                  "models_per_hour": len(results) / seconds * 3600, "learned_per_hour": learned / seconds * 3600,
                  "threads": torch.get_num_threads(), "torch": torch.__version__, "models": results}))
