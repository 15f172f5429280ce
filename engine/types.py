"""Plain data that flows between engine stages. No behaviour beyond small conveniences."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal, Protocol

import numpy as np

if TYPE_CHECKING:  # annotations only: loading a cached artifact must not import torch
    import torch

# progress(stage, done, total) ; cancel() -> True to stop. Both optional everywhere.
ProgressFn = Callable[[str, int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class ClassSpec:
    """One vocabulary entry: the class name, the text sent to the generator, thing/stuff."""

    name: str
    prompt: str | None = None  # defaults to name (after renaming, e.g. aeroplane -> airplane)
    is_stuff: bool = False
    user_support_dir: str | None = None  # bring-your-own support images instead of sampling
    curation: "Curation | None" = None  # a person's review of the support set (None: as built)

    @property
    def text(self) -> str:
        return self.prompt or self.name


@dataclass
class SupportImage:
    index: int
    image: np.ndarray  # uint8 (H, W, 3)
    attribution: np.ndarray | None  # float32 (H, W) in [0, 1]; None for user images without one
    seed: int | None = None
    prompt: str | None = None
    fg_mask: np.ndarray | None = None  # bool (H, W)
    bg_mask: np.ndarray | None = None  # bool (H, W)
    instance_masks: list[np.ndarray] = field(default_factory=list)  # proposer output, bool (H, W)
    excluded: str | None = None  # a person's reason for leaving the image out of the banks (None: kept)
    mask_choice: str = ""  # "" = the proposer's rule, "instance:J" = proposed mask J as fg, "attribution",
    # "painted:<mask id>" = a mask a person painted, "candidate:K" = candidate K of the proposed masks (the
    # vocabulary rule's choice, engine.masks.fgbg.user_candidates)


@dataclass(frozen=True)
class Curation:
    """A person's review of one class's support set, as plain data (``engine.support.curation`` applies it).

    Images are named by ``image_id`` (a hash of their pixels), so decisions survive adding images: ``excluded``
    holds (image id, reason) pairs, ``masks`` (image id, "instance:J" | "candidate:K" | "attribution" | "painted:<mask id>")
    pairs; ``extra_seeds`` are further generator seeds and ``extra_dirs`` further folders of a user's images
    joining the set. ``mask_dir`` is where painted masks are read (``<mask id>.png``); it is not part of any key
    (the mask id is: a hash of the mask's pixels)."""

    excluded: tuple[tuple[str, str], ...] = ()
    masks: tuple[tuple[str, str], ...] = ()
    extra_seeds: tuple[int, ...] = ()
    extra_dirs: tuple[str, ...] = ()
    mask_dir: str = ""

    @property
    def is_empty(self) -> bool:
        return not (self.excluded or self.masks or self.extra_seeds or self.extra_dirs)


@dataclass
class SupportSet:
    class_name: str
    prompt: str
    source: Literal["generated", "user"]
    images: list[SupportImage]
    key: str = ""


@dataclass(frozen=True)
class ProtoSource:
    """Where a prototype came from, so a segmentation can point back to a support region."""

    kind: Literal["class", "instance", "part"]
    mask: Literal["fg", "bg"]
    image_index: int | None  # instance: its image; part: the image holding most of the cluster; class: None
    cluster: int | None = None  # part prototypes only
    box: tuple[float, float, float, float] | None = None  # region in that image, normalised x0, y0, x1, y1
    size: int = 0  # number of feature cells averaged


@dataclass
class PrototypeBank:
    """Prototypes of one class for one extractor. Vectors are raw (not normalised)."""

    class_name: str
    extractor: str
    fg: torch.Tensor  # (P, D) float32
    bg: torch.Tensor  # (Q, D) float32
    fg_sources: list[ProtoSource]
    bg_sources: list[ProtoSource]
    key: str = ""
    support_key: str = ""


class FeatureExtractor(Protocol):
    """images (B, 3, H, W) float in [0, 1] on any device -> features (B, D, h, w) float32."""

    name: str
    dim: int

    def __call__(self, images: torch.Tensor) -> torch.Tensor: ...


@dataclass
class PixelExplanation:
    class_name: str
    extractor: str
    score: float
    source: ProtoSource
    prototype_class: str = ""  # class whose bank holds the prototype (differs from class_name for background)
    prototype_index: int = -1  # index into Segmentation.prototype_index[extractor]


@dataclass
class Segmentation:
    labels: np.ndarray  # int32 (H, W) index into label_names
    label_names: list[str]  # what each label id means: 0 is "background" (when used), then the vocabulary
    scores: np.ndarray | None = None  # float32 (C, H, W) when asked for
    selected: list[str] = field(default_factory=list)  # classes kept by the pre-filter
    # winner[e] : int32 (H, W) index into the flattened prototype list of extractor e, when asked for
    winners: dict[str, np.ndarray] = field(default_factory=dict)
    prototype_index: dict[str, list[tuple[str, ProtoSource]]] = field(default_factory=dict)
    # winner_scores[e] : float32 (H, W) cosine of the winning prototype of extractor e, when asked for
    winner_scores: dict[str, np.ndarray] = field(default_factory=dict)
