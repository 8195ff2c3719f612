"""Issue 16: the n-D `invertible` structure against coupling flows (`run`: RESULTS.md,
results.json) and its exact inverse's cost at d = 2 ... 64 (`inverse`: inverse.json)."""
