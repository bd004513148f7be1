from tracr.rasp import rasp
v1 = rasp.Map(lambda x: x + 3, rasp.length)
v2 = rasp.numerical(rasp.Map(lambda x: x > 0, rasp.indices))
v3 = rasp.SequenceMap(lambda x, y: max(x, y), rasp.tokens, rasp.length)
v4 = rasp.SequenceMap(lambda x, y: x < y, rasp.indices, rasp.tokens)
v5 = rasp.SequenceMap(lambda x, y: x < y, v2, v4)
v6 = rasp.SequenceMap(lambda x, y: x - y, v1, v5)
v7 = rasp.LinearSequenceMap(rasp.indices, rasp.tokens, 3, 2)
v8 = rasp.SequenceMap(lambda x, y: x + y, v3, v7)
v9 = rasp.SequenceMap(lambda x, y: min(x, y), v8, v6)
program = v9
