"""A byte-level CLIP tokenizer that needs no download.

Random-weight profiles cannot fetch CLIP's 49k-entry BPE vocabulary, so they use a vocabulary of the 256
byte-unicode characters, each also in its end-of-word ``</w>`` form, plus CLIP's two special tokens, with no merges.
Every string tokenizes (one token per character), through the real ``CLIPTokenizer`` class and code path.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from transformers import CLIPTokenizer

BOS = "<|startoftext|>"
EOS = "<|endoftext|>"
MODEL_MAX_LENGTH = 77  # CLIP's text context, as in Stable Diffusion v1.5


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's reversible byte -> printable-unicode table (the 256 base symbols of byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def byte_vocab() -> dict[str, int]:
    """Characters, then their ``</w>`` forms, then BOS and EOS last (as in CLIP's real vocabulary)."""
    chars = _bytes_to_unicode()
    tokens = chars + [c + "</w>" for c in chars] + [BOS, EOS]
    return {t: i for i, t in enumerate(tokens)}


def build_byte_tokenizer() -> CLIPTokenizer:
    """Write vocab.json + merges.txt to a temporary directory and load them as a ``CLIPTokenizer``."""
    with tempfile.TemporaryDirectory(prefix="ovdiff-tok-") as tmp:
        vocab_file = Path(tmp) / "vocab.json"
        merges_file = Path(tmp) / "merges.txt"
        vocab_file.write_text(json.dumps(byte_vocab()), encoding="utf-8")
        merges_file.write_text("#version: 0.2\n", encoding="utf-8")
        tok = CLIPTokenizer(
            vocab=str(vocab_file),
            merges=str(merges_file),
            vocab_file=str(vocab_file),
            merges_file=str(merges_file),
            model_max_length=MODEL_MAX_LENGTH,
        )
    return tok
