"""The safetensors file format, read and written with the standard library (json + struct) and torch.

A file is an 8-byte little-endian header length N, N bytes of JSON
``{name: {"dtype", "shape", "data_offsets"}, "__metadata__": {str: str}}``, then the tensor bytes.
modelmap writes F32 tensors only, in name order, contiguous, the JSON compact with sorted keys and padded
with spaces to a multiple of 8 bytes. ``write_safetensors`` writes exactly those bytes, so a file that
modelmap wrote and this module read comes back byte for byte. ``read_safetensors`` treats every file as
untrusted and checks it as modelmap does (src/core/safetensors.cpp), raising ``SafetensorsError`` with one
line that names the file and the problem.
"""

import json
import os
import struct

import torch

MAX_HEADER = 100_000_000  # 100 MB, as the reference implementation
KNOWN_DTYPES = ("BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32", "F32", "U64", "I64", "F64",
                "F8_E4M3", "F8_E5M2")


class SafetensorsError(ValueError):
    """A file that is not a valid safetensors file, or not one modelmap reads."""


def _dump(obj):
    # nlohmann::json's dump(): compact, keys in byte order, UTF-8 unescaped, control characters as \u00xx.
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def encode_safetensors(tensors, metadata=None):
    """The bytes of a file holding ``tensors`` ({name: float32 tensor}) and ``metadata`` ({str: str})."""
    header = {}
    chunks = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensor '{name}' is a {type(t).__name__}, not a torch.Tensor")
        t = t.detach().to("cpu", torch.float32).contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        chunks.append(data)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"metadata '{k}' is not a string: safetensors metadata maps strings to strings")
        header["__metadata__"] = dict(metadata)
    text = _dump(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def decode_safetensors(data, what="<bytes>"):
    """``(tensors, metadata)`` from the bytes of a file; raises SafetensorsError naming ``what``."""

    def fail(why):
        return SafetensorsError(f"{what}: not a valid safetensors file: {why}")

    if len(data) < 8:
        raise fail("shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", data, 0)
    if n > MAX_HEADER:
        raise fail(f"header length {n} is over 100 MB")
    if n > len(data) - 8:
        raise fail(f"header length {n} runs past the end of the file")
    try:
        header = json.loads(bytes(data[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise fail("header is not valid JSON") from None
    if not isinstance(header, dict):
        raise fail("header is not a JSON object")
    body = memoryview(data)[8 + n:]
    metadata, spans, shapes = {}, [], {}

    def natural(x):
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    for name, e in header.items():
        if name == "__metadata__":
            if not isinstance(e, dict):
                raise fail("__metadata__ is not an object")
            for k, v in e.items():
                if not isinstance(v, str):
                    raise fail(f"metadata value '{k}' is not a string")
                metadata[k] = v
            continue
        if not isinstance(e, dict) or not all(k in e for k in ("dtype", "shape", "data_offsets")):
            raise fail(f"tensor '{name}' lacks dtype, shape or data_offsets")
        dtype = e["dtype"]
        if not isinstance(dtype, str):
            raise fail(f"tensor '{name}' has a dtype that is not a string")
        if dtype not in KNOWN_DTYPES:
            raise fail(f"tensor '{name}' has unknown dtype '{dtype}'")
        if dtype != "F32":
            raise fail(f"tensor '{name}' is {dtype}; modelmap reads F32 only")
        shape = e["shape"]
        if not isinstance(shape, list):
            raise fail(f"tensor '{name}' has a shape that is not an array")
        numel = 1
        for d in shape:
            if not natural(d):
                raise fail(f"tensor '{name}' has a dimension that is not a non-negative integer")
            numel *= d
            if numel > 1 << 40:
                raise fail(f"tensor '{name}' is absurdly large")
        off = e["data_offsets"]
        if not isinstance(off, list) or len(off) != 2 or not natural(off[0]) or not natural(off[1]):
            raise fail(f"tensor '{name}' has data_offsets that are not two non-negative integers")
        begin, end = off
        if begin > end:
            raise fail(f"tensor '{name}' has data_offsets that end before they begin")
        if end > len(body):
            raise fail(f"tensor '{name}' has data_offsets past the end of the data")
        if end - begin != numel * 4:
            raise fail(f"tensor '{name}' holds {end - begin} bytes but F32 x shape needs {numel * 4}")
        spans.append((begin, end, name))
        shapes[name] = shape
    # The data must be covered exactly: in order, no overlap, no hole, nothing after the last tensor.
    at = 0
    for begin, end, name in sorted(spans):
        if begin < at:
            raise fail(f"tensor '{name}' overlaps the tensor before it")
        if begin > at:
            raise fail(f"a hole in the data before tensor '{name}'")
        at = end
    if at != len(body):
        raise fail(f"the data has {len(body) - at} bytes no tensor claims")
    tensors = {}
    for begin, end, name in spans:
        flat = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32) if end > begin else torch.zeros(0)
        tensors[name] = flat.reshape(shapes[name])
    return tensors, metadata


def read_safetensors(path):
    """``(tensors, metadata)`` of a file; raises SafetensorsError (or OSError) naming the path."""
    with open(path, "rb") as f:
        data = f.read()
    return decode_safetensors(data, str(path))


def write_safetensors(path, tensors, metadata=None):
    """Writes a file atomically (a temporary file, then a rename), as modelmap does."""
    data = encode_safetensors(tensors, metadata)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
