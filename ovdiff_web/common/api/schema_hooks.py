"""OpenAPI post-processing: document the error responses every operation can give, so clients (and schema
fuzzers) find every status code the API returns in the schema, each with a body shape."""
from __future__ import annotations

from typing import Any

ERROR_SCHEMA = {
    "type": "object",
    "description": "``detail`` for request-level errors, or field name -> list of messages for invalid input",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
# Any operation: bad input/query (400), no or bad credentials (401), not allowed or CSRF (403), unknown id or
# page (404), method or media type not supported (405, 406, 415), object storage (OVDIFF_MEDIA_URL /
# AWS_ENDPOINT_URL) down or refusing while a file is fetched or published (503, ``core.storage_unavailable``).
COMMON = {"400": "invalid input", "401": "authentication required", "403": "permission denied",
          "404": "not found", "405": "method not allowed", "406": "not acceptable",
          "415": "unsupported media type", "503": "object storage unavailable"}
BY_METHOD = {"put": {"409": "version conflict"}, "patch": {"409": "version conflict"},
             "post": {"409": "conflict with the current state", "413": "upload too large",
                      "429": "per-user limit reached or too many attempts",
                      "503": "task queue or object storage unavailable"}}


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: adds missing 4xx responses to every operation."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for code, text in {**COMMON, **BY_METHOD.get(method, {})}.items():
                responses.setdefault(code, {"description": text, "content": {"application/json": {"schema": ref}}})
    return result
