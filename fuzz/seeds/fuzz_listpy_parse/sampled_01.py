def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(2, n - 1):
        for j in range(0, n):
            if arr[(j)] % 3 == 0:
                out[(j + 1) % len(out)] = arr[(j) % len(arr)]
                out[(j + 1) % len(out)] = arr[(j) % len(arr)]
            out[(j) % len(out)] = arr[(j + 1) % len(arr)]
    for i in range(0, n):
        if arr[(i)] % 2 != 0:
            out[(i - 1) % len(out)] = arr[(i + 1) % len(arr)]
    for i in range(1, n - 1):
        if arr[(i)] % 3 != 0:
            out[(i - 1) % len(out)] = arr[(i - 1) % len(arr)]
        if arr[(i)] % 2 == 0:
            out[(i + 1) % len(out)] = arr[(i + 1) % len(arr)]
        out[(i) % len(out)] = arr[(i + 1) % len(arr)]
    return out
