def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(1, n - 1):
        if arr[(i)] % 3 != 0:
            out[(i + 1) % len(out)] = arr[(i + 1) % len(arr)]
            out[(i + 1) % len(out)] = arr[(i) % len(arr)]
    return out
