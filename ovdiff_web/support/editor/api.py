"""API of the mask editor: ``POST /api/classes/{id}/support/mask/`` takes a painted foreground (a 0/255 PNG of the
image's natural size) for one support image as a new support-set version, like ``support/curate`` (409 on a stale
``expected_version``, 400 naming the field, edit access for the POST). Mixed into the class viewset."""
from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from ovdiff_web.accounts.api_mixins import conflict, input_error
from ovdiff_web.common.errors import ServiceError
from ovdiff_web.support.editor import service
from ovdiff_web.vocabularies.services import VersionConflict


class MaskEditSerializer(serializers.Serializer):
    image = serializers.CharField(max_length=32, help_text="content_id of a support image of the class")
    mask = serializers.FileField(help_text="PNG of the image's natural size: 255 = foreground, 0 = background")
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                                help_text="the class's version you loaded (409 when stale)")


class MaskEditResultSerializer(serializers.Serializer):
    summary = serializers.CharField(help_text='"image N: mask edited by <user>"')
    version = serializers.IntegerField(help_text="the class's version now: send it as the next expected_version")
    support_version = serializers.IntegerField(help_text="the new support-set version (awaits a rebuild)")
    choice = serializers.CharField(help_text='the image\'s mask choice now: "painted:<mask id>"')


class ClassMaskEditMixin:
    """``POST /api/classes/{id}/support/mask/``."""

    @extend_schema(request={"multipart/form-data": MaskEditSerializer},
                   responses={200: MaskEditResultSerializer, 409: OpenApiResponse(description="version conflict")})
    @action(detail=True, methods=["post"], url_path="support/mask", parser_classes=[MultiPartParser, FormParser])
    def support_mask(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Take a painted mask as the foreground of one support image (a new version with who and when; the
        class's curated key changes, so "support/rebuild" builds prototypes from it)."""
        cls = self.get_object()
        body = MaskEditSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["mask"]
        if upload.size > service.MAX_UPLOAD_BYTES:
            return Response({"mask": [f"the mask is {upload.size} bytes; at most {service.MAX_UPLOAD_BYTES}"]},
                            status=400)
        try:
            version = service.save_mask(cls, body.validated_data["image"], upload.read(), user=request.user,
                                        expected_version=body.validated_data.get("expected_version"))
        except VersionConflict as exc:
            return conflict(exc.current)
        except ServiceError as exc:
            return input_error(exc, getattr(exc, "field", None) or "mask")
        cls.refresh_from_db()
        return Response({"summary": version.summary, "version": cls.version, "support_version": version.number,
                         "choice": version.masks.get(body.validated_data["image"], "")})
