from tracr.rasp import rasp
v1 = rasp.SequenceMap(lambda x, y: x + y, rasp.tokens, rasp.length)
v2 = rasp.Map(lambda x: abs(x), v1)
v3 = rasp.Map(lambda x: x == 2, v2)
v4 = rasp.Select(v3, rasp.indices, rasp.Comparison.GT)
v5 = rasp.SelectorWidth(v4)
v6 = rasp.SequenceMap(lambda x, y: x or y, v3, v5)
program = v6
