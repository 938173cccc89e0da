"""Errors of the server.

TaktError (shared)
└── ServerError              base of the server's exceptions
    ├── ConfigError          settings that must not be used (default secrets outside demo mode, bad values)
    ├── NotFound             an entity that does not exist (API: 404)
    ├── Conflict             a state that forbids the request (API: 409), e.g. an illegal status change
    ├── InvalidInput         a request that is well-formed but wrong (API: 422)
    ├── Unauthorized         missing or unknown credentials (API: 401)
    ├── Forbidden            credentials without the needed role (API: 403)
    └── Locked               sign-in locked out after too many failures (API: 429)
"""

from shared.errors import TaktError


class ServerError(TaktError):
    """Base of the server's exceptions; `status` is the HTTP status the API answers with."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(ServerError):
    status = 500


class NotFound(ServerError):
    status = 404


class Conflict(ServerError):
    status = 409


class InvalidInput(ServerError):
    status = 422


class Unauthorized(ServerError):
    status = 401


class Forbidden(ServerError):
    status = 403


class Locked(ServerError):
    status = 429
