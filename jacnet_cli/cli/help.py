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


def comment(path: Path) -> list[str]:
    """The comment block at the top of a YAML file (the option's documentation), as lines
    without their `#` (indentation after it kept for examples)."""
    out: list[str] = []
    for line in _lines(path):
        text = line.strip()
        if text.startswith("# @package"):
            continue
        if not text.startswith("#"):
            if text or out:
                break
            continue
        out.append(text[1:].rstrip()[1:] if text[1:2] == " " else text[1:].rstrip())
    return out


#: a sentence ends at a full stop followed by the end or a capital (not "e.g. x", "al. 2024")
_SENTENCE_END = re.compile(r"\.(?=\s+[A-Z]|\s*$)")


def description(path: Path, limit: int | None = None) -> str:
    """The first sentence of the comment at the top of a YAML file (the option's summary),
    whole; with `limit`, cut at a word boundary within `limit` characters (marked …)."""
    text = " ".join(ln.strip() for ln in comment(path) if ln.strip())
    end = _SENTENCE_END.search(text)
    if end:
        text = text[:end.end()]
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


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


class HelpError(ValueError):
    """A `--help` request naming an option that does not exist (one line, exit 2)."""


WIDTH = 100  # help lines are wrapped to this many columns


def _wrap(text: str, first: str, rest: str) -> list[str]:
    import textwrap

    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False) or [first.rstrip()]


def task_help(command: str, overrides: list[str], conf: Path) -> str:
    """The help text of one task: with `group=option` among the overrides, those options'
    own pages (`option_help`); else the whole page, for the options the overrides choose."""
    task_file = conf / f"{command}.yaml"
    chosen = defaults(task_file)
    asked: list[tuple[str, str]] = []
    for arg in overrides:
        key, _, value = arg.lstrip("+~").partition("=")
        if (key in chosen or (conf / key).is_dir()) and key != "hydra":
            if (conf / key).is_dir():
                options = sorted(p.stem for p in (conf / key).glob("*.yaml"))
                if value not in options and value not in ("", "null"):
                    raise HelpError(f"{key}={value!r} is not an option; choose one of: "
                                    f"{', '.join(options)}")
                if value not in ("", "null"):
                    asked.append((key, value))
            chosen[key] = value
    if asked:
        return option_help(command, asked, conf)
    return _task_page(command, chosen, conf)


def option_help(command: str, asked: list[tuple[str, str]], conf: Path) -> str:
    """The page of each `group=option` asked about: its whole description, its keys with
    what each means, and the group's other options."""
    lines = [f"usage: jacnet {command} {' '.join(f'{g}={o}' for g, o in asked)} "
             "[key=value ...]", ""]
    for group, option in asked:
        path = conf / group / f"{option}.yaml"
        text = comment(path)
        lines.append(f"{group}={option}:")
        paragraph: list[str] = []
        for line in [*text, ""]:
            if line.strip() and not line.startswith("  "):
                paragraph.append(line.strip())
                continue
            if paragraph:
                lines += _wrap(" ".join(paragraph), "  ", "  ")
                paragraph = []
            if line.strip():  # an indented line: an example, kept as it is
                lines.append("  " + line)
        found = keys(path)
        if found:
            lines.append("")
            lines.append("keys (default, then what it does):")
            lines += _rows(found, prefix=f"{group}." if _scoped(path) else "")
        others = sorted(p.stem for p in (conf / group).glob("*.yaml") if p.stem != option)
        if others:
            lines.append("")
            lines += _wrap(", ".join(others), f"other options of {group}: ", "  ")
        lines.append("")
    lines.append(f"Every group and key: jacnet {command} --help")
    return "\n".join(lines) + "\n"


def _scoped(path: Path) -> bool:
    """Whether an option's keys live under its group (not `# @package _global_`)."""
    return not any(line.strip().startswith("# @package _global_") for line in _lines(path)[:3])


def _task_page(command: str, chosen: dict[str, str], conf: Path) -> str:
    """The whole help page of a task for the chosen options."""
    task_file = conf / f"{command}.yaml"
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
            pad = " " * (width + 3)
            lines += _wrap(f"{option}" + (f": {text}" if text else ""), f"  {group:<{width}} ",
                           pad)
            others = [o for o in options if o != option]
            if others:
                lines += _wrap(", ".join(others), f"{pad}also: ", pad + "      ")
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
