# tracr's make_frac_prevs(tokens == 1): the fraction of tokens so far that are 1.
from tracr.rasp import rasp
is_one = rasp.numerical(rasp.Map(lambda x: x == 1, rasp.tokens))
prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
frac = rasp.numerical(rasp.Aggregate(prevs, is_one, default=0))
program = frac
