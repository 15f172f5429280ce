"""Label Studio's ML backend protocol (label-studio-ml-backend's ``label_studio_ml/api.py``) at
``/integrations/label-studio/<connection id>/``: ``GET health``, ``POST setup``, ``POST predict``,
``POST webhook`` (and ``GET metrics``). Every call needs the connection's token as HTTP Basic auth (Label Studio's
``auth_method: BASIC_AUTH``, the password; any user name): 401 otherwise, the same answer for an unknown
connection, so nothing tells whether one exists. Views are thin: the work is in ``ls_predict`` and
``ls_corrections``."""
from __future__ import annotations

import base64
import binascii
import json
import threading
from functools import wraps
from typing import Any, Callable

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ovdiff_web.integrations import ls_client, ls_config, ls_corrections, ls_predict
from ovdiff_web.integrations.models import LabelStudioConnection

MAX_BODY = 64 * 1024 * 1024


def _error(status: int, message: str) -> JsonResponse:
    response = JsonResponse({"status": "error", "error": message, "detail": message}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="ovdiff Label Studio connection"'
    return response


def _password(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _user, sep, password = decoded.partition(":")
    return password if sep and password else None


def protocol(method: str) -> Callable[[Callable[..., JsonResponse]], Callable[..., JsonResponse]]:
    """Authenticate the connection (401, before anything else), then the method (405), parse a JSON body for POST
    (400), map refusals to 4xx."""
    return lambda view: _protocol(view, method)


def _protocol(view: Callable[..., JsonResponse], method: str) -> Callable[..., JsonResponse]:
    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, connection_id: int) -> JsonResponse:
        password = _password(request)
        connection = LabelStudioConnection.objects.select_related("owner", "vocabulary").filter(
            pk=connection_id).first()
        if password is None or connection is None or not connection.check_token(password) \
                or not connection.owner.is_active:
            return _error(401, "give this connection's ovdiff token as HTTP Basic auth (Label Studio: "
                               "Authentication method 'Basic Authentication', the token as password)")
        if request.method != method:
            response = _error(405, f"{request.method} is not allowed here; use {method}")
            response["Allow"] = method
            return response
        body: Any = {}
        if request.method == "POST":
            if len(request.body) > MAX_BODY:
                return _error(413, f"request body larger than {MAX_BODY // (1024 * 1024)} MB")
            try:
                body = json.loads(request.body or b"{}")
            except (ValueError, UnicodeDecodeError) as exc:
                return _error(400, f"the body is not JSON: {exc}")
            if not isinstance(body, dict):
                return _error(400, "the body must be a JSON object")
        try:
            return view(request, connection, body)
        except ls_config.ConfigRefused as exc:
            return _error(400, f"labelling config: {exc}")
        except ls_predict.PredictRefused as exc:
            return _error(exc.status, str(exc))
        except ls_corrections.CorrectionRefused as exc:
            return _error(exc.status, str(exc))
        except ls_predict.NotReady as exc:
            return _error(503, str(exc))
        except ls_client.LabelStudioUnavailable as exc:
            return _error(exc.status, str(exc))

    return wrapper


@protocol("GET")
def health(request: HttpRequest, connection: LabelStudioConnection, body: Any) -> JsonResponse:
    return JsonResponse({"status": "UP", "model_class": "ovdiff", "model_dir": None,
                         "v2": False, "connection": connection.pk})


@protocol("POST")
def setup(request: HttpRequest, connection: LabelStudioConnection, body: Any) -> JsonResponse:
    schema = body.get("schema")
    if not isinstance(schema, str):
        return _error(400, "'schema' (the labelling config) is required")
    answer = ls_predict.setup(connection, schema)
    project = str(body.get("project") or "").split(".")[0]
    if project.isdigit():  # "<id>.<created timestamp>": sign Label Studio's webhook for this backend, after
        # answering (Label Studio gives /setup 3 s and may hold its database meanwhile)
        threading.Thread(target=ls_client.sign_webhooks, daemon=True, name=f"ls-sign-{connection.pk}",
                         args=(connection, int(project), request.META["HTTP_AUTHORIZATION"])).start()
    return JsonResponse({"model_version": answer["model_version"], "classes": answer["classes"],
                         "banks_queued": answer["queued"]})


@protocol("POST")
def predict(request: HttpRequest, connection: LabelStudioConnection, body: Any) -> JsonResponse:
    label_config = body.get("label_config")
    return JsonResponse(ls_predict.predict(connection, body.get("tasks"),
                                           label_config if isinstance(label_config, str) else None))


@protocol("POST")
def webhook(request: HttpRequest, connection: LabelStudioConnection, body: Any) -> JsonResponse:
    action = body.get("action")
    if action not in ls_corrections.ACTIONS:
        return JsonResponse({"status": "Unknown event"}, status=200)
    received = ls_corrections.receive_webhook(connection, body)
    return JsonResponse({"status": "ok", "result": received}, status=201)


@protocol("GET")
def metrics(request: HttpRequest, connection: LabelStudioConnection, body: Any) -> JsonResponse:
    return JsonResponse({})
