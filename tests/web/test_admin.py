"""Admin and planner pages over HTTP against the live server: each form does its job through the domain
(work orders, CSV import, release, priority, traveler QR, share links with QR, products, instructions,
machines and tags, reason codes, inspection plans, users, tablet enrollment)."""

from collections.abc import Iterator

import httpx
import pytest

from tests.server.factory import add_user, ok
from tests.web.conftest import LiveServer, enroll_path, start_order


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    add_user(live.plant, "admin", "admin-forms")
    form = {"username": "admin-forms", "password": live.plant.passwords["admin-forms"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base, "Accept-Language": "en"}) as client:
        assert client.post("/login", data=form).headers["location"] == "/admin"
        yield client


def _api(live: LiveServer, path: str) -> dict:  # type: ignore[type-arg]
    return ok(live.http.get(f"/api/v1{path}", headers=live.plant.as_("admin")))


def test_every_admin_page_renders(admin: httpx.Client) -> None:
    for path in ("/admin", "/admin/products", "/admin/products/BRK-100", "/admin/machines", "/admin/reasons",
                 "/admin/plans", "/admin/users", "/admin/tablets", "/admin/shifts"):  # fmt: skip
        page = admin.get(path)
        assert page.status_code == 200 and "<h1>" in page.text, path


def test_work_order_create_release_priority_traveler(live: LiveServer, admin: httpx.Client) -> None:
    form = {"number": "WO-ADM-1", "product": "BRK-100", "quantity": "40", "customer": "suzhou",
            "due_date": "2030-02-01", "priority": "3", "count_source": "manual"}  # fmt: skip
    created = admin.post("/admin/orders", data=form)
    assert created.status_code == 303 and created.headers["location"].startswith("/admin/orders/WO-ADM-1?ok=")
    assert "Work order created" in admin.get(created.headers["location"]).text
    order = _api(live, "/work-orders/WO-ADM-1")
    assert (order["quantity"], order["customer"], order["count_source"], order["status"]) == (
        40,
        "suzhou",
        "manual",
        "draft",
    )
    assert admin.post("/admin/orders/WO-ADM-1/release").status_code == 303
    assert (
        admin.post(
            "/admin/orders/WO-ADM-1/priority", data={"priority": "9", "due_date": "2030-03-01"}
        ).status_code
        == 303
    )
    order = _api(live, "/work-orders/WO-ADM-1")
    assert (order["status"], order["priority"], order["due_date"]) == ("released", 9, "2030-03-01")
    traveler = admin.get("/admin/orders/WO-ADM-1/traveler")
    assert traveler.status_code == 200 and "<svg" in traveler.text and "/station/go/WO-ADM-1" in traveler.text
    unknown = admin.post("/admin/orders", data={"number": "WO-ADM-X", "product": "NOPE", "quantity": "1"})
    assert unknown.status_code == 404 and "NOPE" in unknown.text  # the domain's NotFound, on the form
    assert 'name="number" required maxlength="40" value="WO-ADM-X"' in unknown.text
    again = admin.post("/admin/orders", data=form | {"quantity": "77", "count_source": "manual"})
    assert again.status_code == 409 and 'id="order-error"' in again.text  # a duplicate number: the form kept
    for kept in ('value="WO-ADM-1"', 'value="77"', 'value="2030-02-01"', '<option value="manual" selected>'):
        assert kept in again.text, kept
    assert live.http.get("/api/v1/work-orders/WO-ADM-X", headers=live.plant.as_("admin")).status_code == 404


def test_traveler_qr_opens_the_order_on_an_enrolled_tablet(live: LiveServer) -> None:
    with httpx.Client(base_url=live.base) as tablet:
        tablet.get(enroll_path(live))
        go = tablet.get("/station/go/WO-ADM-1")
        assert go.status_code == 303 and go.headers["location"] == "/station/st-lathe-1?order=WO-ADM-1"
    with httpx.Client(base_url=live.base) as stranger:
        assert stranger.get("/station/go/WO-ADM-1").status_code == 403


