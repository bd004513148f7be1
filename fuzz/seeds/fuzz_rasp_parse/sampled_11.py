from tracr.rasp import rasp
v1 = rasp.Map(lambda x: x - 3, rasp.length)
v2 = rasp.LinearSequenceMap(rasp.length, rasp.tokens, -1, 1)
v3 = rasp.Map(lambda x: x - 2, v2)
v4 = rasp.SequenceMap(lambda x, y: max(x, y), rasp.length, v2)
v5 = rasp.Select(rasp.length, rasp.length, rasp.Comparison.LEQ)
v6 = rasp.Select(rasp.indices, rasp.length, rasp.Comparison.TRUE)
v7 = rasp.Aggregate(v6, v1)
v8 = rasp.numerical(rasp.Aggregate(v5, v1))
v9 = rasp.LinearSequenceMap(v8, v4, 2, -1)
v10 = rasp.SequenceMap(lambda x, y: x - y, v9, v3)
v11 = rasp.SequenceMap(lambda x, y: x and y, v7, v10)
program = v11
