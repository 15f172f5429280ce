"""The category pre-filter's scorer with CLIP text embeddings cached by prompt, across images, runs and workers.

The pre-filter's prompts depend only on the classes ("a cat", and up to 1,023 subset prompts "a cat and a dog"),
so each prompt is encoded once per CLIP model: embeddings live in memory and in the artifact store (kind
``text-embeddings``, key = CLIP identity hash + hash of the batch of prompts encoded together). A scorer that
misses in memory first reads every stored batch of its CLIP it has not read yet, then encodes only the prompts
still missing and publishes them as one new batch (the store's atomic rule: a batch is visible only when
complete, so a worker reading while another writes sees all of a batch or none of it). The image embedding is
computed once per image (the pre-filter scores the same image twice: candidates, then subsets).
Scores equal ``clip_text_image_similarity`` up to float rounding (text batches are padded differently).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.config import stable_hash
from engine.features.clip_text import check_image, clip_image_embedding, clip_text_embeddings

KIND = "text-embeddings"
_FILE, _PROMPTS = "embeddings.npy", "prompts.json"


class CachedClipScorer:
    """``(image, prompts) -> cosine similarities``, a drop-in ``Scorer`` for ``CategoryPrefilter``."""

    def __init__(self, registry: Any, store: Any, antialias: bool = True, precision: str | None = None) -> None:
        self.registry = registry
        self.store = store
        self.antialias = antialias  # image resize, as in ``clip_text_image_similarity`` (False: the authors' code)
        self.precision = precision  # CLIP's (``ModelRegistry.clip_in``); None: the CLIP role's
        identity = registry.identity("clip") if precision is None else registry.identity("clip", precision)
        self.prefix = stable_hash("clip-text", identity)[:16]
        self.memory: dict[str, torch.Tensor] = {}
        self.read_keys: set[str] = set()
        self._image: tuple[str, torch.Tensor] | None = None
        self.encoded = 0  # prompts this scorer had to encode (for tests and benchmarks)

    def __call__(self, image: np.ndarray, prompts: list[str]) -> torch.Tensor:
        if not prompts:
            return torch.zeros(0, dtype=torch.float32)
        return self.text(prompts) @ self.image(image)

    def image(self, image: np.ndarray) -> torch.Tensor:
        arr = np.ascontiguousarray(check_image(image))
        digest = hashlib.blake2b(arr.tobytes(), digest_size=16).hexdigest() + repr((arr.shape, arr.dtype.str))
        if self._image is None or self._image[0] != digest:
            self._image = (digest, clip_image_embedding(self.registry, arr, self.antialias, self.precision))
        return self._image[1]

    def text(self, prompts: list[str]) -> torch.Tensor:
        """(len(prompts), D) unit embeddings: memory, then the store, then the text encoder for the rest."""
        missing = self._missing(prompts)
        if missing:
            self._read_store()
            missing = self._missing(prompts)
        if missing:
            self._encode(missing)
        return torch.stack([self.memory[p] for p in prompts])

    def _missing(self, prompts: list[str]) -> list[str]:
        return list(dict.fromkeys(p for p in prompts if p not in self.memory))

    def _read_store(self) -> None:
        for key in self.store.keys(KIND):
            if key.startswith(self.prefix) and key not in self.read_keys:
                folder = Path(self.store.path(KIND, key))
                names = json.loads((folder / _PROMPTS).read_text())
                vectors = torch.from_numpy(np.load(folder / _FILE))
                self.memory.update(zip(names, vectors))
                self.read_keys.add(key)

    def _encode(self, prompts: list[str]) -> None:
        vectors = clip_text_embeddings(self.registry, prompts, self.precision)
        self.encoded += len(prompts)
        self.memory.update(zip(prompts, vectors))
        key = f"{self.prefix}-{stable_hash(prompts)[:32]}"

        def write(tmp: Path) -> None:
            np.save(tmp / _FILE, vectors.numpy().astype(np.float32))
            (tmp / _PROMPTS).write_text(json.dumps(prompts))

        self.store.get_or_build(KIND, key, write)
        self.read_keys.add(key)
