"""`jacnet <task> [group=option ...] --help`: the task's config groups, the chosen options'
keys and the top-level keys, each with the one-line description its YAML file gives.

Read straight from the YAML files (their comments are the documentation), without composing
the config through Hydra: no `_target_` internals, and it answers before torch loads.
`--hydra-help` still prints Hydra's own help.
"""

from __future__ import annotations

import re
from pathlib import Path

KEY = re.compile(r"^([A-Za-z_][\w]*):\s*(.*?)\s*(?:#\s*(.*))?$")
HIDDEN = ("_target_", "_partial_", "defaults", "hydra")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def description(path: Path, limit: int = 110) -> str:
    """The first sentence of the comment at the top of a YAML file (the option's summary),
    cut at `limit` characters."""
    words: list[str] = []
    for line in _lines(path):
        text = line.strip()
        if text.startswith("# @package"):
            continue
        if not text.startswith("#"):
            if text or words:
                break
            continue
        words.append(text.lstrip("#").strip())
        if words[-1].endswith((".", ":")):
            break
    text = " ".join(words)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def keys(path: Path) -> list[tuple[str, str, str]]:
    """(key, value, comment) for each top-level key of a YAML file, in order; a key holding
    a mapping lists its entries one level down as `key.entry`."""
    out = []
    parent = None
    for line in _lines(path):
        if not line.strip() or line.lstrip().startswith(("#", "-")):
            continue
        nested = line[0] in " \t"
        match = KEY.match(line.strip())
        if not match:
            continue
        key, value, comment = match.group(1), match.group(2), match.group(3) or ""
        if not nested:
            parent = None
            if key in HIDDEN:
                parent = "-"  # skip its entries too
            elif value == "":
                parent = key
            else:
                out.append((key, value, comment))
        elif parent not in (None, "-") and len(line) - len(line.lstrip()) <= 2 and value:
            out.append((f"{parent}.{key}", value, comment))
    return out


def defaults(path: Path) -> dict[str, str]:
    """group -> option from a task file's `defaults:` list (plain includes map to "")."""
    out: dict[str, str] = {}
    inside = False
    for line in _lines(path):
        if line.startswith("defaults:"):
            inside = True
            continue
        if inside:
            text = line.split("#", 1)[0].strip()
            if not text.startswith("-"):
                if text:
                    break
                continue
            entry = text.lstrip("- ").strip()
            if ":" in entry:
                group, option = (s.strip() for s in entry.split(":", 1))
                out[group.replace("optional ", "")] = option
            elif entry != "_self_":
                out[entry] = ""
    return out


def task_help(command: str, overrides: list[str], conf: Path) -> str:
    """The help text of one task, for the options the overrides choose."""
    task_file = conf / f"{command}.yaml"
    chosen = defaults(task_file)
    for arg in overrides:
        key, _, value = arg.lstrip("+~").partition("=")
        if key in chosen or (conf / key).is_dir():
            chosen[key] = value
    width = 12
    lines = [f"usage: jacnet {command} [group=option ...] [key=value ...]",
             f"       jacnet {command} group=option --help   (that option's keys)", ""]
    summary = description(task_file)
    if summary:
        lines += [summary, ""]
    includes = [g for g, o in chosen.items() if o == "" and (conf / f"{g}.yaml").is_file()]
    groups = [g for g in chosen if (conf / g).is_dir() and g != "hydra"]
    if groups:
        lines.append("groups (the chosen option, its summary, then the others):")
        for group in groups:
            option = chosen[group] or "null"
            options = sorted(p.stem for p in (conf / group).glob("*.yaml"))
            picked = conf / group / f"{option}.yaml"
            text = description(picked) if picked.is_file() else ""
            lines.append(f"  {group:<{width}} {option}" + (f": {text}" if text else ""))
            others = [o for o in options if o != option]
            if others:
                lines.append(f"  {'':<{width}} also: {', '.join(others)}")
        lines.append("")
        for group in groups:
            picked = conf / group / f"{chosen[group]}.yaml"
            found = keys(picked) if picked.is_file() else []
            if found:
                lines.append(f"{group}={chosen[group]} keys:")
                lines += _rows(found, prefix=f"{group}.")
                lines.append("")
    top = keys(task_file)
    for name in includes:
        top += keys(conf / f"{name}.yaml")
    if top:
        lines.append("top-level keys:")
        lines += _rows(top)
        lines.append("")
    lines.append("Sweep with -m (e.g. -m seed=0,1,2); Hydra's own help: --hydra-help.")
    return "\n".join(lines) + "\n"


def _rows(found: list[tuple[str, str, str]], prefix: str = "") -> list[str]:
    names = [f"{prefix}{k}={v}" for k, v, _ in found]
    width = min(34, max(len(n) for n in names))
    return [f"  {name:<{width}}  {comment}".rstrip() for name, (_, _, comment) in zip(names, found)]
