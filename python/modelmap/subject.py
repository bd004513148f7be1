"""modelmap's subject transformer as a torch.nn.Module, and its file format.

The same forward pass as modelmap's C++ reference (src/subject/model.cpp), for both block kinds:

* ``trained``: token + learned position embeddings; L pre-LayerNorm blocks of unmasked multi-head
  self-attention (padding keys masked out; scores scaled by 1/sqrt(d_head)) and a GELU MLP (exact, erf);
  a final LayerNorm; a per-position linear head over the program's output classes.
* ``compiled`` (what ``modelmap compile`` writes): the same embeddings and a beginning-of-sequence vector
  every input is prefixed with, no LayerNorm, unscaled attention, ReLU MLPs, heads and MLPs of their own
  widths; the head reads the residual stream with BOS dropped.

Parameter names are the file's tensor names (``embed.tokens``, ``blocks.0.attn.qkv.weight``, ...; see
docs/formats.md), so ``state_dict()`` is the file's content. Linear weights are stored (in, out):
``y = x @ W + b``. Token ids: 0 is padding, value v is ``1 + v - value_min``.
"""

import json
import math

import torch
import torch.nn.functional as F
from torch import nn

from .safetensors import SafetensorsError, read_safetensors, write_safetensors

FORMAT = "modelmap-subject"
FORMAT_VERSION = "1"
_RESERVED = ("format", "format_version", "architecture", "classes", "domain", "language", "program")


