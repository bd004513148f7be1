from tracr.rasp import rasp
v1 = rasp.Map(lambda x: x < 0, rasp.length)
v2 = rasp.LinearSequenceMap(v1, rasp.length, -2, 1)
v3 = rasp.LinearSequenceMap(rasp.indices, rasp.tokens, 1, -3)
v4 = rasp.SequenceMap(lambda x, y: min(x, y), v3, v2)
program = v4
