"""``POST /api/classes/{id}/support/ground-truth/``: a dataset's ground-truth regions of the class as support
images with their exact masks (a new version, or with ``mode=replace`` the class's own images). Mixed into the class viewset through ``support.api`` (edit access
checked like every other POST of it)."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.accounts.api_mixins import conflict, input_error
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.support.masks import ground_truth, services
from ovdiff_web.vocabularies.services import VersionConflict


class GroundTruthRequestSerializer(serializers.Serializer):
    dataset = serializers.IntegerField(min_value=1, help_text="id of a ready dataset you may read")
    image_ids = serializers.ListField(child=serializers.CharField(max_length=500), allow_empty=False,
                                      max_length=ground_truth.MAX_IMAGES, help_text="ids of the dataset's images")
    crop = serializers.BooleanField(default=True, help_text="true: the region's bounding box plus a margin of "
                                    f"{int(ground_truth.MARGIN * 100)} % of its longer side (at least "
                                    f"{ground_truth.MIN_MARGIN} px); false: the whole image")
    mode = serializers.ChoiceField(choices=services.UPLOAD_MODES, default="add",
                                   help_text="add (default): next to the class's current images, as a new version; "
                                             "replace: the regions become the class's own images (what a profile "
                                             "without a generator, dinov2-small, needs of a class with none)")
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                                help_text="mode=add only: refuse (409) if the class moved on")


class MaskUploadResultSerializer(serializers.Serializer):
    summary = serializers.CharField()
    version = serializers.IntegerField(help_text="the class's version")
    support_version = serializers.IntegerField(help_text="the new curation version (in use)")
    images = serializers.IntegerField(help_text="support images stored")
    masks_given = serializers.IntegerField(help_text="of them, with a mask given (no proposed masks)")


def stored_answer(cls: Any, summary: str, stored: Any) -> Response:
    return Response({"summary": summary, "version": cls.version, "support_version": cls.support_version,
                     "images": stored.n_images, "masks_given": stored.n_masks}, status=status.HTTP_201_CREATED)


class SupportMasksMixin:
    """Actions on ``/api/classes/{id}/``."""

    @extend_schema(request=GroundTruthRequestSerializer, responses={201: MaskUploadResultSerializer})
    @action(detail=True, methods=["post"], url_path="support/ground-truth")
    def support_ground_truth(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The class's region in each image of a dataset you may read, with its exact mask, joins the class's
        support set as a new version; 400 naming the field when the class is not one of the dataset's classes
        or an image does not show it."""
        cls = self.get_object()  # type: ignore[attr-defined]
        body = GroundTruthRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            if data["mode"] == "replace":
                summary, stored = services.replace_by_ground_truth(cls, data["dataset"], data["image_ids"],
                                                                   crop=data["crop"], user=request.user)
            else:
                version, stored = services.add_ground_truth(cls, data["dataset"], data["image_ids"],
                                                            crop=data["crop"], user=request.user,
                                                            expected_version=data.get("expected_version"))
                summary = version.summary
        except VersionConflict as exc:
            return conflict(exc.current)
        except ServiceError as exc:
            return input_error(exc)
        return stored_answer(cls, summary, stored)
