"""Errors of the wire contract.

TaktError                 base of every Takt exception
├── TopicError            a topic that is not one of ours, or a bad site/edge id
└── PayloadError          a payload that fails validation; `reason` says why, for dead-letter records
"""


class TaktError(Exception):
    """Base of every Takt exception."""


class TopicError(TaktError, ValueError):
    """A topic or identifier that does not follow shared/topics.py."""


class PayloadError(TaktError, ValueError):
    """A payload that cannot be decoded or validated."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"invalid {kind} payload: {reason}")
        self.kind = kind
        self.reason = reason
