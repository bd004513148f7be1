# tracr's make_pair_balance(tokens, open=1, close=2): fraction of opens so far minus fraction of closes.
from tracr.rasp import rasp
is_open = rasp.numerical(rasp.Map(lambda x: x == 1, rasp.tokens))
is_close = rasp.numerical(rasp.Map(lambda x: x == 2, rasp.tokens))
prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
opens = rasp.numerical(rasp.Aggregate(prevs, is_open, default=0))
closes = rasp.numerical(rasp.Aggregate(prevs, is_close, default=0))
balance = rasp.numerical(rasp.LinearSequenceMap(opens, closes, 1, -1))
program = balance
