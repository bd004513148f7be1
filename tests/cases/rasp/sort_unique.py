# tracr's make_sort_unique(vals=tokens, keys=tokens): each token moves to the number of smaller tokens.
from tracr.rasp import rasp
smaller = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.LT)
target_pos = rasp.SelectorWidth(smaller)
sel_new = rasp.Select(target_pos, rasp.indices, rasp.Comparison.EQ)
sort = rasp.Aggregate(sel_new, rasp.tokens)
program = sort