def test_import_csv_all_or_nothing(live: LiveServer, admin: httpx.Client) -> None:
    good = b"number,product,quantity,due_date\nWO-IMP-1,BRK-100,10,2030-01-01\nWO-IMP-2,PIN-7,20,\n"
    preview = admin.post("/admin/orders/import", files={"file": ("orders.csv", good, "text/csv")})
    assert (
        preview.status_code == 200
        and "2 rows checked, no errors" in preview.text
        and "WO-IMP-2" in preview.text
    )
    assert live.http.get("/api/v1/work-orders/WO-IMP-1", headers=live.plant.as_("admin")).status_code == 404
    encoded = preview.text.split('name="data" value="', 1)[1].split('"', 1)[0]
    done = admin.post("/admin/orders/import/confirm", data={"data": encoded, "fmt": "csv"})
    assert done.status_code == 200 and "Imported 2 work orders." in done.text
    damaged = admin.post("/admin/orders/import/confirm", data={"data": "not base64!", "fmt": "csv"})
    assert damaged.status_code == 422 and "upload the file again" in damaged.text
    assert _api(live, "/work-orders/WO-IMP-2")["quantity"] == 20
    bad = b"number,product,quantity\nWO-IMP-3,BRK-100,10\nWO-IMP-4,NOPE,5\n"
    refused = admin.post("/admin/orders/import", files={"file": ("orders.csv", bad, "text/csv")})
    assert refused.status_code == 422 and "NOPE" in refused.text
    assert live.http.get("/api/v1/work-orders/WO-IMP-3", headers=live.plant.as_("admin")).status_code == 404


def test_share_link_from_the_order_page(live: LiveServer, admin: httpx.Client) -> None:
    made = admin.post("/admin/orders/WO-ADM-1/share-links", data={"days": "5", "show_eta": "true"})
    assert made.status_code == 201 and "<svg" in made.text
    url = made.text.split('id="share-url" value="', 1)[1].split('"', 1)[0]
    token = url.rsplit("/s/", 1)[1]
    data = ok(live.http.get(f"/s/{token}.json"))
    assert data["quantity"] == 40 and "eta" in data and "inspections" not in data
    assert live.http.get(f"/s/{token}/qr.png").content.startswith(b"\x89PNG")
    links = ok(live.http.get("/api/v1/work-orders/WO-ADM-1/share-links", headers=live.plant.as_("planner")))
    assert admin.post(f"/admin/share-links/{links[-1]['id']}/revoke").status_code == 303
    live.reset_share_limiter()
    assert live.http.get(f"/s/{token}.json").status_code == 404


def test_master_data_forms(live: LiveServer, admin: httpx.Client) -> None:
    product = {"code": "NUT-9", "name": "Nut", "unit": "pcs", "routing": "10 tap lathe 12\n20 pack packer 1"}
    assert admin.post("/admin/products", data=product).status_code == 303
    assert [s["name"] for s in _api(live, "/products/NUT-9")["routing"]] == ["tap", "pack"]
    assert (
        admin.post("/admin/products", data=product | {"code": "NUT-10", "routing": "ten tap"}).status_code
        == 422
    )
    assert (
        admin.post(
            "/admin/machines/lathe-2/tags", data={"name": "spindle", "role": "analog", "unit": "rpm"}
        ).status_code
        == 303
    )
    assert "spindle" in {
        t["name"] for t in ok(live.http.get("/api/v1/machines/lathe-2/tags", headers=live.plant.as_("admin")))
    }
    reason = {"kind": "scrap", "code": "crack", "label_zh": "裂纹", "label_en": "crack"}
    assert admin.post("/admin/reasons", data=reason).status_code == 303
    assert "crack" in {r["code"] for r in _api(live, "/reason-codes?kind=scrap")["items"]}
    plan = {"product": "NUT-9", "name": "FA nut", "frequency": "every_n_parts", "frequency_n": "50",
            "step_no": "10", "characteristics": "thread 5.9 6.1 mm\nburr ok"}  # fmt: skip
    assert admin.post("/admin/plans", data=plan).status_code == 303
    plans = ok(live.http.get("/api/v1/inspection-plans?product=NUT-9", headers=live.plant.as_("admin")))
    assert [(c["name"], c["kind"]) for c in plans[0]["characteristics"]] == [
        ("thread", "numeric"),
        ("burr", "attribute"),
    ]
    user = {
        "username": "op-new",
        "display_name": "New Op",
        "role": "operator",
        "badge": "B-new",
        "pin": "2468",
    }
    assert admin.post("/admin/users", data=user).status_code == 303
    assert "op-new" in {u["username"] for u in _api(live, "/users")["items"]}