def _dump(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


class Affine(nn.Module):
    """``x @ weight + bias`` with weight stored (in, out), as modelmap's files hold it."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Norm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.bias = nn.Parameter(torch.zeros(d))

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, 1e-5)


class Embed(nn.Module):
    def __init__(self, vocab, max_len, d, compiled):
        super().__init__()
        self.tokens = nn.Parameter(torch.zeros(vocab, d))
        self.positions = nn.Parameter(torch.zeros(max_len, d))
        if compiled:
            self.bos = nn.Parameter(torch.zeros(d))


class Attention(nn.Module):
    def __init__(self, d, n_heads, d_head):
        super().__init__()
        self.n_heads, self.d_head = n_heads, d_head
        self.qkv = Affine(d, 3 * n_heads * d_head)  # columns: q heads, k heads, v heads
        self.out = Affine(n_heads * d_head, d)


class MLP(nn.Module):
    def __init__(self, d, d_mlp):
        super().__init__()
        self.fc = Affine(d, d_mlp)
        self.proj = Affine(d_mlp, d)


class Block(nn.Module):
    def __init__(self, arch):
        super().__init__()
        d = arch["d_model"]
        compiled = arch["block"] == "compiled"
        d_head = arch["head_width"] if compiled else d // arch["n_heads"]
        d_mlp = arch["mlp_width"] if compiled else 4 * d
        if not compiled:
            self.ln1 = Norm(d)
        self.attn = Attention(d, arch["n_heads"], d_head)
        if not compiled:
            self.ln2 = Norm(d)
        self.mlp = MLP(d, d_mlp)
        self.compiled = compiled


def same_outputs(a, b):
    """Outputs (lists of int, float or None) equal as modelmap prints them: floats to 6 significant digits,
    so within 1e-5 relative. What to compare `Subject.predict` with `modelmap predict` or `modelmap run` by."""
    if a is None or b is None or len(a) != len(b):
        return a == b
    for x, y in zip(a, b):
        if x is None or y is None:
            if x is not y:
                return False
        elif abs(x - y) > 1e-5 * max(1.0, abs(x)):
            return False
    return True


def check_architecture(arch, what="architecture"):
    """Raises ValueError naming the first field that modelmap would refuse (SubjectArch::validate)."""
    if not isinstance(arch, dict):
        raise ValueError(f"{what}: not a JSON object")
    for key in ("d_model", "n_layers", "n_heads", "vocab", "max_len", "n_classes"):
        v = arch.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 1_000_000:
            raise ValueError(f"{what}: lacks integer '{key}' in range")
    block = arch.get("block")
    if block not in ("trained", "compiled"):
        raise ValueError(f"{what}: unknown block kind {block!r} (this modelmap knows 'trained' and 'compiled')")
    if not 1 <= arch["d_model"] <= 4096:
        raise ValueError(f"{what}: d_model must be in 1..4096")
    if not 1 <= arch["n_layers"] <= 64:
        raise ValueError(f"{what}: n_layers must be in 1..64")
    if block == "compiled":
        for key in ("head_width", "mlp_width"):
            if not isinstance(arch.get(key), int) or arch[key] < 1:
                raise ValueError(f"{what}: lacks integer '{key}' in range")
        if not 1 <= arch["n_heads"] <= 256:
            raise ValueError(f"{what}: n_heads must be in 1..256")
    else:
        if arch["n_heads"] < 1 or arch["d_model"] % arch["n_heads"]:
            raise ValueError(f"{what}: n_heads must divide d_model")
        if arch.get("head_width", 0) or arch.get("mlp_width", 0):
            raise ValueError(f"{what}: head_width and mlp_width are for compiled blocks only")
    if not 2 <= arch["vocab"] <= 100_000:
        raise ValueError(f"{what}: vocab must be in 2..100000")
    if not 1 <= arch["max_len"] <= 4096:
        raise ValueError(f"{what}: max_len must be in 1..4096")
    if not 1 <= arch["n_classes"] <= 100_000:
        raise ValueError(f"{what}: n_classes must be in 1..100000")


class Subject(nn.Module):
    """A subject model: ``forward(ids)`` gives logits (batch, positions, classes).

    ``classes[k]`` is the output value that class k stands for (an int, a float or None); ``domain`` is
    ``{"value_min", "value_max", "len_min", "len_max"}``; ``language`` is "rasp" or "python"; ``program`` the
    source it was trained on ("" when unknown); ``info`` any further string metadata.
    """

    def __init__(self, arch, classes, domain, language="rasp", program="", info=None):
        super().__init__()
        arch = dict(arch)
        arch.setdefault("block", "trained")
        arch.setdefault("n_classes", len(classes))
        arch.setdefault("vocab", domain["value_max"] - domain["value_min"] + 2)
        arch.setdefault("max_len", domain["len_max"])
        check_architecture(arch)
        if len(classes) != arch["n_classes"]:
            raise ValueError(f"{len(classes)} classes listed for a head of {arch['n_classes']}")
        if arch["vocab"] != domain["value_max"] - domain["value_min"] + 2 or arch["max_len"] < domain["len_max"]:
            raise ValueError("the architecture's vocabulary or length does not fit its domain")
        self.arch, self.classes, self.domain = arch, list(classes), dict(domain)
        self.language, self.program, self.info = language, program, dict(info or {})
        d, compiled = arch["d_model"], arch["block"] == "compiled"
        self.embed = Embed(arch["vocab"], arch["max_len"], d, compiled)
        self.blocks = nn.ModuleList(Block(arch) for _ in range(arch["n_layers"]))
        if not compiled:
            self.ln_f = Norm(d)
        self.head = Affine(d, arch["n_classes"])

    @property
    def compiled(self):
        return self.arch["block"] == "compiled"

    def reset_parameters(self, generator=None, std=0.02):
        """Random weights for training: normal(0, std) embeddings and linear weights (the residual outputs
        scaled by 1/sqrt(2 L)), zero biases, unit LayerNorm gains."""
        scale = 1 / math.sqrt(2 * self.arch["n_layers"])
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith(".bias") or name == "embed.bos":
                    p.zero_()
                elif name.startswith("ln") or ".ln" in name:
                    p.fill_(1.0)
                else:
                    s = std * scale if name.endswith(("attn.out.weight", "mlp.proj.weight")) else std
                    p.copy_(torch.randn(p.shape, generator=generator) * s)
        return self

    def encode(self, inputs):
        """Token ids (batch, longest) of a list of inputs (lists of ints), padded with 0; checks the domain."""
        lo, hi = self.domain["value_min"], self.domain["value_max"]
        longest = max((len(x) for x in inputs), default=0)
        ids = torch.zeros(len(inputs), longest, dtype=torch.long)
        for i, x in enumerate(inputs):
            if not self.domain["len_min"] <= len(x) <= self.domain["len_max"]:
                raise ValueError(f"input {list(x)} has length {len(x)}, outside {self.domain['len_min']}..{self.domain['len_max']}")
            for k, v in enumerate(x):
                if not lo <= v <= hi:
                    raise ValueError(f"value {v} at position {k} of input {list(x)} is outside {lo}..{hi}")
                ids[i, k] = 1 + v - lo
        return ids

    def forward(self, ids, return_attention=False):
        """Logits (batch, n, classes) of token ids (batch, n) (0 = padding); with ``return_attention``, also
        every head's probabilities (batch, layers, heads, n, n) (a compiled model's BOS dropped)."""
        b, n = ids.shape
        x = self.embed.tokens[ids] + self.embed.positions[:n]
        keep = ids != 0
        if self.compiled:
            x = torch.cat([self.embed.bos.expand(b, 1, -1), x], dim=1)
            keep = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=ids.device), keep], dim=1)
        rows = x.shape[1]
        masked = (~keep).view(b, 1, 1, rows)
        patterns = []
        for block in self.blocks:
            a = block.attn
            h, dh = a.n_heads, a.d_head
            t = x if block.compiled else block.ln1(x)
            q, k, v = a.qkv(t).split(h * dh, dim=-1)
            q, k, v = (z.view(b, rows, h, dh).transpose(1, 2) for z in (q, k, v))  # (b, h, rows, dh)
            scores = q @ k.transpose(-1, -2)
            if not block.compiled:
                scores = scores / math.sqrt(dh)
            probs = scores.masked_fill(masked, float("-inf")).softmax(dim=-1)
            if return_attention:
                patterns.append(probs[:, :, 1:, 1:] if block.compiled else probs)
            x = x + a.out((probs @ v).transpose(1, 2).reshape(b, rows, h * dh))
            t = x if block.compiled else block.ln2(x)
            f = block.mlp.fc(t)
            f = torch.relu(f) if block.compiled else F.gelu(f)
            x = x + block.mlp.proj(f)
        if self.compiled:
            x = x[:, 1:]
        else:
            x = self.ln_f(x)
        logits = self.head(x)
        if return_attention:
            return logits, torch.stack(patterns, dim=1)
        return logits

    @torch.no_grad()
    def predict(self, inputs, batch=1024):
        """The model's output on each input: per position, the class with the largest logit, as its value.
        Inputs of one length run together (no padding), as modelmap runs them."""
        out = [None] * len(inputs)
        by_len = {}
        for i, x in enumerate(inputs):
            by_len.setdefault(len(x), []).append(i)
        device = self.head.weight.device
        for idx in by_len.values():
            for s in range(0, len(idx), batch):
                part = idx[s:s + batch]
                ids = self.encode([inputs[i] for i in part]).to(device)
                best = self.forward(ids).argmax(dim=-1).tolist()
                for i, row in zip(part, best):
                    out[i] = [self.classes[c] for c in row]
        return out

    def metadata(self):
        """The file's metadata, as modelmap writes it (subject_to_safetensors)."""
        meta = {k: str(v) for k, v in self.info.items() if k not in _RESERVED}
        arch = {k: self.arch[k] for k in ("d_model", "n_layers", "n_heads", "vocab", "max_len", "n_classes", "block")}
        if self.compiled:
            arch["head_width"], arch["mlp_width"] = self.arch["head_width"], self.arch["mlp_width"]
        meta.update({
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "architecture": _dump(arch),
            "classes": _dump(self.classes),
            "domain": _dump({k: self.domain[k] for k in ("value_min", "value_max", "len_min", "len_max")}),
            "language": self.language,
            "program": self.program,
        })
        return meta


