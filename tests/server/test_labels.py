"""Label PDFs (API, SQLite and PostgreSQL): a received lot, a finished-goods lot made by backflush and a job
traveler, on 60 x 40 mm thermal labels and A4 sheets; read back with pypdf (page sizes, text with the Chinese
captions) and rasterised with PDFium, their QR codes decoded by zxing-cpp to the URLs a tablet opens."""

import io

import pypdfium2 as pdfium
import zxingcpp
from fastapi.testclient import TestClient
from pypdf import PdfReader

from tests.server.factory import make_order, ok
from tests.server.test_backflush import issue, report
from tests.server.test_stock import receive, stocked_plant

MM = 72 / 25.4
BASE = "http://127.0.0.1:8000"  # the test settings' public_url


def _pdf(client: TestClient, path: str, headers: dict[str, str], **params: object) -> bytes:
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return response.content


def _qr_codes(pdf: bytes, page: int = 0) -> list[str]:
    image = pdfium.PdfDocument(pdf)[page].render(scale=600 / 72).to_pil()  # 600 dpi
    return sorted(r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode)


def test_lot_finished_and_traveler_labels(client: TestClient) -> None:
    plant = stocked_plant(client)
    op = plant.as_("operator")
    receive(plant, "S-LBL-1", "STEEL-6", 12.5, supplier_lot="BS-77")
    make_order(plant, "WO-L1", quantity=20, count_source="manual")
    ok(client.post("/api/v1/work-orders/WO-L1/release", headers=plant.as_("planner")))
    issue(plant, "S-LBL-1", "WO-L1")
    report(plant, "WO-L1", 10, good=8)
    report(plant, "WO-L1", 20, good=6)

    thermal = _pdf(client, "/api/v1/lots/S-LBL-1/label.pdf", op, format="thermal", copies=2)
    reader = PdfReader(io.BytesIO(thermal))
    assert len(reader.pages) == 2
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / MM), round(float(box.height) / MM)) == (60, 40)
    text = reader.pages[0].extract_text()
    assert all(part in text for part in ("批次 Lot", "S-LBL-1", "STEEL-6", "12.5 kg", "供应商批号 BS-77"))
    assert _qr_codes(thermal) == [f"{BASE}/l/S-LBL-1"]

    finished = _pdf(client, "/api/v1/work-orders/WO-L1/finished-label.pdf", op, format="a4", copies=30)
    reader = PdfReader(io.BytesIO(finished))
    assert len(reader.pages) == 2  # 24 labels to a sheet
    box = reader.pages[0].mediabox
    assert (round(float(box.width) / MM), round(float(box.height) / MM)) == (210, 297)
    text = reader.pages[1].extract_text()
    assert all(
        part in text
        for part in ("成品 Finished goods", "FG-WO-L1", "BRK-100 Bracket", "6 pcs", "工单 WO WO-L1")
    )
    assert _qr_codes(finished, page=1) == [f"{BASE}/l/FG-WO-L1"] * 6

    traveler = _pdf(client, "/api/v1/work-orders/WO-L1/traveler-label.pdf", op)
    assert "流转卡 Traveler" in PdfReader(io.BytesIO(traveler)).pages[0].extract_text()
    assert _qr_codes(traveler) == [f"{BASE}/station/go/WO-L1"]
    assert client.get("/api/v1/lots/NOPE/label.pdf", headers=op).status_code == 404
    assert client.get("/api/v1/lots/S-LBL-1/label.pdf", params={"copies": 0}, headers=op).status_code == 422