def test_tablet_enrollment_page_gives_a_working_link(live: LiveServer, admin: httpx.Client) -> None:
    enrolled = admin.post("/admin/tablets", data={"station": "st-lathe-1", "name": "tab-admin"})
    assert enrolled.status_code == 201 and "<svg" in enrolled.text
    url = enrolled.text.split('id="enroll-url" value="', 1)[1].split('"', 1)[0]
    path = url.split("127.0.0.1:8000", 1)[1].replace("&amp;", "&")
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as tablet:
        assert tablet.get(path).headers["location"] == "/station/st-lathe-1"
        signed = tablet.post("/station/st-lathe-1/sign-in", data={"badge": "B-operator1", "pin": "4321"})
        assert signed.status_code == 303 and "takt_op" in tablet.cookies


def test_statuses_are_translated(admin: httpx.Client) -> None:
    page = admin.get("/admin/orders?lang=zh-CN")
    assert "已下达" in page.text and "草稿" in page.text and ">released<" not in page.text
    admin.cookies.delete("lang")


def test_factory_logo_on_the_share_page(live: LiveServer, admin: httpx.Client) -> None:
    from server.web.share import qr_png

    logo = qr_png("logo")
    assert admin.post("/admin/logo", files={"file": ("logo.png", b"GIF89a....")}).status_code == 422
    assert admin.post("/admin/logo", files={"file": ("logo.png", logo)}).status_code == 303
    assert live.http.get("/logo.png").content == logo
    link = ok(
        live.http.post("/api/v1/work-orders/WO-ADM-1/share-links", headers=live.plant.as_("planner")), 201
    )
    live.reset_share_limiter()
    assert '<img src="/logo.png"' in live.http.get(f"/s/{link['token']}").text


def test_core_errors_show_in_the_page_language(live: LiveServer, admin: httpx.Client) -> None:
    """A service's Conflict (msgid + parameters, statuses included) on an admin page, in English and Chinese;
    the JSON API keeps `detail` in English and adds `message` in the client's language."""
    start_order(live, "WO-ADM-ERR", 20)  # in progress: releasing it again is an illegal transition
    en = admin.post("/admin/orders/WO-ADM-ERR/release")
    assert en.status_code == 409
    assert "work order WO-ADM-ERR cannot go from in progress to released" in en.text
    zh = admin.post("/admin/orders/WO-ADM-ERR/release?lang=zh-CN")
    assert zh.status_code == 409 and 'lang="zh-CN"' in zh.text
    assert "工单 WO-ADM-ERR 不能从“生产中”变为“已下达”" in zh.text, zh.text
    url = "/api/v1/work-orders/WO-ADM-ERR/release"
    plain = live.http.post(url, headers=live.plant.as_("planner")).json()
    assert plain["detail"] == "work order WO-ADM-ERR cannot go from in_progress to released"
    assert plain["message"] == "work order WO-ADM-ERR cannot go from in progress to released"
    asked = live.http.post(url, headers=live.plant.as_("planner") | {"Accept-Language": "zh-CN"}).json()
    assert asked["detail"] == plain["detail"] and asked["message"].startswith("工单 WO-ADM-ERR 不能从")
    # quality's errors too: a plan checked every N parts without N
    plan = {"product_id": 1, "name": "patrol", "frequency": "every_n_parts", "sample_size": 1,
            "characteristics": [{"name": "surface", "kind": "attribute"}]}  # fmt: skip
    zh_headers = live.plant.as_("inspector") | {"Accept-Language": "zh-CN"}
    refused = live.http.post("/api/v1/inspection-plans", json=plan, headers=zh_headers).json()
    assert refused["detail"] == "frequency every_n_parts needs frequency_n"
    assert refused["message"] == "频次 every_n_parts 需要填写 frequency_n"


