"""modelmap's subject models in PyTorch: load what modelmap writes, train your own, save it for
``modelmap decompile``. Standard library and torch only (Debian's python3-torch).

    from modelmap import load_subject, save_subject, train_subject, run_program
    model = train_subject(run_program("hist.rasp"), program=open("hist.rasp").read())
    save_subject(model, "hist.safetensors")      # then: modelmap decompile hist.safetensors
"""

from .safetensors import (SafetensorsError, decode_safetensors, encode_safetensors, read_safetensors,
                          write_safetensors)
from .subject import Subject, load_subject, same_outputs, save_subject
from .train import run_program, train_subject

__all__ = ["Subject", "load_subject", "save_subject", "same_outputs", "train_subject", "run_program", "SafetensorsError",
           "read_safetensors", "write_safetensors", "encode_safetensors", "decode_safetensors"]
