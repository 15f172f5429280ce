"""Log filter that masks credentials (URL passwords, tokens, the secret key) in every record."""
from __future__ import annotations

import logging
import re
from django.conf import settings

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
_TOKEN = re.compile(r"(?P<key>(?:token|password|secret|authorization)[\"']?\s*[:=]\s*[\"']?)(?:Token\s+)?[^\s\"',}]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask ``user:password@`` in URLs and ``token=...``/``password: ...`` pairs."""
    text = _URL_PASSWORD.sub(r"\g<scheme>***@", text)
    return _TOKEN.sub(r"\g<key>***", text)


class RedactSecrets(logging.Filter):
    """Rewrites the formatted message so a broker or database URL never reaches the logs in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is logged as-is by the handler's own error path
            return True

        secret = getattr(settings, "SECRET_KEY", "") if settings.configured else ""
        cleaned = redact(message)
        if secret and secret in cleaned:
            cleaned = cleaned.replace(secret, "***")
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
