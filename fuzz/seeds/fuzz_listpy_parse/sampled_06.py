def random_function(arr):
    n = len(arr)
    out = [0] * n
    for i in range(0, 5):
        out[(i - 1) % len(out)] = arr[(i) % len(arr)]
    return out
