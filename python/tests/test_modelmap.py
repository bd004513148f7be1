"""The Python package against modelmap's C++ (run by ctest with Debian's python3; see tests/CMakeLists.txt).

MODELMAP_BIN names the modelmap binary, MM_CASES_DIR the test cases. Every check compares the two sides:
predictions on whole domains, file bytes, error messages.
"""

import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import torch  # noqa: E402

import modelmap  # noqa: E402
from modelmap import same_outputs  # noqa: E402
from modelmap.safetensors import decode_safetensors, encode_safetensors  # noqa: E402

BIN = os.environ.get("MODELMAP_BIN", "modelmap")
CASES = os.environ.get("MM_CASES_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "tests", "cases"))


def slurp(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def spit(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def mm(*args, check=True, stdin=None):
    done = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, input=stdin)
    if check and done.returncode != 0:
        raise AssertionError(f"modelmap {' '.join(map(str, args))} failed ({done.returncode}): {done.stderr}")
    return done


def cpp_predictions(model_path, inputs=None, logits=False):
    """modelmap predict on the whole domain (inputs None) or on the given inputs: {input tuple: output}, or
    with ``logits`` {input tuple: (output, logits)}."""
    flags = ["--logits"] if logits else []
    if inputs is None:
        out = mm("predict", "--model", model_path, "--domain", *flags).stdout
    else:
        out = mm("predict", "--model", model_path, "--inputs", "-", *flags,
                 stdin="".join(json.dumps(x) + "\n" for x in inputs)).stdout
    rows = [json.loads(line) for line in out.splitlines()]
    return {tuple(r["input"]): (r["output"], r["logits"]) if logits else r["output"] for r in rows}


class Work(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)


class CorpusSubjectsInPyTorch(Work):
    """Every view of a corpus, exported, loads in PyTorch and predicts what modelmap predicts."""

    def check_corpus(self, corpus, sample=None):
        views = [int(line.split()[0]) for line in mm("corpus", "list", corpus).stdout.splitlines()[1:]]
        self.assertGreater(len(views), 0)
        for view in views:
            f = self.path(f"view{view}.safetensors")
            mm("corpus", "export", corpus, "--view", view, "-o", f)
            model = modelmap.load_subject(f)
            inputs = None
            if sample:
                rng = random.Random(view)
                d = model.domain
                inputs = [[rng.randint(d["value_min"], d["value_max"]) for _ in range(rng.randint(d["len_min"], d["len_max"]))]
                          for _ in range(sample)]
            want = cpp_predictions(f, inputs, logits=True)
            got = model.predict([list(x) for x in want])
            same = sum(same_outputs(g, w[0]) for g, w in zip(got, want.values()))
            self.assertEqual(same, len(want), f"view {view}: {len(want) - same} of {len(want)} inputs differ")
            # The logits too, up to float rounding (C++ loops against torch's kernels), one length at a time.
            by_len = {}
            for x, (_, z) in want.items():
                by_len.setdefault(len(x), []).append((list(x), z))
            with torch.no_grad():
                for n, rows in by_len.items():
                    ours = model(model.encode([x for x, _ in rows]))
                    torch.testing.assert_close(ours, torch.tensor([z for _, z in rows]), rtol=1e-4, atol=1e-4,
                                               msg=lambda m: f"view {view}, inputs of length {n}: {m}")
            # The file's bytes, read and written back; and the module saved anew, metadata rebuilt from fields.
            data = slurp(f)
            self.assertEqual(encode_safetensors(*decode_safetensors(data)), data, f"view {view}: bytes differ")
            g = self.path(f"view{view}.again.safetensors")
            modelmap.save_subject(model, g)
            self.assertEqual(slurp(g), data, f"view {view}: save_subject's bytes differ")
        return len(views)

    def test_trained_rasp_subjects_predict_alike_on_the_whole_domain(self):
        corpus = self.path("trained.sqlite")
        mm("corpus", "build", "--lang", "rasp", "--from", os.path.join(CASES, "corpus_rasp.jsonl"), "--preset", "tiny",
           "--views", 2, "--view-every", 50, "--threads", 1, "--out", corpus)
        self.assertGreaterEqual(self.check_corpus(corpus), 6)

    def test_compiled_rasp_subjects_predict_alike_on_the_whole_domain(self):
        corpus = self.path("compiled.sqlite")
        mm("corpus", "build", "--origin", "compiled", "--from", os.path.join(CASES, "corpus_rasp.jsonl"), "--views", 2,
           "--out", corpus)
        self.assertGreaterEqual(self.check_corpus(corpus), 6)

    def test_list_python_subjects_predict_alike_on_a_sample(self):
        # The list-Python domain (10^8 inputs) is too large to enumerate: 300 random inputs per view.
        corpus = self.path("python.sqlite")
        mm("corpus", "build", "--lang", "python", "--from", os.path.join(CASES, "corpus_python.jsonl"), "--preset",
           "tiny", "--views", 1, "--max-steps", 200, "--threshold", 0, "--threads", 1, "--out", corpus)
        self.assertGreaterEqual(self.check_corpus(corpus, sample=300), 1)

    def test_padded_batches_give_the_unpadded_logits(self):
        corpus = self.path("one.sqlite")
        mm("corpus", "build", "--lang", "rasp", "--from", os.path.join(CASES, "corpus_rasp.jsonl"), "--preset", "small",
           "--views", 1, "--max-steps", 100, "--threshold", 0, "--threads", 1, "--out", corpus)
        f = self.path("one.safetensors")
        mm("corpus", "export", corpus, "--view", 1, "-o", f)
        model = modelmap.load_subject(f)
        inputs = [[1], [2, 3, 4], [0, 1, 2, 3, 4], [4, 4]]
        padded = model(model.encode(inputs))
        for i, x in enumerate(inputs):
            alone = model(model.encode([x]))[0]
            torch.testing.assert_close(padded[i, :len(x)], alone, rtol=1e-5, atol=1e-5)


class TrainedInPyTorch(Work):
    def test_a_model_trained_by_the_package_decompiles_and_its_fidelity_checks_out(self):
        program = os.path.join(CASES, "rasp", "histogram.py")
        pairs = modelmap.run_program(program, modelmap=BIN)
        self.assertEqual(len(pairs), 3905)  # the whole RASP domain
        model = modelmap.train_subject(pairs, program=slurp(program, "r"), steps=3000, target_accuracy=0.99,
                                       seed=1, log=None)
        self.assertGreaterEqual(float(model.info["accuracy"]), 0.95)
        f = self.path("hist.safetensors")
        modelmap.save_subject(model, f)
        # modelmap reads it and predicts what PyTorch predicts on every input.
        want = cpp_predictions(f)
        got = model.predict([list(x) for x in want])
        self.assertTrue(all(same_outputs(g, w) for g, w in zip(got, want.values())))
        # modelmap decompile prints a program and its fidelity.
        done = mm("decompile", f, "--search-seconds", 3, "--threads", 1)
        m = re.search(r"fidelity: ([0-9.]+)% of positions, ([0-9.]+)% of sequences, on ([0-9,]+) inputs", done.stderr)
        self.assertIsNotNone(m, done.stderr)
        # The fidelity, recounted here: the decompiled program run by `modelmap run`, against PyTorch's outputs.
        prog = self.path("decompiled.rasp")
        spit(prog, done.stdout)
        ran = {tuple(x): y for x, y in modelmap.run_program(prog, modelmap=BIN)}
        ours = dict(zip(want, model.predict([list(x) for x in want])))
        positions = sum(len(y) for y in ours.values())
        agree = sum(x in ran and same_outputs([a], [b]) for x, y in ours.items() for a, b in zip(y, ran.get(x, y)))
        sequences = sum(x in ran and same_outputs(y, ran[x]) for x, y in ours.items())
        self.assertEqual(int(m.group(3).replace(",", "")), len(ours))
        self.assertAlmostEqual(float(m.group(1)), round(100 * agree / positions, 1), delta=0.051)
        self.assertAlmostEqual(float(m.group(2)), round(100 * sequences / len(ours), 1), delta=0.051)
        # A histogram model is not a constant: the search found something that reads the input.
        self.assertGreater(agree / positions, 0.9, done.stdout)


class BadFilesRefusedByBothSides(Work):
    """A malformed or foreign file: modelmap exits 2 with one line, Python raises SafetensorsError with one line;
    both name the file."""

    def good_bytes(self):
        model = modelmap.Subject({"d_model": 8, "n_layers": 1, "n_heads": 2}, [0, 1],
                                 {"value_min": 0, "value_max": 4, "len_min": 1, "len_max": 5})
        return encode_safetensors(model.state_dict(), model.metadata())

    def refuse(self, name, data, expect):
        f = self.path(name)
        spit(f, data)
        with self.assertRaises(modelmap.SafetensorsError) as e:
            modelmap.load_subject(f)
        py = str(e.exception)
        done = mm("predict", "--model", f, "--input", "[1]", check=False)
        self.assertEqual(done.returncode, 2, done.stderr)
        cpp = done.stderr.strip()
        for msg in (py, cpp):
            self.assertNotIn("\n", msg)
            self.assertIn(f, msg)
            self.assertIn(expect, msg)

    def test_the_good_file_loads_on_both_sides(self):
        f = self.path("good.safetensors")
        spit(f, self.good_bytes())
        modelmap.load_subject(f)
        self.assertEqual(len(mm("predict", "--model", f, "--input", "[1, 2]").stdout.strip()), len("[0, 0]"))

    def test_malformed_and_foreign_files(self):
        good = self.good_bytes()
        (n,) = struct.unpack_from("<Q", good)
        header = json.loads(good[8:8 + n])
        self.refuse("short.safetensors", good[:5], "shorter than the 8-byte header length")
        self.refuse("past.safetensors", struct.pack("<Q", 10_000) + good[8:100], "runs past the end of the file")
        self.refuse("notjson.safetensors", struct.pack("<Q", 8) + b"{nope!!}", "header is not valid JSON")
        self.refuse("truncated.safetensors", good[:-4], "past the end of the data")
        f16 = dict(header)
        f16["head.bias"] = dict(f16["head.bias"], dtype="F16")
        text = json.dumps(f16).encode()
        self.refuse("f16.safetensors", struct.pack("<Q", len(text)) + text + good[8 + n:], "modelmap reads F32 only")
        # Foreign: a valid safetensors file with no modelmap metadata; then a wrong format name.
        self.refuse("foreign.safetensors", encode_safetensors({"w": torch.ones(3)}), "not a modelmap subject model")
        meta = dict(header["__metadata__"], format="someone-else")
        tensors, _ = decode_safetensors(good)
        self.refuse("format.safetensors", encode_safetensors(tensors, meta), "not a modelmap subject model")
        del tensors["head.weight"]
        self.refuse("missing.safetensors", encode_safetensors(tensors, header["__metadata__"]),
                    "missing parameter 'head.weight'")


if __name__ == "__main__":
    unittest.main()
