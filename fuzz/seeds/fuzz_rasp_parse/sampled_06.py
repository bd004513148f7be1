from tracr.rasp import rasp
v1 = rasp.Map(lambda x: 2 * x, rasp.tokens)
v2 = rasp.Map(lambda x: x != 2, rasp.length)
v3 = rasp.Map(lambda x: 2 * x, v2)
v4 = rasp.LinearSequenceMap(rasp.length, v1, -2, -2)
v5 = rasp.LinearSequenceMap(rasp.tokens, v3, 1, -3)
v6 = rasp.LinearSequenceMap(v5, rasp.tokens, -1, 2)
v7 = rasp.SequenceMap(lambda x, y: min(x, y), v6, v4)
program = v7
