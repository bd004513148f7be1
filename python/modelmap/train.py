"""A plain training loop for a subject model, to read and edit: programs' outputs in, a Subject out."""

import json
import subprocess

import torch
import torch.nn.functional as F

from .subject import Subject


def run_program(program_path, lang="rasp", modelmap="modelmap", domain_flags=()):
    """Every input of the language's domain and the program's output on it, by ``modelmap run --domain``:
    a list of (input, output) pairs (inputs the program raises on are left out)."""
    cmd = [modelmap, "run", "--lang", lang, "--program", str(program_path), "--domain", *domain_flags]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip() or f"{' '.join(cmd)} failed ({done.returncode})")
    pairs = []
    for line in done.stdout.splitlines():
        row = json.loads(line)
        if row["output"] is not None:
            pairs.append((row["input"], row["output"]))
    return pairs


def _value_order(v):
    return (0, 0) if v is None else (1, v)


def train_subject(program_outputs, domain=None, d_model=16, n_layers=3, n_heads=2, steps=3000, batch_size=128,
                  lr=1e-3, weight_decay=0.0, seed=0, target_accuracy=1.0, language="rasp", program="",
                  device="cpu", log_every=500, log=print):
    """Trains a subject model (a ``Subject``, block kind "trained") on ``program_outputs``: (input, output)
    pairs, e.g. from ``run_program``. Classes are the distinct output values; the domain is inferred from the
    inputs unless given. Adam on per-position cross-entropy over random batches of the pairs; stops after
    ``steps`` or once per-position accuracy on all pairs reaches ``target_accuracy``. The model's ``info``
    records the steps and the final per-position accuracy."""
    pairs = [(list(x), list(y)) for x, y in program_outputs]
    if not pairs:
        raise ValueError("train_subject: no (input, output) pairs")
    for x, y in pairs:
        if len(x) != len(y):
            raise ValueError(f"train_subject: output {y} of input {x} has a different length")
    if domain is None:
        values = [v for x, _ in pairs for v in x]
        lengths = [len(x) for x, _ in pairs]
        domain = {"value_min": min(values), "value_max": max(values), "len_min": min(lengths), "len_max": max(lengths)}
    classes = sorted({v for _, y in pairs for v in y}, key=_value_order)
    index = {v: k for k, v in enumerate(classes)}
    arch = {"d_model": d_model, "n_layers": n_layers, "n_heads": n_heads}
    g = torch.Generator().manual_seed(seed)
    model = Subject(arch, classes, domain, language=language, program=program).reset_parameters(generator=g)
    model.to(device)

    ids = model.encode([x for x, _ in pairs]).to(device)
    labels = torch.full(ids.shape, -100, dtype=torch.long)
    for i, (_, y) in enumerate(pairs):
        labels[i, :len(y)] = torch.tensor([index[v] for v in y])
    labels = labels.to(device)

    def accuracy():
        model.eval()
        with torch.no_grad():
            right = total = 0
            for s in range(0, len(pairs), 4096):
                pred = model(ids[s:s + 4096]).argmax(-1)
                mask = labels[s:s + 4096] != -100
                right += (pred.eq(labels[s:s + 4096]) & mask).sum().item()
                total += mask.sum().item()
        model.train()
        return right / total

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    acc, step = 0.0, 0
    for step in range(1, steps + 1):
        pick = torch.randint(len(pairs), (batch_size,), generator=g).to(device)
        logits = model(ids[pick])
        loss = F.cross_entropy(logits.reshape(-1, len(classes)), labels[pick].reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps:
            acc = accuracy()
            if log:
                log(f"step {step}: loss {loss.item():.4f}, per-position accuracy {acc:.4f}")
            if acc >= target_accuracy:
                break
    model.info.update({"steps": str(step), "accuracy": f"{acc:.6f}", "trained_by": "python/modelmap train_subject"})
    return model.eval()
