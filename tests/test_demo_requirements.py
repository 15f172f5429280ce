"""`make demo` installs only requirements/base.txt (+ cpu) and requirements/real-weights.txt, and its real run reads
the real-photo set (engine.evaluation.photo_set) from the packages that ship the photos: each of those packages
must be a requirement there, not only a dev one (a clean clone's demo stopped on a missing scikit-learn)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from engine.evaluation.photo_set import SET_FILE

ROOT = Path(__file__).resolve().parent.parent
PIP_NAME = {"skimage": "scikit-image", "sklearn": "scikit-learn", "matplotlib": "matplotlib"}


def _requirements(*files: str) -> set[str]:
    names = set()
    for name in files:
        for line in (ROOT / "requirements" / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                names.add(re.split(r"[<>=!\[; ]", line, maxsplit=1)[0].lower())
    return names


def test_the_demo_installs_every_package_the_photo_set_reads():
    spec = json.loads(SET_FILE.read_text())
    packages = {entry["source"].split(":")[0] for entry in spec["photos"].values()}
    assert packages <= set(PIP_NAME), f"name the pip package of {packages - set(PIP_NAME)}"
    installed = _requirements("base.txt", "real-weights.txt")
    assert {PIP_NAME[p] for p in packages} <= installed, installed
