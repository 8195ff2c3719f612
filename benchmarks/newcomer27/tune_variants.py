"""Tuning record: model variants without a penalty on the tuning set (see tune_explore.py); output in tune_variants.log."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tune_explore as explore, numpy as np
V = {
 "default": (),
 "h32": ("model.hidden=32",),
 "tanh_b1": ("model.nonlinearity=tanh", "model.bias_scale=1.0"),
 "gelu_b1": ("model.bias_scale=1.0",),
 "gelu_b3": ("model.bias_scale=3.0",),
 "lr003": ("optim.lr=0.003",),
 "adamw1e-2": ("optim=adamw", "optim.weight_decay=0.1"),
}


def main():
    names = sys.argv[1:] or list(V)
    for v in names:
        rows=[]
        for shape in explore.SHAPES:
            for noise in (0.0, 0.03):
                for seed in (0,):
                    curve, cub, cub8, ntr = explore.run(shape, 8, noise, seed, steps=1500, every=50, extra=V[v])
                    rows.append((shape, noise, seed, cub, min(curve), (np.argmin(curve)+1)*50, curve[3], curve[9], curve[19], curve[-1]))
        r = np.array([[x[4]/x[3], x[6]/x[3], x[7]/x[3], x[8]/x[3], x[9]/x[3]] for x in rows])
        gm = np.exp(np.log(r).mean(0)); mx = r.max(0)
        print(f"{v:10s} ratio-to-cubic geomean oracle {gm[0]:.2f} @200 {gm[1]:.2f} @500 {gm[2]:.2f} @1000 {gm[3]:.2f} @2000 {gm[4]:.2f} | max oracle {mx[0]:.2f} @500 {mx[2]:.2f} @2000 {mx[4]:.2f}", flush=True)
        for x in rows: print("   ", x[0], x[1], x[2], f"cub {x[3]:.4f} best {x[4]:.4f}@{x[5]} @500 {x[7]:.4f} @2000 {x[9]:.4f}", flush=True)


if __name__ == "__main__":
    main()