def test_record_and_import_errors_show_in_the_page_language(live: LiveServer, admin: httpx.Client) -> None:
    """crud's Conflict/NotFound name the kind of record in the page's language; so do the import page's row
    errors and the forms' line errors (English with Accept-Language: en, Chinese with ?lang=zh-CN). The JSON
    API keeps `detail` in English."""
    admin.cookies.delete("lang")  # an earlier ?lang=zh-CN is remembered
    reason = {"kind": "scrap", "code": "dent", "label_zh": "凹痕", "label_en": "dent"}
    assert admin.post("/admin/reasons", data=reason).status_code == 303
    en = admin.post("/admin/reasons", data=reason)
    assert en.status_code == 409 and "Reason code already exists or refers to a missing row" in en.text
    zh = admin.post("/admin/reasons?lang=zh-CN", data=reason)
    assert zh.status_code == 409 and "原因代码已存在，或引用了不存在的记录" in zh.text, zh.text
    assert "找不到产品（code=&#39;NOPE-9&#39;）" in admin.get("/admin/products/NOPE-9").text
    api_headers = live.plant.as_("admin") | {"Accept-Language": "zh-CN"}
    again = live.http.post("/api/v1/reason-codes", json=reason, headers=api_headers).json()
    assert again["detail"] == "Reason code already exists or refers to a missing row"
    assert again["message"] == "原因代码已存在，或引用了不存在的记录"
    bad = (b"number,product,customer,quantity\nWO-ADM-1,BRK-100,,1\nWO-IMP-9,NOPE,ghost,1\n"
           b"WO-IMP-8,BRK-100,,1\nWO-IMP-8,PIN-7,,2\n")  # fmt: skip
    refused = admin.post("/admin/orders/import", files={"file": ("orders.csv", bad, "text/csv")})
    assert refused.status_code == 422
    for text in ("工单 WO-ADM-1 已存在", "未知产品 &#39;NOPE&#39;", "未知客户 &#39;ghost&#39;",
                 "工单 WO-IMP-8 在文件中出现了两次"):  # fmt: skip
        assert text in refused.text, text  # the cookie from ?lang=zh-CN above
    admin.cookies.delete("lang")
    refused = admin.post("/admin/orders/import", files={"file": ("orders.csv", bad, "text/csv")})
    for text in (
        "work order WO-ADM-1 already exists",
        "unknown product &#39;NOPE&#39;",
        "unknown customer &#39;ghost&#39;",
        "work order WO-IMP-8 appears twice in the file",
    ):
        assert text in refused.text, text
    not_xlsx = {"file": ("o.xlsx", b"not a zip", "text/csv")}
    broken = admin.post("/admin/orders/import?lang=zh-CN", files=not_xlsx)
    assert broken.status_code == 422 and "无法读取的 XLSX 文件" in broken.text
    product = {"code": "NUT-11", "name": "Nut", "unit": "pcs", "routing": "10 tap\nten tap"}
    assert "工艺路线第 2 行" in admin.post("/admin/products", data=product).text
    admin.cookies.delete("lang")


BAD_VALUES = (b"number,product,customer,quantity,due_date\nWO-VAL-1,BRK-100,,abc,\nWO-VAL-2,BRK-100,,-5,\n"
              b"WO-VAL-3,BRK-100,,10,2030-13-01\nWO-VAL-4,,,10,\n")  # fmt: skip


