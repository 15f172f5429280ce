"""Every engine setting a run may override, with its type and the paper's default (``engine.config``), and the
parser of the run form's overrides: ``group.field=value`` lines (as the CLI's ``--set``) or a JSON object. A wrong
name is refused with the closest valid one; a wrong type with the type expected."""
from __future__ import annotations

import dataclasses
import difflib
import json
import typing
from typing import Any
from engine.config import OVDiffConfig

EXAMPLE = "segment.pamr=true"


def catalog() -> list[dict[str, Any]]:
    """[{name: "group.field", type: "bool"|"int"|"float"|"str"|"list", default: paper value, choices}]."""

    paper = OVDiffConfig()
    rows = []
    for group in dataclasses.fields(paper):
        sub = getattr(paper, group.name)
        hints = typing.get_type_hints(type(sub))
        for f in dataclasses.fields(sub):
            hint = hints[f.name]
            choices = list(typing.get_args(hint)) if typing.get_origin(hint) is typing.Literal else []
            value = getattr(sub, f.name)
            kind = "list" if isinstance(value, tuple) else type(value).__name__
            rows.append({"name": f"{group.name}.{f.name}", "type": kind, "default": value, "choices": choices})
    return rows


def known_settings() -> list[dict[str, Any]]:
    """The catalog with each default as it is written in an override line (``true``, ``[448, 336]``, text)."""
    return [{**row, "default_text": row["default"] if isinstance(row["default"], str)
             else json.dumps(_plain(row["default"]))} for row in catalog()]


def closest(name: str, names: list[str]) -> str | None:
    """The valid name nearest ``name`` (whole dotted name, else by its last part, e.g. use_pamr -> segment.pamr)."""
    match = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    if match:
        return match[0]
    tails = {n.rsplit(".", 1)[-1]: n for n in names}
    match = difflib.get_close_matches(name.rsplit(".", 1)[-1], list(tails), n=1, cutoff=0.5)
    return tails[match[0]] if match else None


def _typed(row: dict[str, Any], raw: Any) -> Any:
    """``raw`` (a JSON value or the text after '=') as the setting's type; ValueError names what is expected."""
    kind, name = row["type"], row["name"]
    if isinstance(raw, str) and kind != "str":
        text = raw.strip()
        if kind == "list" and not text.startswith("["):
            text = f"[{text}]"
        try:
            raw = json.loads(text)
        except json.JSONDecodeError:
            raw = [p.strip() for p in text.strip("[]").split(",") if p.strip()] if kind == "list" else text
    ok = {"bool": lambda v: isinstance(v, bool), "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
          "str": lambda v: isinstance(v, str), "list": lambda v: isinstance(v, list)}[kind]
    if not ok(raw):
        expected = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text",
                    "list": "a list, e.g. [1, 2] or 1, 2"}[kind]
        raise ValueError(f"{name} must be {expected} (paper default: {json.dumps(_plain(row['default']))})")
    if row["choices"] and raw not in row["choices"]:
        raise ValueError(f"{name} must be one of {', '.join(map(str, row['choices']))}")
    return float(raw) if kind == "float" else raw


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def parse_overrides(text: str) -> dict[str, dict[str, Any]]:
    """Overrides as ``{group: {field: value}}`` from ``group.field=value`` lines or a JSON object of groups."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
        if not isinstance(data, dict):
            raise ValueError(f'a JSON object of setting groups, e.g. {{"segment": {{"pamr": true}}}}; or {EXAMPLE}')
        groups = {r["name"].split(".", 1)[0] for r in catalog()}
        items = []
        for group, fields in data.items():
            if group not in groups or not isinstance(fields, dict):
                hint = closest(group, sorted(groups)) if group not in groups else None
                raise ValueError(f"{group!r} is not a setting group ({', '.join(sorted(groups))})"
                                 + (f"; did you mean {hint!r}?" if hint else ""))
            items += [(f"{group}.{k}", v) for k, v in fields.items()]
    else:
        items = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if "=" not in line:
                raise ValueError(f"{line!r}: write one setting per line as group.field=value, e.g. {EXAMPLE}")
            name, value = line.split("=", 1)
            items.append((name.strip(), value))
    rows = {r["name"]: r for r in catalog()}
    out: dict[str, dict[str, Any]] = {}
    for name, value in items:
        if name not in rows:
            hint = closest(name, list(rows))
            raise ValueError(f"unknown setting {name!r}" + (f"; did you mean {hint!r}?" if hint else ""))
        group, field = name.split(".", 1)
        out.setdefault(group, {})[field] = _typed(rows[name], value)
    return out
