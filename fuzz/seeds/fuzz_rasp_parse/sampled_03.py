from tracr.rasp import rasp
v1 = rasp.Map(lambda x: x + 0.5, rasp.tokens)
v2 = rasp.SequenceMap(lambda x, y: x < y, rasp.length, rasp.indices)
v3 = rasp.SequenceMap(lambda x, y: max(x, y), v2, rasp.length)
v4 = rasp.SequenceMap(lambda x, y: min(x, y), v1, v3)
v5 = rasp.SequenceMap(lambda x, y: (x + y) % 5, rasp.length, rasp.tokens)
v6 = rasp.SequenceMap(lambda x, y: max(x, y), v4, v5)
program = v6