def _assert_rows(page: str, texts: list[str]) -> None:
    """The import page's error table: BAD_VALUES' rows 2-5 with their column and `texts`."""
    for row, column, text in zip(
        (2, 3, 4, 5), ("quantity", "quantity", "due_date", "product"), texts, strict=True
    ):
        assert f"<tr><td>{row}</td><td>{column}</td><td>{text}</td></tr>" in page, (row, page)


def test_import_value_errors_in_the_page_language(live: LiveServer, admin: httpx.Client) -> None:
    """pydantic's refusals of a row (not an integer, not positive, not a date, an empty column) on the import
    page: Chinese on a zh page, plain English on an en page; the JSON API keeps pydantic's own English."""
    csv_file = {"file": ("orders.csv", BAD_VALUES, "text/csv")}
    zh = admin.post("/admin/orders/import?lang=zh-CN", files=csv_file)
    assert zh.status_code == 422
    _assert_rows(zh.text, ["须为整数", "须大于 0", "须为日期（YYYY-MM-DD）", "必填，不能为空"])
    assert "Input should" not in zh.text and "Field required" not in zh.text
    en = admin.post("/admin/orders/import?lang=en", files=csv_file)
    _assert_rows(
        en.text,
        ["must be a whole number", "must be greater than 0", "must be a date (YYYY-MM-DD)", "required"],
    )
    headers = live.plant.as_("planner") | {"Accept-Language": "zh-CN"}
    api = live.http.post("/api/v1/work-orders/import", files=csv_file, headers=headers)
    assert api.status_code == 422
    assert [(e["row"], e["field"], e["message"]) for e in api.json()["errors"]] == [
        (2, "quantity", "Input should be a valid integer, unable to parse string as an integer"),
        (3, "quantity", "Input should be greater than 0"),
        (
            4,
            "due_date",
            "Input should be a valid date or datetime, month value is outside expected range of 1-12",
        ),
        (5, "product", "Field required"),
    ]
    admin.cookies.delete("lang")


def test_form_errors_in_the_page_language(live: LiveServer, admin: httpx.Client) -> None:
    """A form value the model refuses (a short password) and one FastAPI's form parsing refuses (a negative
    quantity, not a number) become a 422 page naming the field by its label, in the page's language. A JSON
    body keeps FastAPI's 422 JSON, as does the API."""
    user = {"username": "op-short", "display_name": "Short", "role": "operator", "password": "abc"}
    zh = admin.post("/admin/users?lang=zh-CN", data=user)
    assert zh.status_code == 422 and "密码：至少 8 个字符" in zh.text, zh.text
    en = admin.post("/admin/users?lang=en", data=user)
    assert en.status_code == 422 and "Password: must have at least 8 characters" in en.text, en.text
    order = {"number": "WO-VAL-9", "product": "BRK-100", "quantity": "-5", "priority": "x"}
    zh = admin.post("/admin/orders?lang=zh-CN", data=order)
    assert zh.status_code == 422 and "数量：须大于 0；优先级：须为整数" in zh.text, zh.text
    assert "Input should" not in zh.text
    en = admin.post("/admin/orders?lang=en", data=order)
    assert "Quantity: must be greater than 0; Priority: must be a whole number" in en.text, en.text
    as_json = admin.post("/admin/orders", json=order)
    assert as_json.status_code == 422 and as_json.json()["detail"][0]["msg"] == "Field required"
    headers = live.plant.as_("planner") | {"Accept-Language": "zh-CN"}
    api = live.http.post("/api/v1/work-orders", json=order | {"priority": 0}, headers=headers)
    assert api.status_code == 422 and api.json()["detail"][0]["msg"] == "Input should be greater than 0"
    assert live.http.get("/api/v1/work-orders/WO-VAL-9", headers=live.plant.as_("admin")).status_code == 404
    # a page opened with a bad query or path value: the same page in the browser, JSON for a script
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    day = admin.get("/reports/oee/breakdown?day=yesterday&lang=zh-CN", headers=browser)
    assert day.status_code == 422 and "text/html" in day.headers["content-type"], day.text
    assert "Input should" not in day.text and "须为日期" in day.text, day.text
    chart = admin.get("/reports/spc/abc?lang=en", headers=browser)
    assert chart.status_code == 422 and "must be a whole number" in chart.text, chart.text
    assert admin.get("/reports/spc/abc", headers={"Accept": "application/json"}).json()["detail"][0]["loc"]
    admin.cookies.delete("lang")


