"""Errors of ingestion.

ServerError (server.core.errors)
└── IngestError             ingestion could not do something it must retry or report
    └── GapSkipError        an operator's gap skip that does not match a held gap (API: 409)
"""

from server.core.errors import ServerError


class IngestError(ServerError):
    status = 500


class GapSkipError(IngestError):
    status = 409
