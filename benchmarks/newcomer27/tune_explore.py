"""Tuning record for the small-data plan (issue 27, point 1): the error against the true curve
as full-batch training goes on, on five 8-row curves (the tuning set; seed 0), with no
validation split. Run on the code before this work (commit ca5e30e, JACNET_SRC), driving
its Trainer directly. `tune_variants.log`: model variants (width, tanh, lr), all without
a penalty; `tune_penalty.py`/`tune_penalty.log`: the curvature penalty's weight.

    JACNET_SRC=/path/to/checkout-of-ca5e30e python benchmarks/newcomer27/tune_variants.py NAME...
"""
import os, sys, math, json, tempfile
import numpy as np, torch
sys.path.insert(0, os.environ.get("JACNET_SRC", "."))
from jacnet_cli.run.configs import compose
from jacnet_cli.run import build
from jacnet_cli.run.training import Batches, Trainer, LOSSES
from jacnet_cli.core.evaluation import predict


def trainable(model):
    """(the module that trains, the batch transform into its units), on the code the
    tuning ran on (ca5e30e: `unwrap`) and on the model protocol after the refactor."""
    if hasattr(model, "trainable"):
        return model.trainable()
    from jacnet_cli.core import evaluation

    core, units = evaluation.unwrap(model)
    return core, (None if units is None else (lambda a, b: (units.x_in(a), units.y_in(b))))

SHAPES = {
 "hill": (lambda x: x**2/(x**2+9), (0, 10), "pd"),
 "exp": (lambda x: np.exp(x), (-1, 2), "pd"),
 "log": (lambda x: np.log(x), (0.5, 10), "pd"),
 "sqrt": (lambda x: np.sqrt(x), (0, 4), "pd"),
 "tanh": (lambda x: np.tanh(2*x), (-1.5, 1.5), "pd"),
}
def data(shape, n, noise, seed):
    f,(a,b),act = SHAPES[shape]
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(a,b,n)); x[0]=a; x[-1]=b
    y = f(x); span = y.max()-y.min()
    y = y + rng.normal(0, noise*span, n)
    return x, y, f, act

def run(shape, n, noise, seed, steps=3000, every=50, extra=()):
    x,y,f,act = data(shape,n,noise,seed)
    d = tempfile.mkdtemp()
    p = f"{d}/d.csv"
    np.savetxt(p, np.c_[x,y], delimiter=",", header="x,y", comments="")
    cfg = compose(["data=file", f"data.path={p}", "data.x=[x]", "data.y=[y]", f"activation={act}", f"seed={seed}", "data.val_fraction=0", *extra])
    torch.manual_seed(seed)
    setup = build.training(cfg, "cpu", torch.float64)
    model, data_ = setup.model, setup.data
    core, tr = trainable(model)
    xt, yt = data_.x_train, data_.y_train
    batches = Batches(xt, yt, None, seed, None, tr)
    grid = torch.linspace(float(x.min()), float(x.max()), 401, dtype=torch.float64)[:,None]
    truth = torch.from_numpy(f(grid.numpy()[:,0]))
    curve = []
    def cb(step):
        if (step.iteration+1) % every == 0:
            with torch.no_grad():
                core.eval(); pr = predict(model, grid)[:,0]; core.train()
            curve.append(float((pr-truth).abs().mean()))
    trainer = Trainer(core, setup.optimizer, batches, steps, setup.schedule, LOSSES["mse"], None, None, True, cb)
    trainer.run()
    xtr = xt.numpy()[:,0]; ytr = yt.numpy()[:,0]
    c = np.polyfit(xtr, ytr, 3); cub = float(np.abs(np.polyval(c, grid.numpy()[:,0]) - truth.numpy()).mean())
    c8 = np.polyfit(x, y, 3); cub8 = float(np.abs(np.polyval(c8, grid.numpy()[:,0]) - truth.numpy()).mean())
    return curve, cub, cub8, len(xtr)

if __name__ == "__main__":
    for shape in SHAPES:
        for noise in (0.0, 0.02, 0.05):
            curve, cub, cub8, ntr = run(shape, 8, noise, 0)
            pts = [curve[i] for i in (0,1,3,5,9,19,29,39,59)]
            print(f"{shape:5s} noise {noise:.2f} ntr {ntr} cubic {cub:.4f} cubic8 {cub8:.4f} | " + " ".join(f"{v:.4f}" for v in pts), "| best", f"{min(curve):.4f}@{(np.argmin(curve)+1)*50}", flush=True)

def detail(shape, n, noise, seed, steps, extra=()):
    x,y,f,act = data(shape,n,noise,seed)
    d = tempfile.mkdtemp(); p = f"{d}/d.csv"
    np.savetxt(p, np.c_[x,y], delimiter=",", header="x,y", comments="")
    cfg = compose(["data=file", f"data.path={p}", "data.x=[x]", "data.y=[y]", f"activation={act}", f"seed={seed}", "data.val_fraction=0", *extra])
    torch.manual_seed(seed)
    setup = build.training(cfg, "cpu", torch.float64)
    model, data_ = setup.model, setup.data
    core, tr = trainable(model)
    batches = Batches(data_.x_train, data_.y_train, None, seed, None, tr)
    Trainer(core, setup.optimizer, batches, steps, setup.schedule, LOSSES["mse"]).run()
    print("train x", data_.x_train.numpy()[:,0].round(2), "test x", data_.x_test.numpy()[:,0].round(2))
    g = np.linspace(x.min(), x.max(), 11)
    with torch.no_grad():
        pr = predict(model, torch.from_numpy(g)[:,None])[:,0].numpy()
    print("x   ", g.round(2)); print("true", f(g).round(3)); print("pred", pr.round(3))
