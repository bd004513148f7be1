def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(2, n):
        out[(i) % len(out)] = -arr[(i + 1) % len(arr)]
    return out
