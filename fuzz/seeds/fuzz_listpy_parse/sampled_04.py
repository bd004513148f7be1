def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(1, n - 1):
        for j in range(2, n):
            if arr[(j)] % 2 != 0:
                out[(j + 1) % len(out)] = arr[(j) % len(arr)]
                out[(j - 1) % len(out)] = arr[(j) % len(arr)]
        out[(i - 1) % len(out)] = arr[(i - 1) % len(arr)]
    return out
