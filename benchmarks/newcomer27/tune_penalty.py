"""Tuning record: the curvature penalty's weight λ (and the length) of the small-data plan, on
the tuning set of `tune_explore.py` (five curves, 8 rows, noise 0 and 0.03, seed 0).

    JACNET_SRC=/path/to/checkout-of-ca5e30e python benchmarks/newcomer27/tune_penalty.py 0.001,0.01 2000

Prints, per λ, the ratio of the error to a cubic's at 200..2000 steps (geometric mean and
max over the ten cases), then each case; tune_penalty.log is its output.
"""
import os, sys, numpy as np, torch, tempfile
sys.path.insert(0, os.environ.get("JACNET_SRC", "."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tune_explore as explore
from jacnet_cli.run.configs import compose
from jacnet_cli.run import build
from jacnet_cli.run.training import Batches, Trainer, LOSSES
from jacnet_cli.core.evaluation import predict
torch.set_num_threads(1)

def smooth_pen(lam, lo, hi, n=64):
    g = torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]
    h = float(g[1, 0] - g[0, 0])
    def pen(net, xb):
        J = net.jacobian(g)[:, 0, 0]
        return lam * (((J[1:] - J[:-1]) / h) ** 2).mean()
    return pen

def run(shape, n, noise, seed, steps, lam, every=50, extra=(), lr=None):
    x, y, f, act = explore.data(shape, n, noise, seed)
    d = tempfile.mkdtemp(); p = f"{d}/d.csv"
    np.savetxt(p, np.c_[x, y], delimiter=",", header="x,y", comments="")
    ov = ["data=file", f"data.path={p}", "data.x=[x]", "data.y=[y]", f"activation={act}", f"seed={seed}", "data.val_fraction=0", *extra]
    if lr: ov.append(f"optim.lr={lr}")
    cfg = compose(ov)
    torch.manual_seed(seed)
    setup = build.training(cfg, "cpu", torch.float64)
    model, data_ = setup.model, setup.data
    core, tr = explore.trainable(model)
    xt, yt = data_.x_train, data_.y_train
    xs = tr(xt, yt)[0]
    lo, hi = float(xs.min()), float(xs.max()); m = 0.1 * (hi - lo)
    pen = smooth_pen(lam, lo - m, hi + m) if lam else None
    batches = Batches(xt, yt, None, seed, None, tr)
    grid = torch.linspace(float(x.min()), float(x.max()), 401, dtype=torch.float64)[:, None]
    truth = torch.from_numpy(f(grid.numpy()[:, 0]))
    curve = []
    def cb(step):
        if (step.iteration + 1) % every == 0:
            with torch.no_grad():
                core.eval(); pr = predict(model, grid)[:, 0]; core.train()
            curve.append(float((pr - truth).abs().mean()))
    Trainer(core, setup.optimizer, batches, steps, setup.schedule, LOSSES["mse"], None, None, True, cb, penalty=pen).run()
    c = np.polyfit(xt.numpy()[:, 0], yt.numpy()[:, 0], 3)
    cub = float(np.abs(np.polyval(c, grid.numpy()[:, 0]) - truth.numpy()).mean())
    return curve, cub

if __name__ == "__main__":
    lams = [float(a) for a in sys.argv[1].split(",")]
    steps = int(sys.argv[2]); lr = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    extra = tuple(sys.argv[4:])
    for lam in lams:
        rows = []
        for shape in explore.SHAPES:
            for noise in (0.0, 0.03):
                curve, cub = run(shape, 8, noise, 0, steps, lam, lr=lr, extra=extra)
                rows.append((shape, noise, cub, curve))
        idx = [i for i in (3, 9, 19, 29, 39) if i < len(rows[0][3])]
        r = np.array([[row[3][i] / row[2] for i in idx] for row in rows])
        gm = np.exp(np.log(r).mean(0)); mx = r.max(0)
        print(f"lam {lam:g} lr {lr} {extra} steps@{[(i+1)*50 for i in idx]} geomean {np.round(gm,2)} max {np.round(mx,2)}", flush=True)
        for row in rows: print("   ", row[0], row[1], f"cub {row[2]:.4f}", " ".join(f"{row[3][i]:.4f}" for i in idx), flush=True)
