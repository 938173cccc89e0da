"""Sales-order pages over HTTP against the live server: import a PO from CSV, see its lines (zh and en), split
a line into work orders (quantities that do not add up are refused on a readable page), create the customer's
share link for the whole order and revoke it."""

from collections.abc import Iterator

import httpx
import pytest

from tests.server.factory import add_user, ok
from tests.web.conftest import LiveServer

CSV = (
    "customer,po_number,po_date,product,quantity,due_date,unit_price,notes\n"
    "ningbo,NB-PO-55,2026-12-01,BRK-100,100,2026-12-24,2.5,\n"
    "ningbo,NB-PO-55,,PIN-7,40,2026-12-28,,\n"
)


@pytest.fixture(scope="module")
def planner(live: LiveServer) -> Iterator[httpx.Client]:
    add_user(live.plant, "planner", "planner-sales")
    form = {"username": "planner-sales", "password": live.plant.passwords["planner-sales"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base, "Accept-Language": "en"}) as client:
        client.post("/login", data=form)
        yield client


def test_import_split_and_share_a_sales_order(live: LiveServer, planner: httpx.Client) -> None:
    assert "No sales orders yet." in planner.get("/admin/sales-orders").text
    preview = planner.post("/admin/sales-orders/import", files={"file": ("po.csv", CSV.encode())})
    assert preview.status_code == 200 and 'id="import-confirm"' in preview.text
    assert "No sales orders yet." in planner.get("/admin/sales-orders").text  # nothing written yet
    encoded = preview.text.split('name="data" value="', 1)[1].split('"', 1)[0]
    imported = planner.post("/admin/sales-orders/import/confirm", data={"data": encoded, "fmt": "csv"})
    assert imported.status_code == 200 and "Imported 2 sales-order lines." in imported.text
    [so] = ok(live.http.get("/api/v1/sales-orders", headers=live.plant.as_("planner")))["items"]
    page = f"/admin/sales-orders/{so['id']}"
    assert f'href="{page}"' in planner.get("/admin/sales-orders").text
    zh = planner.get(page, headers={"Accept-Language": "zh-CN"}).text
    assert "采购单号" in zh and "NB-PO-55" in zh and "生成工单" in zh
    refused = planner.post(f"{page}/lines/1/split", data={"quantities": "60, 30"})
    assert refused.status_code == 422 and "90" in refused.text and "100" in refused.text
    split = planner.post(f"{page}/lines/1/split", data={"quantities": "60，40", "count_source": "manual"})
    assert split.status_code == 303 and split.headers["location"].startswith(page)
    text = planner.get(page).text
    assert f"SO{so['id']}-1-1" in text and f"SO{so['id']}-1-2" in text
    order = ok(live.http.get(f"/api/v1/work-orders/SO{so['id']}-1-2", headers=live.plant.as_("planner")))
    assert (order["quantity"], order["count_source"], order["customer"]) == (40, "manual", "ningbo")
    made = planner.post(f"{page}/share-links", data={"days": "10", "show_eta": "true"})
    assert made.status_code == 201 and "NB-PO-55" in made.text
    url = made.text.split('id="share-url" value="', 1)[1].split('"', 1)[0]
    token = url.rsplit("/", 1)[1]
    view = httpx.get(f"{live.base}/s/{token}.json").json()
    assert view["po_number"] == "NB-PO-55" and [ln["quantity"] for ln in view["lines"]] == [100, 40]
    [link] = ok(
        live.http.get(f"/api/v1/sales-orders/{so['id']}/share-links", headers=live.plant.as_("planner"))
    )
    revoked = planner.post(f"/admin/share-links/{link['id']}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"].startswith(page)
    assert httpx.get(f"{live.base}/s/{token}.json").status_code == 404


def test_type_in_a_sales_order(live: LiveServer, planner: httpx.Client) -> None:
    lines = "BRK-100, 500, 2026-12-20, 1.25\nPIN-7，80\n"
    made = planner.post(
        "/admin/sales-orders", data={"customer": "suzhou", "po_number": "SZ-9", "lines": lines}
    )
    assert made.status_code == 303
    text = planner.get(made.headers["location"]).text
    assert "SZ-9" in text and "BRK-100 · 500" in text and "PIN-7 · 80" in text and "1.25" in text
    bad = planner.post(
        "/admin/sales-orders", data={"customer": "suzhou", "po_number": "SZ-10", "lines": "BRK-100, -5"}
    )
    assert bad.status_code == 422
