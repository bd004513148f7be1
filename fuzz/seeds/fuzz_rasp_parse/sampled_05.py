from tracr.rasp import rasp
v1 = rasp.Select(rasp.tokens, rasp.length, rasp.Comparison.LEQ)
v2 = rasp.Select(rasp.tokens, rasp.length, rasp.Comparison.GT)
v3 = rasp.SelectorWidth(v2)
v4 = rasp.numerical(rasp.Aggregate(v1, v3))
program = v4
