"""Every benchmark module imports without doing work, names only what exists in `jacnet_cli` and
`benchmarks`, and no two benchmark modules import each other in a circle.

A peer package a study compares against (umnn, zuko, deel-torchlip, xgboost, pandas, ...) may
be missing: a module that needs it at import is skipped. A missing `jacnet_cli` or
`benchmarks` name always fails, including one imported inside a function. A folder without
`__init__.py` (tabular/) holds scripts run as `python benchmarks/<folder>/<file>.py`: they are
imported the same way, with their folder on sys.path.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
OURS = ("jacnet_cli", "benchmarks")


def _is_package(folder: Path) -> bool:
    return all((p / "__init__.py").exists() for p in [folder, *folder.parents]
               if p.is_relative_to(BENCH))


def _files() -> list[Path]:
    return sorted(p for p in BENCH.rglob("*.py") if "__pycache__" not in p.parts)


def _module_name(path: Path) -> str | None:
    """`benchmarks.x.y` for a file in a package, None for a script."""
    if not _is_package(path.parent):
        return None
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _label(path: Path) -> str:
    return str(path.relative_to(ROOT))


FILES = _files()


def _resolve(name: str, script_dir: Path | None) -> Path | None:
    """The benchmark file that importing module `name` runs (None: not a benchmark module)."""
    if script_dir is not None and "." not in name:
        sibling = script_dir / f"{name}.py"
        if sibling.exists():
            return sibling
    if name.split(".")[0] != "benchmarks":
        return None
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every import statement in the file, inside functions too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [alias.name for alias in node.names], node.lineno))
    return out


def _edges(path: Path) -> set[Path]:
    """The benchmark files this one imports (a `from package import module` counts the module)."""
    script_dir = None if _module_name(path) else path.parent
    found = set()
    for module, names, _ in _imports(path):
        targets = [_resolve(f"{module}.{n}", script_dir) for n in names] if names else []
        targets = [t for t in targets if t is not None] or [_resolve(module, script_dir)]
        found.update(t for t in targets if t is not None and t != path)
    return found


def _circles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Every elementary circle's members, one list per strongly connected component > 1."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    found: list[list[Path]] = []

    def visit(v: Path) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_circle_finder_finds_a_circle():
    a, b, c = Path("a"), Path("b"), Path("c")
    assert _circles({a: {b}, b: {c}, c: {a}}) == [[a, b, c]]
    assert _circles({a: {b}, b: {c}, c: set()}) == []


def test_no_import_circle_among_benchmark_modules():
    graph = {path: _edges(path) for path in FILES}
    circles = _circles(graph)
    assert not circles, "import circles: " + "; ".join(
        " <-> ".join(_label(p) for p in c) for c in circles)


def _peer_missing(exc: ModuleNotFoundError, script_dir: Path | None) -> bool:
    """Whether the missing module is a third-party package (not ours, not a sibling script)."""
    root = (exc.name or "").split(".")[0]
    if not root or root in OURS:
        return False
    return script_dir is None or not (script_dir / f"{root}.py").exists()


class _WorkAtImport(AssertionError):
    pass


def _forbid(what: str):
    def refuse(*args, **kwargs):
        raise _WorkAtImport(f"{what} while importing: benchmark modules do no work at import")
    return refuse


@pytest.mark.parametrize("path", FILES, ids=_label)
def test_benchmark_module_imports(path: Path, monkeypatch: pytest.MonkeyPatch):
    name = _module_name(path)
    script_dir = None if name else path.parent
    # No network call, backward pass or child process may happen at import.
    monkeypatch.setattr(torch.nn.Module, "__call__", _forbid("a network call"))
    monkeypatch.setattr(torch.autograd, "backward", _forbid("a backward pass"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _forbid("a child process"))
    try:
        if name is not None:
            for loaded in [m for m in sys.modules if m == name or m.startswith(name + ".")]:
                monkeypatch.delitem(sys.modules, loaded)
            importlib.import_module(name)
        else:
            _run_script_module(path, monkeypatch)
    except ModuleNotFoundError as exc:
        if _peer_missing(exc, script_dir):
            pytest.skip(f"peer package {exc.name!r} not installed")
        raise


def _run_script_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Import a script as its folder's other scripts import it (by its stem, the folder on
    sys.path), then forget every module of that folder again."""
    monkeypatch.syspath_prepend(str(path.parent))
    before = set(sys.modules)
    try:
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    finally:
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if name == path.stem or Path(file).parent == path.parent:
                del sys.modules[name]


def _is_submodule(mod, name: str) -> bool:
    if not hasattr(mod, "__path__"):
        return False
    return importlib.util.find_spec(f"{mod.__name__}.{name}") is not None


NAMED = [(path, module, names, line) for path in FILES
         for module, names, line in _imports(path)
         if module.split(".")[0] in OURS and names]


@pytest.mark.parametrize("path, module, names, line", NAMED,
                         ids=[f"{_label(p)}:{ln}" for p, _, _, ln in NAMED])
def test_every_jacnet_and_benchmarks_name_exists(path: Path, module: str, names: list[str],
                                                 line: int):
    """Names imported inside functions too, which importing the module does not reach."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if _peer_missing(exc, None):
            pytest.skip(f"{module} needs peer package {exc.name!r}")
        raise
    missing = [n for n in names if n != "*" and not hasattr(mod, n)
               and not _is_submodule(mod, n)]
    assert not missing, f"{_label(path)}:{line}: {module} has no {', '.join(missing)}"
