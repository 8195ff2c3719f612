"""The CUDA path beside the same machine's CPU (`run`: RESULTS.md, results.json)."""
