"""`make bench` (`python -m benchmarks.suite.run`): the library's own speed and accuracy, ten
sections into one RESULTS.md and results.json here. 1-D solvers and evaluation:
`training`, `throughput`, `inverse`, `scaling`, `startup`; the n-D potential structures:
`nd_guarantees`, `nd_speed`, `nd_inverse` (models in `potentials`, peers in `reference`,
proposed library changes in `proposals`); `curl`; `threads`. `report` writes the Markdown."""
