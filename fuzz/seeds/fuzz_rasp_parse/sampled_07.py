from tracr.rasp import rasp
v1 = rasp.Select(rasp.tokens, rasp.length, rasp.Comparison.NEQ)
v2 = rasp.Aggregate(v1, rasp.indices)
program = v2
