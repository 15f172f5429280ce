"""Segment an image against a vocabulary of prototype banks (docs/METHOD.md#segmenting-an-image).

Per image: pick the classes (CLIP pre-filter, stuff always kept); resize to short side 448; for every extractor and
window batch, ONE chunked matrix product against the prototypes of the selected classes (deselected classes are
not matched at all: they score ``deselected_score``); class score = max cosine over the class's fg prototypes;
channel 0 "background" = max cosine over the bg prototypes of the selected classes left by the stuff filter;
window scores are upsampled and coverage-averaged, extractors weigh equally (they share windows, so one
accumulator); optional PAMR; bilinear upsampling to the original size; label = argmax where, as in the authors'
code, scores <= 0 are zeroed first and ties go to the lowest channel, i.e. to background.

Ablation ``use_background_prototypes=False``: channel 0 is the constant ``background_threshold`` (0.75), so a
pixel is background unless some class scores strictly above it (the code's ``score > thres`` with bg zeroed).
Channel 0 is named "background" either way so label indices stay those of the vocabulary plus one.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from engine.config import SegmentConfig
from engine.errors import BadInputError
from engine.segment.matching import PrototypeTable, l2_normalise, match_prototypes
from engine.segment.pamr import pamr
from engine.segment.prefilter import CategoryPrefilter
from engine.segment.stuff import background_keep_masks
from engine.types import ClassSpec, FeatureExtractor, PrototypeBank, ProtoSource, Segmentation
from engine.segment.windows import (
    CoverageAccumulator,
    Window,
    bilinear_taps,
    crop_batch,
    nearest_index,
    resize_short_side,
    window_batches,
    window_boxes,
)

BACKGROUND = "background"
_STRIP_ELEMENTS = 1 << 24  # bound on C x rows x W floats per upsampling strip


def as_rgb(image: object, max_pixels: int) -> np.ndarray:
    """Validate a caller's array and return uint8 (H, W, 3): grayscale is repeated, an alpha channel dropped."""
    if not isinstance(image, np.ndarray):
        raise BadInputError(f"expected a numpy array, got {type(image).__name__}", item="image")
    if image.dtype != np.uint8:
        raise BadInputError(f"expected dtype uint8, got {image.dtype}", item="image")
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise BadInputError(f"expected shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {image.shape}", "image")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise BadInputError(f"empty image of shape {image.shape}", item="image")
    if h * w > max_pixels:
        raise BadInputError(f"{w}x{h} = {h * w} pixels exceeds max_image_pixels={max_pixels}", item="image")
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.shape[2] == 4:
        image = image[..., :3]
    return np.ascontiguousarray(image)


def label_from_scores(scores: torch.Tensor, zero_nonpositive: bool) -> torch.Tensor:
    """argmax over dim 0 of (C, H, W) with ties to the LOWEST index; scores <= 0 count as 0 if asked.

    ``torch.max(dim)`` returns the index of the first of equal maxima (documented), i.e. the lowest; its kernel is
    ~10x faster than ``argmax`` over the leading dim of a (C, H, W) tensor on the CPU (measured)."""
    s = scores.clamp_min(0.0) if zero_nonpositive else scores
    return s.max(dim=0).indices


