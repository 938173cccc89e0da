"""Nothing English left on the Chinese pages (issue 13), beyond the catalog check of test_i18n.py: the pages
rendered in zh_CN over HTTP (admin, boss, reports, the traveler, the station) show no enumeration value
raw (a role, a tag role, an inspection frequency, a reason kind, an order or step status, "pcs"), and the
templates and scripts hold no English sentence outside the translation functions."""

import re
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from server.web.templates import TEMPLATE_DIR
from tests.server.factory import ok
from tests.web.conftest import MACHINE_TAGS, LiveServer, start_order

STATIC = TEMPLATE_DIR.parent / "static"
# values that name things in code and must reach a Chinese reader translated
ENUMS = {
    "admin", "planner", "supervisor", "operator", "inspector",  # roles
    "counter", "scrap_counter", "total_counter", "cycle_counter", "analog", "run", "fault", "state",
    "first_article", "every_n_parts", "every_n_minutes", "final",  # inspection frequencies
    "downtime", "scrap", "pause",  # reason kinds
    "draft", "released", "in_progress", "paused", "completed", "cancelled", "pending", "running", "done",
    "pcs", "Time", "Planned",
}  # fmt: skip
PAGES = ["/admin/users", "/admin/machines", "/admin/reasons", "/admin/plans", "/admin/orders",
         "/admin/orders/WO-ZH-1", "/admin/orders/WO-ZH-1/traveler", "/admin/products", "/admin/shifts",
         "/admin/tablets", "/boss", "/boss/orders/WO-ZH-1", "/boss/machines/lathe-1", "/reports",
         "/reports/daily"]  # fmt: skip


class VisibleText(HTMLParser):
    """The text a reader sees: text nodes outside script/style, and title/placeholder/aria-label/alt."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts += [v for k, v in attrs if k in ("title", "placeholder", "aria-label", "alt") and v]

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_words(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", " ".join(parser.parts)))


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> httpx.Client:
    start_order(live, "WO-ZH-1", 40)
    product = ok(live.http.get("/api/v1/products/BRK-100", headers=live.plant.as_("admin")))
    plan = {"product_id": product["id"], "step_no": 10, "name": "FA", "frequency": "first_article",
            "characteristics": [{"name": "d", "lsl": 1, "usl": 2}]}  # fmt: skip
    ok(live.http.post("/api/v1/inspection-plans", json=plan, headers=live.plant.as_("inspector")), 201)
    token = live.plant.as_("admin")["Authorization"].split()[1]
    client = httpx.Client(
        base_url=live.base, cookies={"takt_session": token}, headers={"Accept-Language": "zh-CN"}
    )
    return client


@pytest.mark.parametrize("path", PAGES)
def test_no_enumeration_value_shows_raw_on_a_chinese_page(admin: httpx.Client, path: str) -> None:
    page = admin.get(path + ("&" if "?" in path else "?") + "lang=zh_CN")
    assert page.status_code == 200, (path, page.status_code)
    names = {name for name, _role, _width in MACHINE_TAGS}  # the plant's tag names are data, not labels
    raw = sorted(visible_words(page.text) & ENUMS - names)
    assert raw == [], f"{path} shows {raw} untranslated"


SENTENCE = re.compile(r"\b[A-Z][a-z]+(?: [a-z]+){2,}")  # "No data since", "Could not send"


def _outside_translation(text: str) -> list[str]:
    """English sentences in a template's or script's text that no `_()`/`T.` lookup wraps."""
    text = re.sub(r"\{#.*?#\}|/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)  # comments
    text = re.sub(r"_\(\s*(['\"]).*?\1", " ", text, flags=re.S)  # gettext calls
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)  # template expressions
    return SENTENCE.findall(text)


# protocol text, not shown: the server's answer station.js recognises to retry (server/domain/idempotency.py)
NOT_SHOWN = {"Key is still in progress"}


@pytest.mark.parametrize(
    "path", sorted([*TEMPLATE_DIR.rglob("*.html"), *STATIC.glob("*.js")]), ids=lambda p: p.name
)
def test_templates_and_scripts_hold_no_english_outside_the_catalog(path: Path) -> None:
    found = set(_outside_translation(path.read_text(encoding="utf-8"))) - NOT_SHOWN
    assert found == set()
