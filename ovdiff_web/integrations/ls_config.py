"""Label Studio labelling configs (XML) as ovdiff sees them: which control tags ovdiff can pre-annotate
(BrushLabels, PolygonLabels over an Image), their label values (the vocabulary) and the image's data key."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

SUPPORTED = {"brushlabels": "brushlabels", "polygonlabels": "polygonlabels"}
MAX_CONFIG_BYTES = 200_000


class ConfigRefused(ValueError):
    """The labelling config has nothing ovdiff can pre-annotate (or is not XML)."""


@dataclass(frozen=True)
class Control:
    """One control tag ovdiff fills: ``from_name`` (its name), ``to_name`` (the Image), its type and labels."""

    from_name: str
    to_name: str
    type: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class LabelConfig:
    controls: tuple[Control, ...]
    image_keys: dict[str, str] = field(default_factory=dict)  # Image name -> task data key ("$image" -> "image")

    @property
    def labels(self) -> list[str]:
        """Every label value once, in config order (the vocabulary's classes)."""
        seen: dict[str, None] = {}
        for control in self.controls:
            for label in control.labels:
                seen.setdefault(label, None)
        return list(seen)

    def image_key(self, control: Control) -> str:
        return self.image_keys[control.to_name]


def parse(xml: str) -> LabelConfig:
    """The supported controls of a labelling config; ConfigRefused names what is missing or wrong."""
    if not xml or not xml.strip():
        raise ConfigRefused("empty labelling config")
    if len(xml.encode("utf-8")) > MAX_CONFIG_BYTES:
        raise ConfigRefused(f"labelling config larger than {MAX_CONFIG_BYTES} bytes")
    try:
        root = ElementTree.fromstring(xml)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise ConfigRefused(f"labelling config is not valid XML: {exc}") from None
    images = {el.get("name", ""): (el.get("value") or "").lstrip("$") for el in root.iter()
              if el.tag.lower() == "image" and el.get("name")}
    controls = []
    for el in root.iter():
        kind = SUPPORTED.get(el.tag.lower())
        if kind is None:
            continue
        to_name = el.get("toName", "")
        if to_name not in images or not images[to_name]:
            raise ConfigRefused(f"<{el.tag} name={el.get('name')!r}> points at toName={to_name!r}, "
                                "which is not an <Image> with value=\"$key\"")
        labels = tuple(v for v in (lab.get("value", "").strip() for lab in el if lab.tag.lower() == "label") if v)
        if not labels:
            raise ConfigRefused(f"<{el.tag} name={el.get('name')!r}> has no <Label value=...>")
        controls.append(Control(from_name=el.get("name", ""), to_name=to_name, type=kind, labels=labels))
    if not controls:
        raise ConfigRefused("the labelling config has no <BrushLabels> or <PolygonLabels> over an <Image>: "
                            "ovdiff has nothing to pre-annotate")
    names = [c.labels for c in controls]
    for labels in names:
        if any(label.lower() == "background" for label in labels):
            raise ConfigRefused("a label named 'background' is the method's own class; rename it")
    return LabelConfig(controls=tuple(controls), image_keys=images)


def model_version(profile: str, vocabulary: Any) -> str:
    """``ovdiff-<profile>-v<vocabulary version>-s<support digest>``: changes when the profile, the vocabulary or
    any class's support-set version changes (Label Studio then asks for new predictions)."""
    classes = [[c.name, c.support_version, c.user_support_dir, c.is_stuff] for c in vocabulary.classes.all()]
    digest = hashlib.sha256(json.dumps(classes, sort_keys=True).encode("utf-8")).hexdigest()[:8]
    return f"ovdiff-{profile}-v{vocabulary.version}-s{digest}"
