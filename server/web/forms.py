"""Small helpers for admin forms: validate into a model (errors become a 422 page), a flash redirect."""

from typing import TypeVar
from urllib.parse import quote

from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError

from server.web.errors import PageError

M = TypeVar("M", bound=BaseModel)


class FormInvalid(PageError):
    status = 422


def validated(model: type[M], data: dict[str, object]) -> M:
    """`model` from form values (empty strings dropped); a readable 422 page when invalid."""
    clean = {k: v for k, v in data.items() if v not in ("", None)}
    try:
        return model.model_validate(clean)
    except ValidationError as err:
        parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()]
        raise FormInvalid("; ".join(parts)) from err


def done(path: str, message: str) -> RedirectResponse:
    """Back to `path` with a flash message (a msgid, translated on the page)."""
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}ok={quote(message)}", status_code=303)
