"""The pages' one Jinja2 environment, with the request's language installed as `_()` / `ngettext()`."""

from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates

from server.core.i18n import LANG_NAMES, get_locale, translations

WEB = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=jinja2.select_autoescape(["html", "xml", "svg"]),
    extensions=["jinja2.ext.i18n"],
)
_env.policies["ext.i18n.trimmed"] = True
templates = Jinja2Templates(env=_env)


def _install(request: Request) -> dict[str, Any]:
    """Context processor: the request's language, installed as `_` for this render."""
    locale = get_locale(request)
    trans = translations(locale)
    return {
        "locale": locale,
        "html_lang": "zh-CN" if locale == "zh_CN" else "en",
        "locales": LANG_NAMES,
        "_": trans.ugettext,
        "gettext": trans.ugettext,
        "ngettext": trans.ungettext,
    }


templates.context_processors.append(_install)
templates.env.install_null_translations(newstyle=False)  # type: ignore[attr-defined]  # defines the i18n tags; `_` comes per request
