"""Pydantic's validation errors in the page's language: each error `type` maps to a msgid whose named
parameters come from the error's `ctx` ("must be at least %(ge)s"); form fields are named by their labels.
An unknown type keeps pydantic's English text. The JSON API is untouched: it still answers pydantic's own
English (FastAPI's 422 `detail`, the import's row `message`)."""

from collections.abc import Sequence

from pydantic_core import ErrorDetails

from server.core.i18n import N_, error_text, gettext
from server.domain.importexport import RowError

DATE = N_("must be a date (YYYY-MM-DD)")
DATETIME = N_("must be a date and time (YYYY-MM-DD HH:MM)")
WHOLE = N_("must be a whole number")
NUMBER = N_("must be a number")
YES_NO = N_("must be yes or no")
ONE_OF = N_("must be one of: %(expected)s")
MESSAGES = {
    "missing": N_("required"),
    "int_parsing": WHOLE,
    "int_type": WHOLE,
    "int_from_float": N_("must be a whole number, without decimals"),
    "float_parsing": NUMBER,
    "float_type": NUMBER,
    "finite_number": NUMBER,
    "decimal_parsing": NUMBER,
    "string_type": N_("must be text"),
    "string_too_short": N_("must have at least %(min_length)s characters"),
    "string_too_long": N_("must have at most %(max_length)s characters"),
    "string_pattern_mismatch": N_("contains characters that are not allowed"),
    "too_short": N_("needs at least %(min_length)s entries"),
    "too_long": N_("allows at most %(max_length)s entries"),
    "greater_than": N_("must be greater than %(gt)s"),
    "greater_than_equal": N_("must be at least %(ge)s"),
    "less_than": N_("must be less than %(lt)s"),
    "less_than_equal": N_("must be at most %(le)s"),
    "date_type": DATE,
    "date_parsing": DATE,
    "date_from_datetime_parsing": DATE,
    "date_from_datetime_inexact": DATE,
    "datetime_type": DATETIME,
    "datetime_parsing": DATETIME,
    "datetime_from_date_parsing": DATETIME,
    "literal_error": ONE_OF,
    "enum": ONE_OF,
    "bool_type": YES_NO,
    "bool_parsing": YES_NO,
}
# form field -> its label on the admin pages (the same msgids as the templates)
LABELS = {
    "number": N_("Number"), "product": N_("Product"), "product_id": N_("Product"), "customer": N_("Customer"),
    "quantity": N_("Quantity"), "due_date": N_("Due date"), "priority": N_("Priority"),
    "count_source": N_("Count source"), "notes": N_("Notes"), "code": N_("Code"), "name": N_("Name"),
    "unit": N_("Unit"), "routing": N_("Routing"), "step_no": N_("Step"), "machine_kind": N_("Machine kind"),
    "ideal_cycle_s": N_("Ideal cycle (s)"), "role": N_("Role"), "width": N_("Width"), "kind": N_("Kind"),
    "label_zh": N_("Chinese label"), "label_en": N_("English label"), "frequency": N_("Frequency"),
    "frequency_n": N_("N (parts or minutes)"),
    "characteristics": N_("Characteristics"), "lsl": N_("LSL"), "usl": N_("USL"),
    "username": N_("Username"), "display_name": N_("Name"), "password": N_("Password"),
    "badge": N_("Badge number"), "pin": N_("PIN"), "days": N_("Valid for days"), "station": N_("Station"),
    "file": N_("File"),
}  # fmt: skip
REQUEST_PARTS = {"body", "query", "path", "header", "cookie"}  # FastAPI's first `loc` element


def message(locale: str, error: ErrorDetails) -> str:
    """One error's text in `locale`, without the field; pydantic's English for a type not mapped here."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:  # a validator's own message: a msgid if it is one
        return gettext(locale, str(ctx["error"]))
    msgid = MESSAGES.get(kind)
    if msgid is None:
        return error["msg"]
    params = {key: _expected(value) if key == "expected" else value for key, value in ctx.items()}
    try:
        msgid % params
    except (KeyError, ValueError, TypeError):  # a ctx without the parameter this msgid names
        return error["msg"]
    return error_text(locale, msgid, params)


def _expected(value: object) -> str:
    """pydantic's "'a', 'b' or 'c'" as "'a', 'b', 'c'" (no English "or" on a Chinese page)."""
    return str(value).replace("' or '", "', '")


def field(locale: str, loc: Sequence[int | str]) -> str:
    """The field named by its label: ("routing", 1, "step_no") -> "Routing #2 Step"."""
    parts = list(loc[1:] if loc and loc[0] in REQUEST_PARTS and len(loc) > 1 else loc)
    words = [f"#{p + 1}" if isinstance(p, int) else gettext(locale, LABELS[p]) if p in LABELS else p
             for p in parts]  # fmt: skip
    return " ".join(words)


class Problems:
    """A form's validation errors, rendered in the page's language as a `%(problems)s` parameter
    (`i18n.Localized`); `str()` is pydantic's English, for the logs."""

    def __init__(self, errors: Sequence[ErrorDetails]) -> None:
        self.errors = list(errors)

    def localized(self, locale: str) -> str:
        parts = [
            gettext(
                locale,
                N_("%(field)s: %(problem)s"),
                field=field(locale, e["loc"]),
                problem=message(locale, e),
            )
            for e in self.errors
        ]
        return gettext(locale, N_("; ")).join(parts)  # the list separator: "；" in Chinese

    def __str__(self) -> str:
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in self.errors)


def row_problem(locale: str, error: RowError) -> str:
    """An import row error in `locale`: pydantic's (from its details) or a service msgid + params."""
    if error.detail is not None:
        return message(locale, error.detail)
    return error_text(locale, error.msgid, error.params)
