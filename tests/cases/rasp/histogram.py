# tracr's make_hist: how many tokens equal this one.
from tracr.rasp import rasp
same_tok = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.EQ)
hist = rasp.SelectorWidth(same_tok)
program = hist
