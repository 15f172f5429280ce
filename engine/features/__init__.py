"""Feature extractors: (B, 3, H, W) images in [0, 1] -> (B, D, h, w) float32 feature maps."""
from engine.features.clip import ClipKeyExtractor
from engine.features.clip_text import clip_text_image_similarity
from engine.features.dino import DinoKeyExtractor
from engine.features.sd import SDQueryExtractor

__all__ = ["ClipKeyExtractor", "DinoKeyExtractor", "SDQueryExtractor", "clip_text_image_similarity"]
