"""Errors of ingestion, and the line between bad data and a bad database.

ServerError (server.core.errors)
└── IngestError             ingestion could not do something it must retry or report
    └── GapSkipError        an operator's gap skip that does not match a held gap (API: 409)

`is_bad_data(err)` says whether an error can only come from the message being stored or applied (a
value the database refuses, a number too large for its column): that message is dead-lettered alone.
Anything else (the database down or locked, a connection lost, a bug) is retried with backoff and shows
as lag on /healthz: a bug must never turn good messages into dead letters (docs/reliability.md).
"""

from sqlalchemy import exc

from server.core.errors import ServerError


class IngestError(ServerError):
    status = 500


class GapSkipError(IngestError):
    status = 409


_DATA_ERRORS = (ValueError, OverflowError)  # PayloadError and UnicodeError are ValueErrors


def is_bad_data(err: BaseException) -> bool:
    """True when `err` is the data's fault (dead-letter the message), False when it is worth a retry."""
    if isinstance(err, exc.DBAPIError):
        if err.connection_invalidated:
            return False
        return isinstance(err, exc.DataError | exc.IntegrityError)
    if isinstance(err, exc.StatementError):  # raised while binding parameters, before the database
        return isinstance(err.orig, _DATA_ERRORS)
    if isinstance(err, exc.SQLAlchemyError):
        return False
    return isinstance(err, _DATA_ERRORS)