class Segmenter:
    """Callable segmenter for a fixed vocabulary; see the module docstring for the method."""

    def __init__(
        self,
        cfg: SegmentConfig,
        extractors: Mapping[str, FeatureExtractor],
        banks: Mapping[str, Mapping[str, PrototypeBank]],
        classes: Sequence[ClassSpec],
        prefilter: CategoryPrefilter | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if not classes:
            raise BadInputError("the vocabulary is empty", item="classes")
        if not extractors:
            raise BadInputError("no feature extractors given", item="extractors")
        names = [c.name for c in classes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes or BACKGROUND in names:
            bad = ", ".join(dupes or [BACKGROUND])
            raise BadInputError("class names must be unique and not 'background'", item=bad)
        self.cfg = cfg
        self.extractors = dict(extractors)
        self.classes = list(classes)
        self.prefilter = prefilter
        self.device = torch.device(device)
        self.label_names = [BACKGROUND] + names
        self._tables: dict[tuple[str, tuple[str, ...]], PrototypeTable] = {}  # per extractor and selection
        is_stuff = {c.name: c.is_stuff for c in classes}
        # per extractor: class -> (unit fg (P, D), ids), (unit kept bg (Q, D), ids); flattened source list
        self._fg: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        self._bg: dict[str, dict[str, tuple[torch.Tensor, torch.Tensor]]] = {}
        self.prototype_index: dict[str, list[tuple[str, ProtoSource]]] = {}
        for ename, extractor in self.extractors.items():
            per_class: dict[str, PrototypeBank] = {}
            for name in names:
                bank = banks.get(name, {}).get(ename)
                if bank is None:
                    raise BadInputError(f"no prototype bank for extractor {ename!r}", item=name)
                dim = getattr(extractor, "dim", None)
                if bank.fg.ndim != 2 or (dim is not None and bank.fg.shape[1] != dim):
                    raise BadInputError(f"{ename} bank has shape {tuple(bank.fg.shape)}, extractor dim {dim}", name)
                per_class[name] = bank
            keep = background_keep_masks(per_class, is_stuff, cfg)
            index: list[tuple[str, ProtoSource]] = []
            self._fg[ename], self._bg[ename] = {}, {}
            for name, bank in per_class.items():
                start = len(index)
                index.extend((name, s) for s in bank.fg_sources)
                self._fg[ename][name] = (l2_normalise(bank.fg.float()).to(self.device),
                                         torch.arange(start, len(index)))
                kept = torch.nonzero(keep[name]).flatten()
                start = len(index)
                index.extend((name, bank.bg_sources[int(i)]) for i in kept)
                bg = bank.bg.float().reshape(-1, bank.fg.shape[1])[kept]
                self._bg[ename][name] = (l2_normalise(bg).to(self.device),
                                         torch.arange(start, len(index)))
            self.prototype_index[ename] = index

    # ----------------------------------------------------------------------------------------------------------
    def select(self, image: np.ndarray) -> list[str]:
        """Class names kept for this image: the pre-filter's choice, or every class without one."""
        if self.cfg.category_prefilter and self.prefilter is not None:
            return self.prefilter(image, self.classes)
        return [c.name for c in self.classes]

    def _table(self, ename: str, selected: list[str]) -> PrototypeTable:
        """Channel 0: bg prototypes of the selected classes (or none); then each selected class's fg. Built once
        per extractor and selection (the last few selections are kept: the pre-filter's choice varies)."""
        key = (ename, tuple(selected))
        if key not in self._tables:
            if len(self._tables) >= 8:
                self._tables.clear()
            self._tables[key] = self._build_table(ename, selected)
        return self._tables[key]

    def _build_table(self, ename: str, selected: list[str]) -> PrototypeTable:
        dim = next(iter(self._fg[ename].values()))[0].shape[1]
        if self.cfg.use_background_prototypes:
            bg = [self._bg[ename][n] for n in selected]
            groups = [torch.cat([v for v, _ in bg])] if bg else [torch.zeros(0, dim)]
            ids = [torch.cat([i for _, i in bg])] if bg else [torch.zeros(0, dtype=torch.long)]
        else:
            groups, ids = [torch.zeros(0, dim, device=self.device)], [torch.zeros(0, dtype=torch.long)]
        for n in selected:
            groups.append(self._fg[ename][n][0])
            ids.append(self._fg[ename][n][1])
        return PrototypeTable.from_groups(groups, ids, dim)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, explain: bool = False, return_scores: bool = False) -> Segmentation:
        cfg = self.cfg
        rgb = as_rgb(image, cfg.max_image_pixels)
        selected_set = set(self.select(rgb))
        selected = [c.name for c in self.classes if c.name in selected_set]
        channels = [0] + [1 + i for i, c in enumerate(self.classes) if c.name in selected_set]
        work = resize_short_side(rgb, cfg.short_side, cfg.short_side_rounding)
        h, w = work.shape[:2]
        img_t = torch.from_numpy(work).to(self.device).permute(2, 0, 1).float().div_(255.0)
        windows = window_boxes(h, w, cfg)
        acc = CoverageAccumulator(len(channels), h, w, self.device)
        best: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        for ename, extractor in self.extractors.items():
            table = self._table(ename, selected)
            if explain:
                best[ename] = (torch.full((len(channels), h, w), float("-inf"), device=self.device),
                               torch.full((len(channels), h, w), -1, dtype=torch.long, device=self.device))
            input_size = getattr(extractor, "input_size", None)
            for batch in window_batches(windows, cfg.window_batch_size):
                feats = extractor(crop_batch(img_t, batch, input_size if isinstance(input_size, int) else None))
                scores, ids = match_prototypes(feats.to(self.device), table, cfg.prototype_chunk, explain,
                                               empty_score=cfg.deselected_score)
                for i, win in enumerate(batch):
                    acc.add(scores[i], win)
                    if ids is not None:
                        _keep_best(best[ename], scores[i], ids[i], win)
        avg = acc.result()
        if not cfg.use_background_prototypes:
            avg[0] = cfg.background_threshold
        if cfg.pamr:
            avg = pamr(img_t[None], avg[None], cfg.pamr_iterations, cfg.pamr_dilations)[0]
        full_h, full_w = rgb.shape[:2]
        compact_labels, full_scores = self._upsample_and_label(avg, channels, full_h, full_w, return_scores)
        labels = torch.as_tensor(channels, device=self.device)[compact_labels.clamp(min=0)]
        labels = torch.where(compact_labels >= 0, labels, self._first_deselected(channels))
        seg = Segmentation(labels=labels.cpu().numpy().astype(np.int32), label_names=list(self.label_names),
                           scores=full_scores, selected=selected)
        if explain:
            yy = nearest_index(full_h, h).to(self.device)
            xx = nearest_index(full_w, w).to(self.device)
            cl = compact_labels.clamp(min=0)
            for ename, (val, idx) in best.items():
                win = idx[cl, yy[:, None], xx[None, :]]
                sc = val[cl, yy[:, None], xx[None, :]]
                ok = compact_labels >= 0
                seg.winners[ename] = torch.where(ok, win, -1).cpu().numpy().astype(np.int32)
                seg.winner_scores[ename] = torch.where(ok & (win >= 0), sc, float("nan")).cpu().numpy()
            seg.prototype_index = {e: list(v) for e, v in self.prototype_index.items()}
        return seg

    # ----------------------------------------------------------------------------------------------------------
    def _first_deselected(self, channels: list[int]) -> int:
        chosen = set(channels)
        return next((c for c in range(len(self.label_names)) if c not in chosen), 0)

    def _upsample_and_label(
        self, avg: torch.Tensor, channels: list[int], out_h: int, out_w: int, return_scores: bool
    ) -> tuple[torch.Tensor, np.ndarray | None]:
        """Bilinear-upsample compact scores (S, h, w) to (out_h, out_w) in row strips and label them.

        Returns compact labels (index into ``channels``; -1 where a deselected class wins, only possible if
        ``deselected_score`` beats every matched score) and, if asked, the full (C, H, W) float32 scores.
        """
        cfg = self.cfg
        s, h, w = avg.shape
        y0, y1, ly = (t.to(avg.device) for t in bilinear_taps(out_h, h))
        x0, x1, lx = (t.to(avg.device) for t in bilinear_taps(out_w, w))
        n_desel = len(self.label_names) - len(channels)
        fill = cfg.deselected_score
        fill_eff = max(fill, 0.0) if cfg.zero_nonpositive_scores else fill
        first_desel = self._first_deselected(channels)
        labels = torch.empty(out_h, out_w, dtype=torch.long, device=avg.device)
        full = None
        if return_scores:
            full = np.full((len(self.label_names), out_h, out_w), fill, dtype=np.float32)
        rows = max(1, _STRIP_ELEMENTS // max(1, s * out_w))
        for r0 in range(0, out_h, rows):
            r1 = min(out_h, r0 + rows)
            # separable bilinear resize: two taps per output row, then per output column (S, rows, W)
            part = torch.lerp(avg[:, y0[r0:r1]], avg[:, y1[r0:r1]], ly[r0:r1, None])
            strip = torch.lerp(part[..., x0], part[..., x1], lx)
            lab = label_from_scores(strip, cfg.zero_nonpositive_scores)
            if n_desel:
                zs = torch.where(strip > 0, strip, torch.zeros_like(strip)) if cfg.zero_nonpositive_scores else strip
                top = zs.max(dim=0).values
                ch = torch.as_tensor(channels, device=avg.device)[lab]
                desel_wins = (fill_eff > top) | ((fill_eff == top) & (first_desel < ch))
                lab = torch.where(desel_wins, -1, lab)
            labels[r0:r1] = lab
            if full is not None:
                full[channels, r0:r1] = strip.cpu().numpy()
        return labels, full


def _keep_best(state: tuple[torch.Tensor, torch.Tensor], scores: torch.Tensor, ids: torch.Tensor, win: Window) -> None:
    """Track, per channel and pixel, the best-scoring prototype over windows (nearest upsampling keeps ids exact)."""
    val, idx = state
    size = win.shape
    up_v = torch.nn.functional.interpolate(scores[None], size=size, mode="nearest")[0]
    up_i = torch.nn.functional.interpolate(ids[None].double(), size=size, mode="nearest")[0].long()
    region_v = val[:, win.y0 : win.y1, win.x0 : win.x1]
    region_i = idx[:, win.y0 : win.y1, win.x0 : win.x1]
    better = up_v > region_v
    region_v[better] = up_v[better]
    region_i[better] = up_i[better]
