"""Errors of the plant simulator.

SimError                  base of every simulator exception
├── ConfigError           a plant or scenario file that is unreadable or invalid (names file, field, problem)
└── FaultError            a fault request over HTTP that cannot be applied
"""

from shared.errors import TaktError


class SimError(TaktError):
    """Base of every simulator exception."""


class ConfigError(SimError, ValueError):
    """A plant or scenario file that cannot be used; the message names the file, the field and the problem."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        super().__init__(f"{file}: {field}: {problem}")
        self.file = file
        self.field = field
        self.problem = problem


class FaultError(SimError, ValueError):
    """A POST /faults body that names an unknown action, machine or value."""
