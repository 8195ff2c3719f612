"""Lipschitz network variants on the price maps, outside the command line: the network is
trained in jacnet's standard units (x and y standardised, k rescaled as the structure does)
with the fitting plan (2,000 steps of 256 rows, warm-up, cosine, peak 0.03), best
validation weights; prints test dB (data units) and CPU seconds. A study tool.

    python -m benchmarks.price.lip_study sdf2 --variant depth=4 group=4 ...
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time

import torch

from benchmarks.price import harness
from benchmarks.price.maps import MAPS


def run(name: str, options: dict, steps: int = 2000, lr: float = 0.03, seed: int = 0) -> dict:
    from jacnet_cli.core.nets.lipschitz import LipschitzNet
    from jacnet_cli.run.schedules import LearningRateShape

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    m = MAPS[name]
    data = harness.split(m, seed)
    x_all, y_all = data["train"]
    x, y = x_all[:harness.N_TRAIN], y_all[:harness.N_TRAIN]
    xv, yv = x_all[harness.N_TRAIN:], y_all[harness.N_TRAIN:]
    mx, sx = x.mean(0), x.std(0)
    my, sy = y.mean(0), y.std(0)
    if options.pop("scalar", 0):  # one scale for all of x, one for all of y
        sx, sy = sx.max().expand_as(sx), sy.max().expand_as(sy)
    k = float(sx.min() / sy.max())
    hidden = options.pop("hidden", 128)
    depth = options.pop("depth", 2)
    net = LipschitzNet(m.d_x, m.d_y, k=k, hidden=hidden, depth=depth, **options).double()
    f = lambda t: net((t - mx) / sx) * sy + my  # noqa: E731
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    shape = LearningRateShape(steps, int(0.05 * steps), 1e-3)
    g = torch.Generator().manual_seed(seed)
    per = math.ceil(len(x) / 256)
    best, state = math.inf, None
    cpu = time.process_time()
    for step in range(steps):
        if step % per == 0:
            order = torch.randperm(len(x), generator=g)
        idx = order[(step % per) * 256:(step % per + 1) * 256]
        for group in opt.param_groups:
            group["lr"] = lr * shape(step)
        opt.zero_grad()
        loss = (((f(x[idx]) - y[idx]) / sy) ** 2).mean()
        loss.backward()
        opt.step()
        if (step + 1) % per == 0:
            with torch.no_grad():
                val = float((((f(xv) - yv) / sy) ** 2).mean())
            if val < best:
                best, state = val, copy.deepcopy(net.state_dict())
    cpu = time.process_time() - cpu
    net.load_state_dict(state)
    with torch.no_grad():
        test = harness.db(f(data["test"][0]), data["test"][1])
    jac = harness.jacobians(f, harness.wide_points(m, seed))
    g = harness.guarantee("lipschitz", jac)
    return {"map": name, "test_db": round(test, 2), "cpu_s": round(cpu, 1),
            "params": sum(p.numel() for p in net.parameters()), "lip": round(g["value"], 6),
            "held": g["held"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("maps", nargs="+")
    parser.add_argument("--variant", nargs="*", default=[])
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--out", default="benchmarks/price/study_lipnet.jsonl")
    args = parser.parse_args()
    opts = {}
    for item in args.variant:
        key, value = item.split("=")
        try:
            opts[key] = int(value)
        except ValueError:
            try:
                opts[key] = float(value)
            except ValueError:
                opts[key] = value
    for name in args.maps:
        row = {**run(name, dict(opts), args.steps, args.lr), "variant": " ".join(args.variant),
               "lr": args.lr, "steps": args.steps}
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
