"""Benchmarks for jacnet: `python -m benchmarks.run` (or `make bench`) writes RESULTS.md.

Modules, one per section: training (1), throughput (2), inverse (3), scaling (4), startup (5);
`common` holds the shared model builders and timers, `report` the markdown and the plot.
"""
