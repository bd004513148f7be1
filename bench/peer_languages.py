"""Peer of bench_languages: evaluates the same programs on the same inputs in CPython.
list-Python programs run as the Python they are; RASP programs run against tests/tracr_shim, a plain
Python evaluator with tracr's rules (what running the program in tracr costs, minus tracr's overheads).
Prints one JSON object: evals, seconds, evals_per_s."""
import json
import os
import sys
import time

dump = json.load(open(sys.argv[1]))
min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tracr_shim"))
fns = []
for src in dump["sources"]:
    ns = {}
    exec(src, ns)
    fns.append(ns["random_function"] if dump["lang"] == "python" else ns["program"])
inputs = dump["inputs"]
evals, checksum = 0, 0
t0 = time.perf_counter()
while True:
    for f in fns:
        for x in inputs:
            checksum += len(f(list(x)))
            evals += 1
    if time.perf_counter() - t0 >= min_seconds:
        break
seconds = time.perf_counter() - t0
print(json.dumps({"evals": evals, "seconds": seconds, "evals_per_s": evals / seconds, "checksum": checksum,
                  "python": sys.version.split()[0]}))
