from tracr.rasp import rasp
v1 = rasp.Map(lambda x: x < 0, rasp.tokens)
v2 = rasp.LinearSequenceMap(rasp.indices, rasp.tokens, 3, -3)
v3 = rasp.LinearSequenceMap(rasp.tokens, v2, 1, 2)
v4 = rasp.Select(rasp.tokens, v2, rasp.Comparison.GT)
v5 = rasp.Select(rasp.indices, v3, rasp.Comparison.GEQ)
v6 = rasp.Aggregate(v5, v1)
v7 = rasp.numerical(rasp.Aggregate(v4, rasp.tokens))
v8 = rasp.SequenceMap(lambda x, y: x * y, v7, v6)
program = v8
