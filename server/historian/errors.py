"""Errors of the historian.

ServerError (server.core.errors)
└── HistorianError          a backend could not write or read (network, HTTP status, bad answer)
    └── HistorianQueryError a query that cannot be answered (bad range, step or aggregate)
"""

from server.core.errors import ServerError


class HistorianError(ServerError):
    status = 503


class HistorianQueryError(HistorianError):
    status = 422
