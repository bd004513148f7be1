def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(1, n):
        out[(i - 1) % len(out)] = arr[(i) % len(arr)]
    for i in range(1, n):
        for j in range(2, n - 1):
            out[(j + 1) % len(out)] = arr[(j) % len(arr)]
            out[(j + 1) % len(out)] = arr[(j - 1) % len(arr)]
            out[(j - 1) % len(out)] = -arr[(j) % len(arr)]
        out[(i - 1) % len(out)] = arr[(i) % len(arr)]
        out[(i) % len(out)] = -arr[(i - 1) % len(arr)]
    return out
