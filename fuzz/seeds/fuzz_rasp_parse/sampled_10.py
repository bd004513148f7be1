from tracr.rasp import rasp
v1 = rasp.Map(lambda x: max(x, 3), rasp.length)
v2 = rasp.SequenceMap(lambda x, y: x < y, rasp.tokens, rasp.length)
v3 = rasp.SequenceMap(lambda x, y: x and y, v1, v2)
v4 = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.GEQ)
v5 = rasp.numerical(rasp.Aggregate(v4, rasp.indices))
v6 = rasp.LinearSequenceMap(v3, v5, 1, -1)
program = v6
