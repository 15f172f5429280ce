"""The core services this package uses, imported in one place (the core is being split into domain packages;
when a path moves, this module is the one to change). Plain re-exports and two thin helpers, no logic."""
from __future__ import annotations

from typing import Any

from ovdiff_web.accounts import access, audit  # noqa: F401
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.runs.models import ImageResult, Run, RunStage
from ovdiff_web.vocabularies.models import Vocabulary, VocabularyClass
from ovdiff_web.support import curation  # noqa: F401
from ovdiff_web.common import media_store
from ovdiff_web.common.broker import queue
from ovdiff_web.predictions import results as prediction_results
from ovdiff_web.accounts import quotas
from ovdiff_web.common.engine_bridge import build_config  # noqa: F401
from ovdiff_web.predictions.files import ImageRefused, load_input_image, read_explain  # noqa: F401
from ovdiff_web.predictions.services import BACKGROUND, create_prediction  # noqa: F401
from ovdiff_web.runs.images import load_ground_truth, load_prediction
from ovdiff_web.runs.services import RunInputError  # noqa: F401
from ovdiff_web.support.rebuild import queue_regenerate  # noqa: F401
from ovdiff_web.vocabularies.services import add_classes  # noqa: F401


def run_labels(run: Any, image_id: str) -> Any:
    """The label PNG of one image of a run or prediction job as an index array (a prediction job's: 0 =
    background, then its vocabulary; the file ``labels.zip`` holds); LookupError when absent."""
    return load_prediction(prediction_results.image_result(run, image_id))


def run_input_image(run: Any, image_id: str) -> Any:
    """The RGB image a run or prediction job segmented (uploads, server folder or registered dataset)."""
    return load_input_image(run, image_id)


def ground_truth(run: Any, image_id: str) -> Any:
    """An evaluation run's ground-truth label array of one image, in the run's class order."""
    return load_ground_truth(run, image_id)
