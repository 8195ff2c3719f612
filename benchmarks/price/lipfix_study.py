"""Issue 24 / lipfix: why jacnet's `lipschitz` network trails the peers on the mixture maps.
Each variant is trained by the peers' own loop (`harness.train_torch`: raw data, Adam, the
plan), so only the network (and its units) differ. A study tool.

    python -m benchmarks.price.lipfix_study mix4to2 --variant jac_raw --lr 0.03
"""

from __future__ import annotations

import argparse
import json

import torch
from torch import nn

from benchmarks.price import harness, peers
from benchmarks.price.maps import MAPS


class Standardised(nn.Module):
    """jacnet's units: one scale for x, one for y; the net is k s_x/s_y-Lipschitz inside."""

    def __init__(self, net, mx, sx, my, sy):
        super().__init__()
        self.net = net
        for n, v in (("mx", mx), ("sx", sx), ("my", my), ("sy", sy)):
            self.register_buffer(n, v)

    def forward(self, x):
        return self.net((x - self.mx) / self.sx) * self.sy + self.my


def units(data):
    x, y = (t[:harness.N_TRAIN] for t in data["train"])
    sx = (x - x.mean(0)).pow(2).mean().sqrt()
    sy = (y - y.mean(0)).pow(2).mean().sqrt()
    return x.mean(0), sx, y.mean(0), sy


def factory(name: str, variant: str, data, opts: dict):
    from jacnet_cli.core.nets.lipschitz import LipschitzNet

    m = MAPS[name]
    mx, sx, my, sy = units(data)
    std = opts.pop("std", 0)
    k = float(sx / sy) if std else 1.0
    if variant == "jac":
        hidden, depth = opts.pop("hidden", 64), opts.pop("depth", 4)
        make = lambda: LipschitzNet(m.d_x, m.d_y, k=k, hidden=hidden, depth=depth, **opts)  # noqa
    elif variant == "torchlip":
        width = opts.pop("hidden", 110)
        f = peers.torchlip(m.d_x, m.d_y, opts.pop("depth", 2))
        make = lambda: _Scale(f(width), k)  # noqa
    else:
        raise SystemExit(variant)
    if std:
        return lambda: Standardised(make(), mx, sx, my, sy)
    return make


class _Scale(nn.Module):
    def __init__(self, net, k):
        super().__init__()
        self.net, self.k = net, k

    def forward(self, x):
        return self.k * self.net(x)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("maps", nargs="+")
    p.add_argument("--variant", default="jac")
    p.add_argument("--opts", nargs="*", default=[])
    p.add_argument("--lr", type=float, nargs="+", default=[0.03])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="/tmp/lipfix/study.jsonl")
    a = p.parse_args()
    opts = {}
    for item in a.opts:
        key, value = item.split("=")
        for cast in (int, float, str):
            try:
                opts[key] = cast(value)
                break
            except ValueError:
                pass
    for name in a.maps:
        data = harness.split(MAPS[name], a.seed)
        for lr in a.lr:
            make = factory(name, a.variant, data, dict(opts))
            r = harness.train_torch(make, MAPS[name], data, lr, a.seed)
            row = {"map": name, "variant": a.variant, "opts": " ".join(a.opts), "lr": lr,
                   "seed": a.seed, "test_db": round(r["test_db"], 2), "cpu_s": round(r["cpu_s"], 1),
                   "params": r["params"], "lip": round(r["guarantee"]["value"], 5)}
            print(json.dumps(row), flush=True)
            with open(a.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
