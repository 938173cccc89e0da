"""Small helpers for admin forms: validate into a model (errors become a 422 page in the page's language),
a flash redirect."""

from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import quote

from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from server.web.errors import PageError
from server.web.validation import Problems

M = TypeVar("M", bound=BaseModel)


class FormInvalid(PageError):
    status = 422


def validated(model: type[M], data: dict[str, object]) -> M:
    """`model` from form values (empty strings dropped); a readable 422 page when invalid."""
    clean = {k: v for k, v in data.items() if v not in ("", None)}
    try:
        return model.model_validate(clean)
    except ValidationError as err:
        raise invalid(err.errors()) from err


def invalid(errors: Sequence[ErrorDetails]) -> FormInvalid:
    """The 422 page for pydantic's `errors`: each field by its label, each problem in the page's language."""
    return FormInvalid("%(problems)s", problems=Problems(errors))


def done(path: str, message: str) -> RedirectResponse:
    """Back to `path` with a flash message (a msgid, translated on the page)."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}ok={quote(message)}", status_code=303)
