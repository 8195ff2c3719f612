"""Issue 17: `lipschitz` and `cauchy_riemann` in n-D against their peers (`run`: RESULTS.md,
results.json, with the hand-written findings of notes.md); `explore`: the side study of
`lipschitz` options."""
