"""Errors of the edge agent.

EdgeError (TaktError)
├── ConfigError      a bad config file: names the file, the field and the problem
├── CodecError       a value that cannot be encoded or decoded with a tag's type
├── SourceError      a device that cannot be reached or read (timeout, connection lost, busy)
│   └── TagError     a tag the device refuses (Modbus exception 01/02, bad OPC UA node): a config error
├── OutboxError      the on-disk outbox failed (disk full, corrupt file)
└── CommandError     a command that cannot be carried out (unknown tag, not writable, bad value)
"""

from shared.errors import TaktError


class EdgeError(TaktError):
    """Base of every edge error."""


class ConfigError(EdgeError, ValueError):
    """A config that fails validation. `str()` reads `FILE: FIELD: PROBLEM`."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.field = field
        self.problem = problem


class CodecError(EdgeError, ValueError):
    """A value that does not fit a tag's data type."""


class SourceError(EdgeError):
    """A device failed as a whole: timeout, connection lost, busy. Values go stale."""


class TagError(SourceError):
    """A device refused one request for good reasons (bad address or function): the tags are bad."""


class OutboxError(EdgeError):
    """The on-disk outbox could not store or read a batch."""


class CommandError(EdgeError):
    """A command that cannot be carried out."""
