"""Remove the top-level ``tests`` package that label-studio-converter's wheel installs into site-packages.

That package (the converter's own tests, shipped by mistake) would shadow this repository's ``tests`` folder, a
namespace package: ``from tests.service.conftest import ...`` would then fail. Only a ``tests`` folder listed in
label-studio-converter's RECORD is removed; anything else is left alone. Run after installing requirements."""
from __future__ import annotations

import importlib.metadata
import shutil
import sysconfig
from pathlib import Path


def main() -> None:
    try:
        dist = importlib.metadata.distribution("label-studio-converter")
    except importlib.metadata.PackageNotFoundError:
        return
    if not any(str(f).replace("\\", "/") == "tests/__init__.py" for f in dist.files or []):
        return
    stray = Path(sysconfig.get_paths()["purelib"]) / "tests"
    if stray.is_dir():
        shutil.rmtree(stray)
        print(f"removed {stray} (shipped by label-studio-converter; it would shadow the repository's tests)")


if __name__ == "__main__":
    main()
