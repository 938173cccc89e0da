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

Msgid                        a parameter value that is itself a msgid (a kind of record: "Product")
Translatable                 the message-with-params part, shared with the pages' PageError
"""

from shared.errors import TaktError


class Translatable(Exception):
    """`message` is English. A message the pages translate is a gettext msgid with %-style named
    parameters: `Conflict("work order %(number)s is %(status)s", number=n, status=s)`; `msgid` and
    `params` keep both apart so the pages can show it in their language (server/core/i18n.py)."""

    def __init__(self, message: str, **params: object) -> None:
        text = message % params if params else message
        super().__init__(text)
        self.message = text
        self.msgid = message
        self.params = params
        self.details: dict[str, object] = {}  # a ServerError's extra JSON for the API (e.g. `short`)


class ServerError(Translatable, TaktError):
    """Base of the server's exceptions; `status` is the HTTP status the API answers with. `details`
    (JSON values) go into the API's error body beside `detail` and `message`, for a client to act on."""

    status = 500


class Msgid(str):
    """A parameter value the pages translate along with the message, e.g. `what=Msgid("Product")` in
    `NotFound("%(what)s with %(key)s not found", ...)`; in English it is the text itself."""

    __slots__ = ()


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
