"""Users' files: the CSV reader before and after issue 20 against np.loadtxt and a bare PyTorch
loop (`compare`: RESULTS.md, results.json), and streaming throughput and memory at 10⁴–10⁶
rows (`stream`: results_stream.json, RESULTS_cuda.md / results_cuda.json on CUDA)."""
