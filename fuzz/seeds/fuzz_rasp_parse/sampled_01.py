from tracr.rasp import rasp
v1 = rasp.Select(rasp.tokens, rasp.length, rasp.Comparison.LT)
v2 = rasp.Aggregate(v1, rasp.tokens)
v3 = rasp.Map(lambda x: x < 3, v2)
v4 = rasp.Map(lambda x: x + 0.5, v3)
v5 = rasp.Aggregate(v1, rasp.indices)
v6 = rasp.SequenceMap(lambda x, y: x - y, v5, v4)
program = v6
