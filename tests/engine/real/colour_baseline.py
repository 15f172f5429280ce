"""The mean-colour baseline the real-feature tests must beat: each pixel takes the class whose support pixels'
mean RGB is nearest (background: the mean of every support image's background pixels)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.evaluation.metrics import ConfusionMatrix, metrics_dict
from engine.support.io import load_user_support_folder


def class_means(folders: dict[str, Path]) -> tuple[list[str], np.ndarray]:
    """("background", classes...) and their mean colours (C + 1, 3) from the folders' images and masks."""
    names, means, bg_pixels = ["background"], [], []
    for name, folder in folders.items():
        support = load_user_support_folder(str(folder), name, None)
        fg = np.concatenate([im.image[im.fg_mask] for im in support.images])
        bg_pixels += [im.image[~im.fg_mask] for im in support.images]
        names.append(name)
        means.append(fg.reshape(-1, 3).mean(0))
    return names, np.stack([np.concatenate(bg_pixels).reshape(-1, 3).mean(0)] + means)


def colour_baseline_miou(ds, folders: dict[str, Path]) -> float:  # noqa: ANN001 - an engine SegDataset
    names, means = class_means(folders)
    index = [names.index(n) for n in ds.class_names]  # dataset order
    cm = ConfusionMatrix(ds.num_classes, ds.ignore_index)
    for sample in ds.samples:
        image, gt = ds.load(sample)
        dist = ((image[..., None, :].astype(np.float32) - means[index][None, None]) ** 2).sum(-1)
        cm.update(dist.argmin(-1), gt)
    return float(metrics_dict(cm, ds.class_names)["miou"])
