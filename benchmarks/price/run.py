"""Run the price benchmark: every map, every model, one JSON line per (map, model) appended to
benchmarks/price/results.jsonl (a rerun skips what is there; --fresh starts over).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.price.run [--maps sdf2 area]
        [--models structure none mlp sklearn peers] [--tag after] [--out FILE]
        [--jacnet /path/to/another/checkout]

`--jacnet DIR` trains jacnet's rows with the jacnet_cli package of another checkout (say a
git worktree of an older commit, `--tag before`): DIR goes first on sys.path before anything
imports jacnet_cli, with this checkout's harness; each row records the package's path and
commit.

Then `python -m benchmarks.price.report` writes the tables into README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.price import harness, peers
from benchmarks.price.maps import MAPS

HERE = Path(__file__).resolve().parent
MODELS = ("structure", "none", "mlp", "sklearn", "peers")


def _done(out: Path) -> set[tuple[str, str, str]]:
    if not out.exists():
        return set()
    rows = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
    return {(r["map"], r["model"], r.get("tag", "after")) for r in rows}


def use_jacnet(root: Path) -> dict[str, str]:
    """Import jacnet_cli from the checkout `root` instead of this one (before any import of
    it): its path and git commit, for the rows."""
    root = root.resolve()
    if "jacnet_cli" in sys.modules:
        raise SystemExit("--jacnet: jacnet_cli is already imported")
    if not (root / "jacnet_cli" / "__init__.py").exists():
        raise SystemExit(f"--jacnet={root}: no jacnet_cli package there")
    sys.path.insert(0, str(root))
    import jacnet_cli

    where = Path(jacnet_cli.__file__).resolve().parent
    if where != root / "jacnet_cli":
        raise SystemExit(f"--jacnet={root}: jacnet_cli still imports from {where}")
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return {"jacnet_path": str(root), "jacnet_commit": commit}


def _write(out: Path, row: dict) -> None:
    row = {**row, "load": [round(v, 2) for v in os.getloadavg()], "time": time.strftime("%F %T")}
    with out.open("a") as f:
        f.write(json.dumps(row) + "\n")
    g = row.get("guarantee", {})
    print(f"[price] {row['map']:10s} {row['model']:22s} {row.get('test_db', float('nan')):8.2f} dB "
          f"cpu {row.get('cpu_s', 0):7.1f} s steps {row.get('steps')} "
          f"guarantee {g.get('value', float('nan')):.3g} held={g.get('held')}", flush=True)


def peer_factories(name: str, structure_params: int, data: dict) -> list[tuple[str, object, torch.dtype]]:
    """(label, factory of the matched width, dtype) for the map's specialist peers."""
    m = MAPS[name]
    out = []
    if m.structure == "lipschitz":
        for label, fam, dtype in (("torchlip", peers.torchlip, torch.float64),
                                  ("orthogonium SLL", peers.sll, torch.float32),
                                  ("orthogonium AOL", peers.aol, torch.float32)):
            f = fam(m.d_x, m.d_y)
            out.append((label, lambda f=f, w=peers.matched(f, structure_params): f(w), dtype))
    elif m.structure == "invertible":
        from jacnet_cli.core.nets.triangular import orientation_from_data

        x, y = data["train"]
        sign = orientation_from_data(x, y)
        for kind in ("maf", "nsf"):
            f = peers.zuko_flow(kind, m.d_x, sign)
            out.append((f"zuko {kind.upper()}",
                        lambda f=f, w=peers.matched(f, structure_params): f(w), torch.float64))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--maps", nargs="+", default=list(MAPS))
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--tag", default="after")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results.jsonl")
    parser.add_argument("--override", action="append", default=[],
                        help="extra jacnet overrides for the structure row")
    parser.add_argument("--cap", type=float, default=harness.CAP_S)
    parser.add_argument("--jacnet", type=Path, default=None,
                        help="train jacnet's rows with the jacnet_cli of this checkout")
    args = parser.parse_args()
    source = use_jacnet(args.jacnet) if args.jacnet is not None else {}
    if source:
        print(f"[price] jacnet_cli from {source['jacnet_path']} at {source['jacnet_commit']}",
              flush=True)
    torch.set_num_threads(1)
    done = _done(args.out)
    print(f"[price] {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"load {os.getloadavg()}", flush=True)
    for name in args.maps:
        m = MAPS[name]
        data = harness.split(m, args.seed)
        base = {"map": name, "structure": m.structure, "d_x": m.d_x, "d_y": m.d_y,
                "tag": args.tag, "seed": args.seed, **source}
        params = None
        for model in args.models:
            if model == "structure":
                key = (name, "structure", args.tag)
                if key in done:
                    continue
                row = harness.run_jacnet(m, data, [f"activation={m.structure}", *args.override],
                                         args.seed, args.cap)
                _write(args.out, {**base, "model": "structure", "overrides": args.override, **row})
            elif model == "none":
                if (name, "none", args.tag) in done:
                    continue
                row = harness.run_jacnet(m, data, ["activation=none"], args.seed, args.cap)
                _write(args.out, {**base, "model": "none", **row})
            elif model == "mlp":
                if (name, "mlp", args.tag) in done:
                    continue
                row = harness.run_jacnet(m, data, ["model=mlp"], args.seed, args.cap)
                _write(args.out, {**base, "model": "mlp", **row})
            elif model == "sklearn":
                if (name, "sklearn", args.tag) in done:
                    continue
                _write(args.out, {**base, "model": "sklearn", **harness.run_sklearn(m, data,
                                                                                   args.seed)})
            elif model == "peers":
                if params is None:
                    params = _structure_params(args.out, name, args.tag)
                for label, make, dtype in peer_factories(name, params, data):
                    if (name, label, args.tag) in done:
                        continue
                    row = harness.tuned(make, m, data, args.seed, dtype)
                    _write(args.out, {**base, "model": label, **row})


def _structure_params(out: Path, name: str, tag: str) -> int:
    """The structure row's parameter count (peers match it)."""
    for line in out.read_text().splitlines():
        r = json.loads(line)
        if r["map"] == name and r["model"] == "structure" and r.get("tag", "after") == tag:
            return int(r["params"])
    raise SystemExit(f"run the structure row of {name} first (peers match its parameters)")


if __name__ == "__main__":
    main()
