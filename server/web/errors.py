"""Errors of the pages: `PageError` (and subclasses) render as a small translated HTML page. Like
ServerError's, `message` may be a msgid with %-style named parameters: `FormInvalid(N_("line %(n)s"), n=3)`.

PageError            base: status + message (already translated or a msgid)
  LoginRequired      401 -> redirect to the login page (or the station sign-in)
  PageForbidden      403
  PageNotFound       404
  CsrfRejected       403 (cross-site POST)
"""

from server.core.errors import Translatable


class PageError(Translatable):
    status = 400


class LoginRequired(PageError):
    status = 401

    def __init__(self, message: str = "Please sign in", next_url: str = "/") -> None:
        super().__init__(message)
        self.next_url = next_url


class PageForbidden(PageError):
    status = 403


class PageNotFound(PageError):
    status = 404


class CsrfRejected(PageError):
    status = 403
