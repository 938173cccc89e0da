"""Translations: every msgid of each domain has a zh_CN translation; the language comes from ?lang= (then
remembered in a cookie), the cookie, Accept-Language, else zh_CN."""

import pytest
from babel.messages.pofile import read_po
from starlette.requests import Request

from server.core.errors import Conflict, NotFound
from server.core.i18n import LOCALE_DIR, error_text, get_locale, translations
from server.domain import crud
from server.models.auth import SigninThrottle
from server.models.catalog import Product
from server.web.catalog import extract
from server.web.catalog import main as catalog_main
from tests.web.conftest import LiveServer


def _catalog_strings(domain: str) -> dict[str, str]:
    path = LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / f"{domain}.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN", domain=domain)
    return {m.id if isinstance(m.id, str) else m.id[0]: m.string if isinstance(m.string, str) else m.string[0]
            for m in catalog if m.id and not m.fuzzy}  # fmt: skip


@pytest.mark.parametrize("domain", ["web", "reports", "errors"])
def test_every_msgid_has_a_chinese_translation(domain: str) -> None:
    strings = _catalog_strings(domain)
    found = list(extract(domain))
    if domain == "web":
        assert len(found) > 150  # the extractor really reads the templates and code
    missing = sorted({(m if isinstance(m, str) else m[0]) for m, _src, _line in found
                      if not strings.get(m if isinstance(m, str) else m[0])})  # fmt: skip
    assert missing == [], f"msgids without a zh_CN translation in {domain}.po: {missing[:20]}"


def test_placeholders_survive_translation() -> None:
    zh = translations("zh_CN")
    for msgid in ("%(machine)s down for %(min)s min", "This link is valid until %(date)s."):
        text = zh.ugettext(msgid)
        assert text != msgid and "%(" in text
        assert text % {"machine": "m", "min": 1, "date": "2026-01-01"}


def _request(query: str = "", cookie: str = "", accept: str = "") -> Request:
    headers = [(b"cookie", cookie.encode()), (b"accept-language", accept.encode())]
    return Request({"type": "http", "query_string": query.encode(), "headers": headers, "path": "/"})


def test_get_locale_order() -> None:
    assert get_locale(_request()) == "zh_CN"
    assert get_locale(_request(accept="en-US,en;q=0.9")) == "en"
    assert get_locale(_request(accept="de-DE, en;q=0.5, zh-CN;q=0.8")) == "zh_CN"
    assert get_locale(_request(cookie="lang=en", accept="zh-CN")) == "en"
    assert get_locale(_request(query="lang=zh-CN", cookie="lang=en")) == "zh_CN"
    assert get_locale(_request(query="lang=xx", cookie="lang=en")) == "en"


def test_language_switch_is_remembered(live: LiveServer) -> None:
    http = live.http
    page = http.get("/login", headers={"Accept-Language": "zh-CN"})
    assert "登录" in page.text and "Sign in" not in page.text
    switched = http.get("/login?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "Sign in" in switched.text and switched.cookies.get("lang") == "en"
    again = http.get("/login", headers={"Accept-Language": "zh-CN"})  # the cookie wins now
    assert "Sign in" in again.text
    http.cookies.clear()


def test_catalog_tool_refuses_an_unknown_domain(capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m server.web.catalog --help` once wrote `--help.po` catalogs; now it names the domains."""
    assert catalog_main(["--help"]) == 2
    assert "web | reports | errors" in capsys.readouterr().err


def test_record_nouns_translate_with_the_message() -> None:
    """A `Msgid` parameter (crud's kind of record) is English in `message` and translated on the pages."""
    missing = NotFound("%(what)s with %(key)s not found", what=crud.noun(Product), key="code='X'")
    assert missing.message == "Product with code='X' not found"
    assert error_text("zh_CN", missing.msgid, missing.params) == "找不到产品（code='X'）"
    assert error_text("en", missing.msgid, missing.params) == missing.message
    clash = Conflict("%(what)s update clashes with an existing row", what=crud.noun(SigninThrottle))
    assert clash.message == "Record update clashes with an existing row"  # a model without a noun
    assert error_text("zh_CN", clash.msgid, clash.params) == "记录的修改与已有记录冲突"
