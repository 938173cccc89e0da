"""Keep secrets out of logs: share-link tokens travel in URL paths (`/s/{token}`) and a tablet's enrollment
token in a query (`/station/enroll?token=...`), which access logs print."""

import logging
import re

_SHARE_PATH = re.compile(r"(/s/)[A-Za-z0-9_\-]{8,}")
_SECRET_QUERY = re.compile(r"([?&](?:token|device_token|pin|password|key)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_QUERY.sub(r"\1***", _SHARE_PATH.sub(r"\1***", text))


class RedactFilter(logging.Filter):
    """Rewrites a record's message and arguments with `redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers (the access log prints every request path)."""
    for name in ("uvicorn.access", "uvicorn.error", "uvicorn"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())
