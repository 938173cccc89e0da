"""Uploads are checked by content (docs/reliability.md, case H8): an HTML page named .png, a PNG named .jpg
or a truncated image is refused; what is stored is served with its type, nosniff and a sandboxing CSP."""

import httpx
import pytest

from tests.server.factory import add_user
from tests.web.conftest import LiveServer
from tests.web.images import TINY_PNG, image_bytes

HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def planner(live: LiveServer) -> httpx.Client:
    add_user(live.plant, "planner", "planner-img")
    client = httpx.Client(base_url=live.base, headers={"Origin": live.base}, timeout=30)
    signed = client.post(
        "/login", data={"username": "planner-img", "password": live.plant.passwords["planner-img"]}
    )
    assert signed.status_code == 303
    return client


def test_uploads_are_checked_by_content_and_served_safely(live: LiveServer, planner: httpx.Client) -> None:
    url = "/admin/products/BRK-100/instructions"
    refused = {
        "page.png": HTML,
        "magic.png": b"\x89PNG\r\n\x1a\n" + HTML,  # the PNG signature, then a page
        "png.jpg": TINY_PNG,  # a PNG named .jpg: served as image/jpeg it would be sniffed
        "cut.png": TINY_PNG[: len(TINY_PNG) // 2],
        "page.pdf": HTML,
    }
    for name, data in refused.items():
        answer = planner.post(url, data={"step_no": "10"}, files={"file": (name, data)})
        assert answer.status_code == 422, (name, answer.status_code)
    stored = sorted(p.name for p in live.settings.instructions_dir.rglob("*") if p.is_file())
    assert not set(refused) & set(stored), stored
    accepted = {"a.png": TINY_PNG, "b.jpg": image_bytes("JPEG"), "c.gif": image_bytes("GIF"),
                "d.webp": image_bytes("WEBP"), "e.pdf": b"%PDF-1.4\n%%EOF\n"}  # fmt: skip
    for name, data in accepted.items():
        answer = planner.post(
            url, data={"step_no": "10"}, files={"file": (name, data)}, follow_redirects=False
        )
        assert answer.status_code == 303, (name, answer.status_code, answer.text[:200])
        served = planner.get(f"/instructions/BRK-100/10/{name}")
        assert served.status_code == 200 and served.content == data
        assert served.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in served.headers["content-security-policy"]
        assert served.headers["content-type"].split(";")[0] in {"image/png", "image/jpeg", "image/gif",
                                                                 "image/webp", "application/pdf"}  # fmt: skip


def test_an_html_logo_is_refused(live: LiveServer) -> None:
    admin = httpx.Client(base_url=live.base, headers={"Origin": live.base}, timeout=30)
    admin.cookies.set("takt_session", live.settings.admin_token.get_secret_value())  # type: ignore[union-attr]
    with admin:
        saved = admin.post("/admin/logo", files={"file": ("logo.png", TINY_PNG)}, follow_redirects=False)
        assert saved.status_code == 303
        for data in (HTML, b"\x89PNG\r\n\x1a\n" + HTML, image_bytes("GIF")):
            assert admin.post("/admin/logo", files={"file": ("logo.png", data)}).status_code == 422
    logo = live.http.get("/logo.png")  # still the real one
    assert logo.content == TINY_PNG and logo.headers["x-content-type-options"] == "nosniff"
    assert logo.headers["content-type"] == "image/png"
