"""Class lists of the benchmark datasets (label order) and their renaming into generator prompts.

Orders follow the label ids written by the usual conversion scripts (mmseg for VOC/Context/ADE,
GroupViT/TCL ``convert_coco_object.py`` for COCO-Object), which are also the orders TCL evaluates with.
"""
from __future__ import annotations

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)

# mmseg's PascalContextDataset59 order (alphabetical, as the conversion script's sorted id mapping yields).
CONTEXT59_CLASSES: tuple[str, ...] = (
    "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
    "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow",
    "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground",
    "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant",
    "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table",
    "track", "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
)

COCO_OBJECT_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
    "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
    "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee",
    "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
    "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch",
    "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear",
    "hair drier", "toothbrush",
)

# ADE20K SceneParsing 150 (objectInfo150 order; first synonym, as in mmseg's ADE20KDataset).
ADE150_CLASSES: tuple[str, ...] = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper", "fireplace",
    "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table", "pillow", "screen door",
    "stairway", "river", "bridge", "bookcase", "blind", "coffee table", "toilet", "flower", "book", "hill",
    "bench", "countertop", "stove", "palm", "kitchen island", "computer", "swivel chair", "boat", "bar",
    "arcade machine", "hovel", "bus", "towel", "light", "truck", "tower", "chandelier", "awning", "streetlight",
    "booth", "television receiver", "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator",
    "ottoman", "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy",
    "washer", "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag", "minibike",
    "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave", "pot", "animal",
    "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce", "vase", "traffic light",
    "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor", "bulletin board", "shower", "radiator",
    "glass", "clock", "flag",
)

# Dataset spellings -> words a text-to-image generator / CLIP knows (paper sec. 6 for VOC; the rest are
# the usual readability fixes of compound or archaic names).
PROMPT_RENAMES: dict[str, str] = {
    "aeroplane": "airplane",
    "diningtable": "table",
    "tvmonitor": "monitor",
    "pottedplant": "potted plant",
    "windowpane": "window",
    "ashcan": "trash can",
    "plaything": "toy",
    "television receiver": "television",
    "streetlight": "street light",
    "hovel": "hut",
    "trade name": "brand name",
    "conveyer belt": "conveyor belt",
    "bannister": "banister",
    "hair drier": "hair dryer",
    "tv": "television",
}


def clean_name(name: str) -> str:
    """First synonym, underscores to spaces, whitespace trimmed and collapsed (mmseg's ADE "bed " -> "bed")."""
    first = name.split(",")[0].strip()
    return " ".join(first.replace("_", " ").split())


def prompt_for(name: str) -> str:
    """Clean one class name into a prompt (the ``paper`` table): ``clean_name``, known renames applied.
    Per profile: ``engine.evaluation.datasets.prompts.dataset_prompts``."""
    first = clean_name(name)
    return PROMPT_RENAMES.get(first, first)


def prompts_for(names: list[str] | tuple[str, ...]) -> list[str]:
    return [prompt_for(n) for n in names]
