# tracr's make_length: the width of an all-true selector.
from tracr.rasp import rasp
all_true = rasp.Select(rasp.tokens, rasp.tokens, rasp.Comparison.TRUE)
length = rasp.SelectorWidth(all_true)
program = length