def test_edit_user_changes_only_what_is_filled(live: LiveServer, admin: httpx.Client) -> None:
    """/admin/users/edit: a new name, role and password (audited as credentials, never the value); a later
    edit with only `active` keeps the rest; an inactive user cannot sign in."""
    user = {"username": "edit-me", "display_name": "Before", "role": "operator", "password": "first-pw-123"}
    assert admin.post("/admin/users", data=user).status_code == 303
    changed = {
        "username": "edit-me",
        "display_name": "After",
        "role": "supervisor",
        "password": "second-pw-456",
    }
    assert admin.post("/admin/users/edit", data=changed).headers["location"].startswith("/admin/users?ok=")
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as browser:
        signed = browser.post("/login", data={"username": "edit-me", "password": "second-pw-456"})
        assert signed.headers["location"] == "/boss"
    assert admin.post("/admin/users/edit", data={"username": "edit-me", "active": "false"}).status_code == 303
    row = next(u for u in _api(live, "/users?limit=500")["items"] if u["username"] == "edit-me")
    assert (row["display_name"], row["role"], row["active"]) == ("After", "supervisor", False)
    with httpx.Client(base_url=live.base, headers={"Origin": live.base}) as browser:
        refused = browser.post("/login", data={"username": "edit-me", "password": "second-pw-456"})
        assert refused.status_code != 303
    audited = _api(live, "/audit?entity=User&limit=200")["items"]
    assert any(a["action"] == "credentials" and a["diff"] == {"changed": ["password"]} for a in audited)
    assert admin.post("/admin/users/edit", data={"username": "edit-me", "role": "boss"}).status_code == 422


def test_users_import_from_chinese_excel(live: LiveServer, admin: httpx.Client) -> None:
    """Operators from a GBK CSV (badges and PINs as Excel writes them): previewed, refused with row errors on
    a taken username or a repeated badge (nothing written), then imported after confirming; PINs hashed."""
    rows = ("username,display_name,role,badge,pin\r\n"
            "op-zhang,张三,operator,B-701,1234\r\nop-li,李四,operator,B-702,5678\r\n")  # fmt: skip
    preview = admin.post("/admin/users/import", files={"file": ("工人.csv", rows.encode("gbk"), "text/csv")})
    assert preview.status_code == 200 and "张三" in preview.text and 'id="import-confirm"' in preview.text
    assert not any(u["username"] == "op-zhang" for u in _api(live, "/users?limit=500")["items"])
    bad = rows + "admin-forms,X,operator,B-701,1111\r\n"
    refused = admin.post("/admin/users/import", files={"file": ("u.csv", bad.encode("gbk"), "text/csv")})
    assert refused.status_code == 422
    assert (
        "user admin-forms already exists" in refused.text and "badge B-701 is already someone" in refused.text
    )
    encoded = preview.text.split('name="data" value="', 1)[1].split('"', 1)[0]
    done = admin.post("/admin/users/import/confirm", data={"data": encoded, "fmt": "csv"})
    assert done.status_code == 200 and "Imported 2 users." in done.text
    zhang = next(u for u in _api(live, "/users?limit=500")["items"] if u["username"] == "op-zhang")
    assert (zhang["display_name"], zhang["badge"]) == ("张三", "B-701") and "pin_hash" not in zhang
    station = {"badge": "B-701", "pin": "1234"}
    tablet = {"X-Device-Token": live.device_tokens["st-lathe-1"]}
    signed = live.http.post("/api/v1/stations/st-lathe-1/sign-in", json=station, headers=tablet)
    assert signed.status_code == 200, signed.text


