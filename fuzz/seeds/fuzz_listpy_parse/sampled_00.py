def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(0, n - 1):
        out[(i - 1) % len(out)] = arr[(i) % len(arr)]
    for i in range(1, n):
        out[(i - 1) % len(out)] = arr[(i) % len(arr)]
    return out
