# tracr's make_reverse: position i reads the token at length - i - 1.
from tracr.rasp import rasp
opp_idx = rasp.SequenceMap(lambda x, y: x - y, rasp.length, rasp.indices)
opp_idx_1 = rasp.Map(lambda x: x - 1, opp_idx)
reverse_selector = rasp.Select(rasp.indices, opp_idx_1, rasp.Comparison.EQ)
reverse = rasp.Aggregate(reverse_selector, rasp.tokens)
program = reverse