def test_plant_created_and_changed_on_the_machines_page(live: LiveServer, admin: httpx.Client) -> None:
    """A line, a machine and a station created on /admin/machines, then changed there: only the filled
    fields; each create and change in the audit log; a duplicate code is a 409 naming the kind of row."""
    assert admin.post("/admin/lines", data={"code": "L-NEW", "name": "New line"}).status_code == 303
    line = next(x for x in _api(live, "/lines?limit=500")["items"] if x["code"] == "L-NEW")
    made = {
        "code": "m-new",
        "name": "Press",
        "line_id": str(line["id"]),
        "kind": "press",
        "ideal_cycle_s": "4",
    }
    assert admin.post("/admin/machines", data=made).status_code == 303
    machine = _api(live, "/machines/m-new")
    station = {"code": "st-new", "name": "Press station", "line_id": str(line["id"])}
    assert admin.post("/admin/stations", data=station).status_code == 303
    assert (
        admin.post("/admin/machines/edit", data={"code": "m-new", "ideal_cycle_s": "3.5"}).status_code == 303
    )
    changed = _api(live, "/machines/m-new")
    assert (changed["name"], changed["kind"], changed["ideal_cycle_s"]) == ("Press", "press", 3.5)
    moved = {"code": "st-new", "machine_id": str(machine["id"])}
    assert admin.post("/admin/stations/edit", data=moved).status_code == 303
    assert _api(live, "/stations/st-new")["machine_id"] == machine["id"]
    again = admin.post("/admin/machines", data=made)
    assert again.status_code == 409 and "Machine" in again.text
    audited = {(a["entity"], a["action"]) for a in _api(live, "/audit?limit=500")["items"]}
    assert {("Line", "create"), ("Machine", "create"), ("Station", "create"), ("Machine", "update"),
            ("Station", "update")} <= audited  # fmt: skip


def test_machines_import_previewed_then_confirmed(live: LiveServer, admin: httpx.Client) -> None:
    """Machines from a GBK CSV on /admin/machines: row errors (a taken code, an unknown line, a bad cycle)
    import nothing; a clean file is previewed, then written on confirming, on its line."""
    bad = "code,name,line,kind,ideal_cycle_s\r\nlathe-1,重复,a,lathe,3\r\nm-x,冲床,nope,press,abc\r\n"
    refused = admin.post("/admin/machines/import", files={"file": ("m.csv", bad.encode("gbk"), "text/csv")})
    assert refused.status_code == 422
    for text in ("machine lathe-1 already exists", "unknown line &#39;nope&#39;", "ideal_cycle_s"):
        assert text in refused.text, text
    good = "code,name,line,kind,ideal_cycle_s\r\nm-imp-1,冲床一,a,press,2.5\r\nm-imp-2,冲床二,,press,\r\n"
    preview = admin.post("/admin/machines/import", files={"file": ("m.csv", good.encode("gbk"), "text/csv")})
    assert preview.status_code == 200 and "冲床一" in preview.text
    assert live.http.get("/api/v1/machines/m-imp-1", headers=live.plant.as_("admin")).status_code == 404
    encoded = preview.text.split('name="data" value="', 1)[1].split('"', 1)[0]
    done = admin.post("/admin/machines/import/confirm", data={"data": encoded, "fmt": "csv"})
    assert done.status_code == 200 and "Imported 2 machines." in done.text
    first = _api(live, "/machines/m-imp-1")
    line_a = next(x for x in _api(live, "/lines?limit=500")["items"] if x["code"] == "a")
    assert (first["name"], first["line_id"], first["ideal_cycle_s"]) == ("冲床一", line_a["id"], 2.5)
    assert _api(live, "/machines/m-imp-2")["line_id"] is None
