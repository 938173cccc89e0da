"""Errors of `takt demo`.

DemoError            the demo cannot start (a port taken, a part that must exist is missing, bad flags)
└── ChildFailed      a child process exited or never became ready
"""


class DemoError(Exception):
    """The demo cannot go on; the message says what to do."""


class ChildFailed(DemoError):
    """A child process (simulator, edge, server, broker) exited or never became ready."""
