"""A minimal tracr.rasp.rasp: the subset modelmap prints, evaluated with tracr's rules (see README.md)."""
import enum


class Comparison(enum.Enum):
    EQ = "=="
    LT = "<"
    LEQ = "<="
    GT = ">"
    GEQ = ">="
    NEQ = "!="
    TRUE = "True"
    FALSE = "False"

    def __call__(self, key, query):
        if key is None or query is None:
            raise ValueError("comparison with None")
        if self is Comparison.EQ: return key == query
        if self is Comparison.LT: return key < query
        if self is Comparison.LEQ: return key <= query
        if self is Comparison.GT: return key > query
        if self is Comparison.GEQ: return key >= query
        if self is Comparison.NEQ: return key != query
        return self is Comparison.TRUE


class SOp:
    encoding = "categorical"

    def __call__(self, xs):
        return self.eval(list(xs), {})

    def eval(self, xs, memo):
        if id(self) not in memo:
            memo[id(self)] = self.compute(xs, memo)
        return memo[id(self)]


class _Primitive(SOp):
    def __init__(self, f):
        self.f = f

    def compute(self, xs, memo):
        return self.f(xs)


tokens = _Primitive(lambda xs: list(xs))
indices = _Primitive(lambda xs: list(range(len(xs))))
length = _Primitive(lambda xs: [len(xs)] * len(xs))


class Map(SOp):
    def __init__(self, f, inner):
        self.f, self.inner = f, inner

    def compute(self, xs, memo):
        return [None if x is None else self.f(x) for x in self.inner.eval(xs, memo)]


class SequenceMap(SOp):
    def __init__(self, f, fst, snd):
        self.f, self.fst, self.snd = f, fst, snd

    def compute(self, xs, memo):
        a, b = self.fst.eval(xs, memo), self.snd.eval(xs, memo)
        return [None if x is None or y is None else self.f(x, y) for x, y in zip(a, b)]


class LinearSequenceMap(SequenceMap):
    def __init__(self, fst, snd, fst_fac, snd_fac):
        super().__init__(lambda x, y: fst_fac * x + snd_fac * y, fst, snd)


class Select:
    def __init__(self, keys, queries, predicate):
        self.keys, self.queries, self.predicate = keys, queries, predicate

    def eval(self, xs, memo):
        if id(self) not in memo:
            k, q = self.keys.eval(xs, memo), self.queries.eval(xs, memo)
            memo[id(self)] = [[bool(self.predicate(key, query)) for key in k] for query in q]
        return memo[id(self)]


def _mean(values, default):
    if not values:
        return default
    if isinstance(values[0], (int, bool)):
        return sum(values) / len(values)
    if len(values) == 1:
        return values[0]
    raise ValueError("unsupported aggregation")


class Aggregate(SOp):
    def __init__(self, selector, sop, default=None):
        self.selector, self.sop, self.default = selector, sop, default

    def compute(self, xs, memo):
        rows, values = self.selector.eval(xs, memo), self.sop.eval(xs, memo)
        return [_mean([v for s, v in zip(row, values) if s], self.default) for row in rows]


class SelectorWidth(SOp):
    def __init__(self, selector):
        self.selector = selector

    def compute(self, xs, memo):
        return [sum(row) for row in self.selector.eval(xs, memo)]


def numerical(sop):
    sop.encoding = "numerical"
    return sop


def categorical(sop):
    sop.encoding = "categorical"
    return sop