def subject_from_file_content(tensors, meta, what):
    """A Subject from a file's tensors and metadata; raises SafetensorsError naming ``what``."""

    def field(key):
        if key not in meta:
            raise SafetensorsError(f"{what}: not a modelmap subject model (no '{key}' in its metadata)")
        return meta[key]

    if field("format") != FORMAT:
        raise SafetensorsError(f"{what}: not a modelmap subject model (format '{meta['format']}')")
    if field("format_version") != FORMAT_VERSION:
        raise SafetensorsError(f"{what}: subject model format version {meta['format_version']}, but this package "
                               f"reads {FORMAT_VERSION}")
    try:
        arch = json.loads(field("architecture"))
        check_architecture(arch, "architecture")
        classes = json.loads(field("classes"))
        if not isinstance(classes, list) or not all(c is None or (isinstance(c, (int, float)) and not isinstance(c, bool))
                                                    for c in classes):
            raise ValueError("'classes' is not a JSON array of numbers and nulls")
        domain = json.loads(field("domain"))
        if not isinstance(domain, dict) or not all(isinstance(domain.get(k), int)
                                                   for k in ("value_min", "value_max", "len_min", "len_max")):
            raise ValueError("invalid 'domain' metadata")
        info = {k: v for k, v in meta.items() if k not in _RESERVED}
        m = Subject(arch, classes, domain, field("language"), field("program"), info)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        if isinstance(e, SafetensorsError):
            raise
        raise SafetensorsError(f"{what}: {e}") from None
    expected = m.state_dict()
    for name, p in expected.items():
        if name not in tensors:
            raise SafetensorsError(f"{what}: missing parameter '{name}'")
        if list(tensors[name].shape) != list(p.shape):
            raise SafetensorsError(f"{what}: parameter '{name}' has the wrong shape")
    m.load_state_dict({name: tensors[name] for name in expected})
    m.extra_tensors = {k: v for k, v in tensors.items() if k not in expected}
    return m


def load_subject(path):
    """The subject model in a modelmap safetensors file (``corpus export``, ``compile``, ``save_subject``).
    Raises SafetensorsError with one line naming the file and the problem."""
    tensors, meta = read_safetensors(path)
    return subject_from_file_content(tensors, meta, str(path))


def save_subject(module, path, program=None, language=None, info=None):
    """Writes ``module`` in modelmap's format (``modelmap decompile`` and ``predict`` read it). ``program``,
    ``language`` and ``info`` (string metadata, e.g. {"accuracy": "0.99"}) override the module's own."""
    if not isinstance(module, Subject):
        raise TypeError("save_subject writes a modelmap.Subject (build one, or load_subject a file)")
    if program is not None:
        module.program = program
    if language is not None:
        module.language = language
    if info:
        module.info.update({k: str(v) for k, v in info.items()})
    tensors = dict(getattr(module, "extra_tensors", {}))
    tensors.update(module.state_dict())
    write_safetensors(path, tensors, module.metadata())
