"""Entry point: run every benchmark module in order, collect figures, write JSON and the Markdown summary.

A benchmark that raises is recorded with its error (the others still run) and makes the exit status 1.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path

from bench.common import Context, machine_info

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"
# Order matters for the wall-clock budget only: cheap, independent figures first.
BENCHMARKS: tuple[str, ...] = (
    "cached_calls",
    "matching_overhead",
    "prefilter_cache",
    "batched_windows",
    "kmeans_speed",
    "bank_memory",
    "vocab_growth",
    "vocab_scaling",
    "service_latency",
    "prediction_jobs",
    "scale_out",
    "fewshot_cpu",
    "fewshot_photos",
    "fewshot_runtime",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="tiny profile and small sizes (about 2 minutes)")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME", help=f"subset of {', '.join(BENCHMARKS)}")
    p.add_argument("--json", type=Path, default=DEFAULT_JSON, help="results file")
    p.add_argument("--merge", action="store_true",
                   help="keep the other benchmarks' results already in --json (re-run a subset)")
    p.add_argument("--markdown", type=Path, default=ROOT / "docs" / "PERFORMANCE.md", help="summary file")
    p.add_argument("--device", default=None,
                   help="run the GPU check on this device instead (cuda, cuda:1; cpu to test it), see bench.gpu_check")
    p.add_argument("--profile", default="paper-shape", choices=("paper-shape", "tiny"),
                   help="models of the GPU check (tiny: seconds on a CPU)")
    p.add_argument("--images", type=int, default=None,
                   help="support images per class in the GPU check (default 8 with --quick, else 64)")
    return p.parse_args(argv)


def device_check(args: argparse.Namespace) -> int:
    """``--device``: the GPU check alone, printed and written to --json (default bench/results/gpu_check.json)."""
    from bench.gpu_check import run_check

    out = run_check(args.device, args.profile, args.quick, log=lambda m: print(m, flush=True), n_images=args.images)
    out = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "machine": machine_info(), **out}
    path = args.json if args.json != DEFAULT_JSON else ROOT / "bench" / "results" / "gpu_check.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1, default=_jsonable)
    path.write_text(text + "\n")
    print(text)
    print(f"[bench] wrote {path}", flush=True)
    return 0


def run_all(ctx: Context, names: tuple[str, ...]) -> dict:
    """{"benchmarks": {name: {figures, details, seconds} | {error}}, "figures": merged headline figures}."""
    results: dict[str, dict] = {}
    figures: dict[str, object] = {}
    for name in names:
        ctx.log(f"[bench] {name} ({ctx.mode}) ...")
        t0 = time.perf_counter()
        try:
            out = importlib.import_module(f"bench.suites.{name}").run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
            traceback.print_exc()
            results[name] = {"error": f"{type(exc).__name__}: {exc}", "seconds": time.perf_counter() - t0}
            continue
        out["seconds"] = round(time.perf_counter() - t0, 1)
        results[name] = out
        figures.update(out.get("figures", {}))
        ctx.log(f"[bench] {name}: {json.dumps(out.get('figures', {}), default=str)} in {out['seconds']} s")
    return {"benchmarks": results, "figures": figures}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if args.device:
        return device_check(args)
    ctx = Context(quick=args.quick, log=lambda m: print(m, flush=True))
    names = tuple(args.only) if args.only else BENCHMARKS
    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    run = run_all(ctx, names)
    if args.merge and args.json.is_file():
        old = json.loads(args.json.read_text())
        kept = {k: v for k, v in old.get("benchmarks", {}).items() if k not in names}
        run["benchmarks"] = {**kept, **run["benchmarks"]}
        run["figures"] = {k: v for b in run["benchmarks"].values() for k, v in b.get("figures", {}).items()}
        run["merged"] = {"kept_from": old.get("merged", {}).get("kept_from", old.get("date")), "rerun": sorted(set(old.get("merged", {}).get("rerun", [])) | set(names))}
    doc = {
        "mode": ctx.mode,
        "profile": ctx.profile,
        "date": started.isoformat(timespec="seconds"),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "machine": machine_info(),
        **({"merged": run["merged"]} if "merged" in run else {}),
        **run["figures"],
        "benchmarks": run["benchmarks"],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")
    from bench.report import render

    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(render(doc))
    print(f"[bench] wrote {args.json} and {args.markdown} in {doc['total_seconds']} s", flush=True)
    return 1 if any("error" in r for r in run["benchmarks"].values()) else 0


def _jsonable(o: object) -> object:
    if hasattr(o, "item"):
        return o.item()  # numpy / torch scalars
    if isinstance(o, tuple):
        return list(o)
    return str(o)


if __name__ == "__main__":
    sys.exit(main())
