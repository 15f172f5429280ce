"""docs/METHOD.md is the method's reference inside the repository, and it stays true to the code.

- no file cites the method notes that used to live outside the repository, or any path outside it;
- every ``docs/METHOD.md#<anchor>`` cited anywhere (and every link inside METHOD.md) names an existing heading;
- every setting METHOD.md names exists in ``engine/config.py``, every hyperparameter of ``OVDiffConfig`` is
  documented, and each settings-table row's ``paper`` and ``sdov`` values are those of the two profiles;
- every module METHOD.md points to exists and defines the functions and classes named next to it.
"""
from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path

import pytest

import engine.config as config_module
from engine.config import OVDiffConfig
from engine.profiles import default_config

ROOT = Path(__file__).resolve().parent.parent
METHOD = ROOT / "docs" / "METHOD.md"
# Spelled in pieces so that this file does not cite them itself.
FORBIDDEN = ("METHOD" + "_NOTES", ".." + "/shared", "/work" + "/shared")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "media", "staticfiles"}
GROUPS = tuple(f.name for f in dataclasses.fields(OVDiffConfig))
SETTING = re.compile(r"`(" + "|".join(GROUPS) + r")\.(\w+)`")
CITATION = re.compile(r"METHOD\.md#([\w-]+)")
MODULE_NAMES = re.compile(r"`(engine/[\w/]+\.py)`((?::? *`[\w.]+`,?)*)")


def _repo_files() -> list[Path]:
    """Tracked and untracked-but-not-ignored files (git), else a walk that skips build and cache folders."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout
        paths = [ROOT / p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in ROOT.rglob("*") if not SKIP_DIRS.intersection(p.relative_to(ROOT).parts)]
    return [p for p in paths if p.is_file()]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _slug(heading: str) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped (word characters, spaces and hyphens kept)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(markdown: str) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6} +(.+?) *#*$", markdown, flags=re.M)}


def _method() -> str:
    return METHOD.read_text(encoding="utf-8")


def test_no_file_cites_notes_or_paths_outside_the_repository() -> None:
    hits = []
    for path in _repo_files():
        text = _text(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            hits += [f"{path.relative_to(ROOT)}:{n}: {bad}" for bad in FORBIDDEN if bad in line]
    assert not hits, "cite docs/METHOD.md (or another file in the repository) instead:\n" + "\n".join(hits)


def test_every_cited_method_anchor_exists() -> None:
    anchors = _anchors(_method())
    missing = []
    for path in _repo_files():
        text = _text(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            missing += [f"{path.relative_to(ROOT)}:{n}: #{a}" for a in CITATION.findall(line) if a not in anchors]
    assert not missing, "no such heading in docs/METHOD.md:\n" + "\n".join(missing)
    assert {"support-sampling", "attribution", "prototypes", "category-pre-filter", "stuff-filter",
            "sliding-windows", "background-class", "pamr", "evaluation"} <= anchors


def test_links_inside_method_md_resolve() -> None:
    text = _method()
    bad = []
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([\w-]+))?\)", text):
        if target.startswith(("http://", "https://")):
            continue
        doc = METHOD if not target else (METHOD.parent / target)
        if not doc.exists():
            bad.append(f"{target}: no such file")
        elif anchor and anchor not in _anchors(doc.read_text(encoding="utf-8")):
            bad.append(f"{target or 'METHOD.md'}#{anchor}: no such heading")
    assert not bad, "\n".join(bad)


def test_every_named_setting_exists_and_every_hyperparameter_is_documented() -> None:
    text = _method()
    cfg = OVDiffConfig().to_dict()
    named = set(SETTING.findall(text))
    unknown = sorted(f"{g}.{f}" for g, f in named if f not in cfg[g])
    assert not unknown, f"METHOD.md names settings engine/config.py does not have: {unknown}"
    undocumented = sorted(f"{g}.{f}" for g in GROUPS if g != "runtime" for f in cfg[g] if (g, f) not in named)
    assert not undocumented, f"hyperparameters missing from docs/METHOD.md: {undocumented}"


def _cell_value(cell: str) -> object:
    """A table cell's first backticked value: JSON, or the name of a constant of engine/config.py."""
    match = re.search(r"`([^`]*)`", cell)
    assert match, f"no value in table cell {cell!r}"
    raw = match.group(1)
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        assert hasattr(config_module, raw), f"{raw!r} is neither JSON nor a constant of engine/config.py"
        return json.loads(json.dumps(getattr(config_module, raw)))


def _table_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for line in _method().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and SETTING.fullmatch(cells[0]):
            group, field = SETTING.fullmatch(cells[0]).groups()  # type: ignore[union-attr]
            rows.append((group, field, cells[1], cells[2]))
    return rows


@pytest.mark.parametrize("column,profile", [(2, "paper"), (3, "sdov")])
def test_settings_tables_match_the_profiles(column: int, profile: str) -> None:
    values = json.loads(json.dumps(default_config(profile).to_dict()))  # tuples as lists, like the table's JSON
    rows = _table_rows()
    assert len(rows) > 60
    wrong = []
    for group, field, paper_cell, sdov_cell in rows:
        written = _cell_value(paper_cell if column == 2 else sdov_cell)
        if written != values[group][field]:
            wrong.append(f"{group}.{field}: METHOD.md says {written!r}, profile {profile} has {values[group][field]!r}")
    assert not wrong, "\n".join(wrong)


def test_named_modules_define_the_named_functions() -> None:
    bad = []
    for path, names in MODULE_NAMES.findall(_method().replace("\n", " ")):
        module = ROOT / path
        if not module.exists():
            bad.append(f"{path}: no such module")
            continue
        source = module.read_text(encoding="utf-8")
        for name in re.findall(r"`([\w.]+)`", names):
            for part in name.split("."):
                if not re.search(rf"^\s*(?:def|class) {re.escape(part)}\b", source, flags=re.M):
                    bad.append(f"{path}: {name} ({part} is not defined there)")
    assert not bad, "\n".join(bad)
