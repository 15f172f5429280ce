"""The rooms and their contracts (docs/ARCHITECTURE.md): the import-linter contracts hold, no module takes part in
an import cycle (imports inside functions count), the public Celery task names never change, and no folder or
module outgrows the size the guide asks for."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from check_import_cycles import module_cycles  # noqa: E402

# Queued messages name their task: a deploy that renamed one would leave every queued message of it unrunnable.
PUBLIC_TASK_NAMES = {
    "tasks.artifacts.build_class_artifacts",
    "tasks.artifacts.regenerate_class",
    "tasks.ingest.ingest_dataset",
    "tasks.metrics.finalize_metrics",
    "tasks.segment.segment_shard",
    "tasks.segment_image.segment_image",
    "tasks.watchdog.watchdog",
    "tasks.workflow.advance_run",
    "tasks.workflow.start_run",
}


def test_every_public_task_name_is_still_registered() -> None:
    import tasks  # noqa: F401  (what a worker imports: registers every task)
    from ovdiff_web.celery import app

    ours = {name for name in app.tasks if name.startswith("tasks.")}
    assert PUBLIC_TASK_NAMES <= ours, f"renamed or removed: {sorted(PUBLIC_TASK_NAMES - ours)}"


def test_the_service_sends_only_registered_task_names() -> None:
    import tasks  # noqa: F401
    from ovdiff_web.celery import app
    from ovdiff_web.common.broker import queue

    sent = {value for name, value in vars(queue).items() if name.isupper() and isinstance(value, str)
            and value.startswith("tasks.")}
    assert sent and sent <= set(app.tasks), sorted(sent - set(app.tasks))


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    out = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_module_takes_part_in_an_import_cycle() -> None:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph("engine", "ovdiff_web", "tasks", cache_dir=None)
    assert module_cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_level_import() -> None:
    graph = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"):
        graph.add_module(module)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.c")
    graph.add_import(importer="pkg.c", imported="pkg.a")  # e.g. inside a function: grimp counts it all the same
    graph.add_import(importer="pkg.d", imported="pkg.a")
    assert module_cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]


@pytest.mark.parametrize("package", ["ovdiff_web", "tasks", "engine", "bench"])
def test_folders_hold_at_most_15_modules_and_modules_stay_short(package: str) -> None:
    crowded, long = [], []
    for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]:
        if "migrations" in folder.parts or "__pycache__" in folder.parts:
            continue
        modules = list(folder.glob("*.py"))
        if len(modules) > 15:
            crowded.append(f"{folder.relative_to(ROOT)}: {len(modules)}")
        long += [f"{m.relative_to(ROOT)}: {n}" for m in modules if (n := len(m.read_text().splitlines())) > 420]
    assert not crowded and not long, (crowded, long)


def test_the_layer_contract_fails_when_a_lower_room_imports_a_higher_one(tmp_path: Path) -> None:
    for package in ("engine", "ovdiff_web", "tasks"):
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    paths = tmp_path / "ovdiff_web" / "common" / "paths.py"
    paths.write_text(paths.read_text() + "\n\ndef _sneaky():\n    from ovdiff_web.runs import models  # noqa\n")
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    out = subprocess.run([lint, "--no-cache"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)})
    assert out.returncode != 0
    assert "ovdiff_web.common is not allowed to import ovdiff_web.runs" in out.stdout
    assert "ovdiff_web.common.paths -> ovdiff_web.runs.models" in out.stdout
