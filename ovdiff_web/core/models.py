"""Data model of the ovdiff service: everything a user sees lives here (Celery results are not the truth).

Artifacts (support sets, prototype banks) are content-addressed by the engine and SHARED between
vocabularies and runs: their rows are keyed by the engine key and never deleted with a vocabulary.
File fields are plain paths relative to ``MEDIA_ROOT`` (written by workers, served by the dashboard).
"""
from __future__ import annotations
# The models live with their domains (ovdiff_web/<domain>/models.py) and keep this app's label ``core``, so the
# migrations stay one history and no table is renamed. Django finds them through this module.
from ovdiff_web.accounts.audit import AuditEntry
from ovdiff_web.common.profiles import PROFILE_CHOICES
from ovdiff_web.datasets.models import Dataset
from ovdiff_web.predictions.models import LegacySegmentation
from ovdiff_web.runs.models import ImageResult, Run, RunShard, RunStage
from ovdiff_web.support.curation_models import SupportCuration
from ovdiff_web.support.models import ArtifactStatus, PrototypeBank, SupportImage, SupportSet
from ovdiff_web.vocabularies.models import LabelSource, Vocabulary, VocabularyClass

__all__ = ["AuditEntry", "PROFILE_CHOICES", "Dataset", "LegacySegmentation", "ImageResult", "Run", "RunShard", "RunStage",
           "SupportCuration", "ArtifactStatus", "PrototypeBank", "SupportImage", "SupportSet", "LabelSource",
           "Vocabulary", "VocabularyClass"]
