"""Translations for the pages: Babel gettext catalogs read from the .po files at start (no .mo files to keep
in sync), merged per language across domains (`web`, `reports`, ...); used by the pages
(`server.web.templates`) and by the API's translated errors.

`get_locale(request)`: `?lang=` (remembered in a cookie by `routing.PageRoute`), else the `lang` cookie, else
Accept-Language, else zh_CN. Templates call `_()` / `ngettext()`; Python code calls `gettext(locale, msg)`.
"""

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request

from server.core.errors import Msgid

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_NAMES = {"zh_CN": "简体中文", "en": "English"}
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def normalize(tag: str | None) -> str | None:
    """`zh-CN`, `zh_cn`, `zh-Hans`, `zh` -> zh_CN; `en-US`, `en` -> en; anything else -> None."""
    if not tag:
        return None
    tag = tag.strip().replace("-", "_").lower()
    if tag.startswith("zh"):
        return "zh_CN"
    if tag.startswith("en"):
        return "en"
    return None


def _from_accept_language(header: str) -> str | None:
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        found = normalize(lang)
        if found is not None and q > 0:
            choices.append((-q, i, found))
    return min(choices)[2] if choices else None


def get_locale(request: Request) -> str:
    """The page language for this request (see the module docstring)."""
    return (
        normalize(request.query_params.get("lang"))
        or normalize(request.cookies.get(COOKIE))
        or _from_accept_language(request.headers.get("accept-language", ""))
        or DEFAULT_LOCALE
    )


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """All domains of `locale` (every `LC_MESSAGES/*.po`) merged into one catalog, read once per process."""
    trans = Translations()
    catalog_dict: dict[Any, str] = {}
    folder = LOCALE_DIR / locale / "LC_MESSAGES"
    for po_path in sorted(folder.glob("*.po")):
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=locale, domain=po_path.stem)
        for message in catalog:
            if not message.id or not message.string or message.fuzzy:
                continue
            if isinstance(message.id, str) and isinstance(message.string, str):
                catalog_dict[message.id] = message.string
            elif not isinstance(message.id, str) and not isinstance(message.string, str):
                for n, plural in enumerate(message.string):
                    catalog_dict[(message.id[0], n)] = plural
        log.debug("loaded %d messages from %s", len(catalog), po_path)
    trans._catalog = catalog_dict
    trans.plural = (lambda n: 0) if locale.startswith("zh") else (lambda n: int(n != 1))
    return trans


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is translated later (flash messages, page errors)."""
    return message


def gettext(locale: str, message: str, **params: Any) -> str:
    text = translations(locale).ugettext(message)
    return text % params if params else text


# status codes whose label msgid differs from the code (templates/_labels.html shows the same words)
STATUS_MSGIDS = {"in_progress": "in progress"}


def error_text(locale: str, msgid: str, params: dict[str, object] | None = None) -> str:
    """A core service's error (`ServerError.msgid` + `.params`) in `locale`; status values (parameters named
    `status` or `*_status`), `Msgid` and `Localized` values are translated too. Falls back to English if a
    translation is broken."""
    params = params or {}
    values = {key: _param_text(locale, key, value) for key, value in params.items()}
    text = translations(locale).ugettext(msgid)
    try:
        return text % values if params else text
    except (KeyError, ValueError, TypeError):
        log.warning("broken %s translation of %r", locale, msgid)
        return msgid % params if params else msgid


@runtime_checkable
class Localized(Protocol):
    """A parameter value that renders itself in a language (e.g. a form's validation problems)."""

    def localized(self, locale: str) -> str: ...


def _param_text(locale: str, key: str, value: object) -> object:
    if isinstance(value, Localized):
        return value.localized(locale)
    if isinstance(value, Msgid):
        return gettext(locale, value)
    if isinstance(value, str) and (key == "status" or key.endswith("_status")):
        return gettext(locale, STATUS_MSGIDS.get(value, value))
    return value


def request_error_text(request: Request, err: Any, default: str | None = None) -> str:
    """`err` (a ServerError) in the request's language: ?lang=, cookie, Accept-Language, else `default`
    (for the JSON API: English unless the client names a language) or the pages' default."""
    chosen = (
        normalize(request.query_params.get("lang"))
        or normalize(request.cookies.get(COOKIE))
        or _from_accept_language(request.headers.get("accept-language", ""))
        or default
        or DEFAULT_LOCALE
    )
    return error_text(chosen, getattr(err, "msgid", str(err)), getattr(err, "params", None))


def chosen_lang(request: Request) -> str | None:
    """The language picked with `?lang=` on this request (to remember in the cookie), if any."""
    return normalize(request.query_params.get("lang"))
