"""API for curating support sets (``services/curation.py``): a class's review images and versions, one edit
(exclude / include / mask / add_seed / go_back, 409 on a stale ``expected_version``), added uploads, a rebuild on
the workers; and a vocabulary's suspicious images. Mixed into the class and vocabulary viewsets, so access is
checked like every other action (read for GET, edit for POST)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.accounts.api_mixins import conflict, input_error
from ovdiff_web.common.api.parsers import StrictJSONParser
from ovdiff_web.support.serializers import SupportImageSerializer
from ovdiff_web.support import curation
from ovdiff_web.common.broker.queue import QueueUnavailable
from ovdiff_web.accounts.quotas import QuotaExceeded
from ovdiff_web.vocabularies.services import VersionConflict
from engine.errors import BadInputError
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.support.masks import marks, services as mask_services
from ovdiff_web.support.masks.api import MaskUploadResultSerializer, SupportMasksMixin, stored_answer
from ovdiff_web.support.masks.store import describe


UPLOAD_MODES = mask_services.UPLOAD_MODES  # an API support upload: next to the class's images, or as them


class ReviewImageSerializer(serializers.Serializer):
    class_id = serializers.IntegerField(source="cls.pk")
    class_name = serializers.CharField(source="cls.name")
    image = SupportImageSerializer()
    flags = serializers.ListField(child=serializers.CharField())
    reasons = serializers.SerializerMethodField(help_text="each flag as a reviewer reads it, with what was measured "
                                                "(\"foreground touches 83% of the border: probably background\")")
    excluded = serializers.CharField(help_text="reason, in the version in use (may await a rebuild)")
    mask_choice = serializers.CharField(help_text='"", "instance:J", "candidate:K" (a run\'s choice kept), '
                                        '"painted:<mask id>" or "attribution", in the version in use')
    mask_source = serializers.CharField(default="", help_text='"given" (uploaded with its mask or a dataset\'s '
                                        'ground truth), "proposed", "chosen" or "attribution"')

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_reasons(self, item: dict[str, Any]) -> list[str]:
        return [text for _, text in item.get("flag_texts", [])]


class SupportReviewSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="the class's version: send it back as expected_version")
    support_version = serializers.IntegerField(help_text="curation version in use; 0 = as built")
    support_set = serializers.CharField(allow_blank=True, help_text="key of the support set shown")
    built = serializers.BooleanField(help_text="False: the version in use awaits a rebuild")
    images = ReviewImageSerializer(many=True)


class CurationVersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    summary = serializers.CharField()
    based_on = serializers.IntegerField()
    created_by = serializers.CharField(source="created_by.username", default="")
    created_at = serializers.DateTimeField()
    support_key = serializers.CharField(allow_blank=True)
    excluded = serializers.DictField(child=serializers.CharField())
    masks = serializers.DictField(child=serializers.CharField())
    extra_seeds = serializers.ListField(child=serializers.IntegerField())
    extra_dirs = serializers.ListField(child=serializers.CharField())


class CurateSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=curation.ACTIONS)
    image = serializers.CharField(required=False, help_text="content_id of a support image (exclude/include/mask)")
    reason = serializers.CharField(required=False, max_length=curation.MAX_REASON)
    choice = serializers.CharField(required=False, allow_blank=True, max_length=32,
                                   help_text='mask: "instance:J", "candidate:K" (a run\'s choice, '
                                             '``support_mask_choices``), "attribution" or "" (the '
                                             'proposer\'s rule)')
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1)
    number = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1,
                                      help_text="go_back: the version to use (0 = as built)")
    expected_version = serializers.IntegerField(
        required=False, min_value=1, max_value=2**31 - 1,
        help_text="the class's version you last read (`version`, shown as “class version” on the class page), not "
                  "`support_version`: a stale one is refused with 409")


class CurateResultSerializer(serializers.Serializer):
    summary = serializers.CharField()
    version = serializers.IntegerField()
    support_version = serializers.IntegerField()


class RebuildQueuedSerializer(serializers.Serializer):
    queued = serializers.BooleanField()
    task_id = serializers.CharField()
    support_version = serializers.IntegerField(help_text="the version being built")


class SupportUploadSerializer(serializers.Serializer):
    images = serializers.ListField(child=serializers.FileField(), required=False,
                                   help_text="support images (or send `archive`)")
    masks = serializers.ListField(child=serializers.FileField(), required=False,
                                  help_text="a PNG mask per image with the image's name (x.jpg -> x.png; or "
                                            "x_fg.png / x_bg.png): 0 = background, 255 or any palette index but 0 "
                                            "= foreground; images without one get proposed masks")
    archive = serializers.FileField(required=False, help_text="a zip: images/x.jpg + masks/x.png (or x.jpg + "
                                                              "masks/x.png), the layout the CLI reads")
    mode = serializers.ChoiceField(choices=UPLOAD_MODES, required=False, default="add",
                                   help_text="add (default): next to the class's current images, as a new version; "
                                             "replace: the upload becomes the class's own images (the dashboard's "
                                             "default; what a profile without a generator, dinov2-small, needs)")


def _review(cls: Any) -> dict[str, Any]:
    shown = curation.review_set(cls)
    return {"version": cls.version, "support_version": cls.support_version, "support_set": shown.key if shown else "",
            "built": curation.is_built(cls, shown),
            "images": marks.annotate(cls, curation.review_images(cls, shown), shown) if shown else []}


class ClassCurationMixin(SupportMasksMixin):
    """Actions on ``/api/classes/{id}/``."""

    @extend_schema(responses=SupportReviewSerializer)
    @action(detail=True, methods=["get"], url_path="support")
    def support_review(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The images a reviewer sees, with flags and the decisions of the version in use."""
        return Response(SupportReviewSerializer(_review(self.get_object())).data)

    @extend_schema(responses=CurationVersionSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="support/versions")
    def support_versions(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Every version of the class's curation, newest first (who, when, what changed)."""
        cls = self.get_object()
        page = self.paginate_queryset(curation.versions(cls))
        return self.get_paginated_response(CurationVersionSerializer(page, many=True).data)

    @extend_schema(request=CurateSerializer, responses={200: CurateResultSerializer,
                                                        409: OpenApiResponse(description="version conflict")})
    @action(detail=True, methods=["post"], url_path="support/curate")
    def support_curate(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """One edit: exclude (image, reason), include (image), mask (image, choice), add_seed (seed), go_back
        (number); ``expected_version`` guards against overwriting someone else's edit (409)."""
        cls = self.get_object()
        body = CurateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        try:
            summary = curation.apply(cls, data.pop("action"), data, user=request.user,
                                     expected_version=data.get("expected_version"))
        except curation.CurationRefused as exc:
            return input_error(exc, exc.field)
        except VersionConflict as exc:
            return conflict(exc.current)
        return Response({"summary": summary, "version": cls.version, "support_version": cls.support_version})

    @extend_schema(request={"multipart/form-data": SupportUploadSerializer},
                   responses={201: MaskUploadResultSerializer})
    @action(detail=True, methods=["post"], url_path="support/images",
            parser_classes=[MultiPartParser, FormParser, StrictJSONParser])
    def support_images(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Add your own images, each with its mask when you have one (matched by name), next to the class's
        current ones (a new version; the review so far is kept), or with ``mode=replace`` make them the class's
        own images (as the dashboard's upload does by default). 400 naming the file for a mask of another size,
        a file that is not a mask, a mask without its image; nothing is kept then."""

        cls = self.get_object()
        files = request.FILES if hasattr(request, "FILES") else None
        images, masks = (files.getlist("images"), files.getlist("masks")) if files is not None else ([], [])
        archive = files.get("archive") if files is not None else None
        if not images and archive is None:
            return Response({"images": ["send one or more image files as multipart field 'images' (their masks "
                                        "as 'masks'), or a zip as 'archive'"]},
                            status=status.HTTP_400_BAD_REQUEST)
        mode = request.data.get("mode") or "add"
        if mode not in UPLOAD_MODES:
            return Response({"mode": [f"'{mode}' is neither add nor replace"]}, status=status.HTTP_400_BAD_REQUEST)
        try:
            if mode == "replace":
                stored = mask_services.replace_uploads(cls, images, masks, archive, user=request.user)
                summary = f"replaced the class's images by {describe(stored)}"
            else:
                version, stored = mask_services.add_uploads(cls, images, masks, archive, user=request.user)
                summary = version.summary
        except BadInputError as exc:
            item = str(exc.item or "")
            return input_error(exc, "masks" if item.startswith("masks") else "archive" if archive else "images")
        except ServiceError as exc:
            return input_error(exc, "archive")
        return stored_answer(cls, summary, stored)

    @extend_schema(request=None, responses={202: RebuildQueuedSerializer})
    @action(detail=True, methods=["post"], url_path="support/rebuild")
    def support_rebuild(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Build the version in use on a worker (a cache hit when that review was built before); poll the task."""
        cls = self.get_object()
        try:
            task_id = curation.queue_rebuild(cls, request.user)
        except QuotaExceeded as exc:
            return input_error(exc)
        except QueueUnavailable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response({"queued": True, "task_id": task_id, "support_version": cls.support_version},
                        status=status.HTTP_202_ACCEPTED)


class VocabularyReviewMixin:
    """``GET /api/vocabularies/{id}/suspicious/``."""

    @extend_schema(responses=ReviewImageSerializer(many=True))
    @action(detail=True, methods=["get"])
    def suspicious(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Every support image of the vocabulary's classes, flagged ones first (``?flagged=1``: only those)."""
        items = curation.suspicious(self.get_object())
        if request.query_params.get("flagged") == "1":
            items = [item for item in items if item["flags"]]
        page = self.paginate_queryset(items)
        return self.get_paginated_response(ReviewImageSerializer(page, many=True).data)
