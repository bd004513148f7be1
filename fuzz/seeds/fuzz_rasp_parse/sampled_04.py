from tracr.rasp import rasp
v1 = rasp.Map(lambda x: x - 1, rasp.tokens)
v2 = rasp.Map(lambda x: x != 1, rasp.indices)
v3 = rasp.Map(lambda x: x < 0, rasp.tokens)
v4 = rasp.SequenceMap(lambda x, y: x == y, v2, rasp.tokens)
v5 = rasp.numerical(rasp.SequenceMap(lambda x, y: x < y, rasp.indices, rasp.length))
v6 = rasp.LinearSequenceMap(v1, v3, 3, -2)
v7 = rasp.SequenceMap(lambda x, y: x or y, v6, v5)
v8 = rasp.Select(rasp.indices, rasp.length, rasp.Comparison.GT)
v9 = rasp.SelectorWidth(v8)
v10 = rasp.SequenceMap(lambda x, y: x + y, v4, v9)
v11 = rasp.SequenceMap(lambda x, y: (x + y) % 5, v7, v10)
program = v11
