"""Admin pages for the plant's master data: products and routings (with work instructions), machines and
tags, reason codes, inspection plans, users, tablets (enrollment link + QR). Simple forms over
`server/domain/`; every POST passes the same-origin check."""

import logging
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import SettingsDep
from server.core.settings import Settings
from server.domain import accounts, admin_lists, catalog, crud, quality, sites, tokens
from server.domain.uploads import NotTheType, check_content
from server.models.auth import Tablet, User, UserCreate, UserUpdate
from server.models.catalog import (
    Product,
    ProductCreate,
    ProductUpdate,
    ReasonCode,
    ReasonCodeCreate,
    ReasonCodeUpdate,
)
from server.models.plant import Machine, Station, Tag, TagCreate
from server.models.quality import InspectionPlanCreate
from server.web.auth import AdminUser, PlannerUser, SameOrigin
from server.web.forms import FormInvalid, done, validated
from server.web.instructions import list_instructions, save_instruction
from server.web.routing import PageRoute
from server.web.share import qr_svg
from server.web.templates import templates

log = logging.getLogger(__name__)
router = APIRouter(route_class=PageRoute)
LOGO_MAX_BYTES = 1024 * 1024


def parse_routing(text: str) -> list[dict[str, Any]]:
    """Lines `step_no name [machine_kind] [ideal_cycle_s]`, e.g. `10 turn lathe 20`."""
    steps = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 2 or not parts[0].isdigit():
            raise FormInvalid(
                N_("routing line %(n)s: write 'step_no name [machine_kind] [ideal_cycle_s]'"), n=n
            )
        step: dict[str, Any] = {"step_no": int(parts[0]), "name": parts[1]}
        if len(parts) > 2 and parts[2] != "-":  # "-": no machine kind, a cycle time follows
            step["machine_kind"] = parts[2]
        if len(parts) > 3:
            step["ideal_cycle_s"] = parts[3]
        steps.append(step)
    return steps


@router.get("/admin/products")
def products(request: Request, session: SessionDep, who: PlannerUser) -> Response:
    rows = admin_lists.public_products(session)
    return templates.TemplateResponse(request, "admin/products.html", {"rows": rows, "who": who})


@router.post("/admin/products")
def create_product(
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    code: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    unit: Annotated[str, Form(max_length=16)] = "pcs",
    routing: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    body = validated(
        ProductCreate, {"code": code.strip(), "name": name, "unit": unit, "routing": parse_routing(routing)}
    )
    catalog.create_product(session, who.username, body)
    return done("/admin/products", N_("Product created"))


@router.get("/admin/products/{code}")
def product_page(
    code: str, request: Request, session: SessionDep, web: SettingsDep, who: PlannerUser
) -> Response:
    product = catalog.public(session, crud.get_by(session, Product, code=code))
    steps = [(s, list_instructions(web, _Step(product.code, s.step_no))) for s in product.routing]
    return templates.TemplateResponse(
        request,
        "admin/product.html",
        {"p": product, "steps": steps, "who": who, "routing": routing_text(product.routing)},
    )


@router.post("/admin/products/{code}")
def update_product(
    code: str,
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    unit: Annotated[str, Form(min_length=1, max_length=16)],
    routing: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """Change a product's name, unit and routing (orders made before keep their own steps); a step keeps
    its station when the routing text names none. Audit-logged (`routing` with the whole new routing)."""
    product = crud.get_by(session, Product, code=code)
    stations = {s.step_no: s.station_id for s in catalog.routing_of(session, product.id or 0)}
    steps = [step | {"station_id": stations.get(step["step_no"])} for step in parse_routing(routing)]
    body = validated(ProductUpdate, {"name": name.strip(), "unit": unit.strip(), "routing": steps})
    catalog.update_product(session, who.username, product, body)
    return done(f"/admin/products/{code}", N_("Product saved"))


def routing_text(steps: list[Any]) -> str:
    """A routing in the form's text: `step_no name [machine_kind] [ideal_cycle_s]` per line."""
    lines = []
    for s in steps:
        kind = s.machine_kind or ("-" if s.ideal_cycle_s is not None else "")
        cycle = "" if s.ideal_cycle_s is None else f"{s.ideal_cycle_s:g}"
        lines.append(" ".join(str(p) for p in (s.step_no, s.name, kind, cycle) if p != ""))
    return "\n".join(lines)


class _Step:
    def __init__(self, product_code: str, step_no: int) -> None:
        self.product_code, self.step_no = product_code, step_no


@router.post("/admin/products/{code}/instructions")
def upload_instruction(
    code: str,
    session: SessionDep,
    web: SettingsDep,
    _who: PlannerUser,
    _origin: SameOrigin,
    step_no: Annotated[int, Form(ge=1)],
    file: Annotated[UploadFile, File()],
) -> Response:
    product = crud.get_by(session, Product, code=code)
    data = file.file.read(web.upload_max_bytes + 1)
    save_instruction(web, product.code, step_no, file.filename or "", data)
    return done(f"/admin/products/{code}", N_("Uploaded"))


@router.get("/admin/machines")
def machines(request: Request, session: SessionDep, who: AdminUser, web: SettingsDep) -> Response:
    rows = admin_lists.machines(session)
    tags = admin_lists.tags_by_machine(session, [m.id for m in rows])
    stations = admin_lists.stations(session)
    context = {"rows": rows, "tags": tags, "stations": stations, "who": who,
               "lines": admin_lists.lines(session), "has_logo": web.logo_path.is_file()}  # fmt: skip
    return templates.TemplateResponse(request, "admin/machines.html", context)


@router.post("/admin/machines/{code}/tags")
def add_tag(
    code: str,
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[str, Form(max_length=32)] = "analog",
    width: Annotated[str, Form(max_length=4)] = "",
    unit: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    machine = crud.get_by(session, Machine, code=code)
    body = validated(TagCreate, {"name": name.strip(), "role": role, "width": width, "unit": unit})
    crud.create(session, who.username, Tag.model_validate(body, update={"machine_id": machine.id}))
    return done("/admin/machines", N_("Tag added"))


@router.post("/admin/logo")
def upload_logo(
    web: SettingsDep, who: AdminUser, _origin: SameOrigin, file: Annotated[UploadFile, File()]
) -> Response:
    """The factory's logo on customer share pages."""
    store_logo(web, file, who.username)
    return done("/admin/machines", N_("Logo saved"))


def store_logo(web: Settings, file: UploadFile, actor: str) -> None:
    """Keep an uploaded logo as `{data_dir}/logo.png`: a PNG up to 1 MB, else a 422 page."""
    data = file.file.read(LOGO_MAX_BYTES + 1)
    try:
        if len(data) > LOGO_MAX_BYTES:
            raise NotTheType("too large")
        check_content(data, "image/png")
    except NotTheType as err:
        log.warning("logo upload refused: %s", err)
        raise FormInvalid(N_("The logo must be a PNG file of at most 1 MB.")) from err
    web.data_dir.mkdir(parents=True, exist_ok=True)
    web.logo_path.write_bytes(data)
    log.info("factory logo replaced by %s (%d bytes)", actor, len(data))


@router.get("/admin/reasons")
def reasons(request: Request, session: SessionDep, who: AdminUser) -> Response:
    rows = admin_lists.reason_codes(session)
    return templates.TemplateResponse(request, "admin/reasons.html", {"rows": rows, "who": who})


@router.post("/admin/reasons")
def create_reason(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    kind: Annotated[str, Form(max_length=16)],
    code: Annotated[str, Form(max_length=64)],
    label_zh: Annotated[str, Form(max_length=200)],
    label_en: Annotated[str, Form(max_length=200)],
) -> Response:
    body = validated(
        ReasonCodeCreate, {"kind": kind, "code": code.strip(), "label_zh": label_zh, "label_en": label_en}
    )
    crud.create(session, who.username, ReasonCode.model_validate(body))
    return done("/admin/reasons", N_("Reason code added"))


@router.post("/admin/reasons/{kind}/{code}")
def update_reason(
    kind: str,
    code: str,
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    label_zh: Annotated[str, Form(min_length=1, max_length=200)],
    label_en: Annotated[str, Form(min_length=1, max_length=200)],
    active: Annotated[str | None, Form(max_length=5)] = None,
) -> Response:
    """Change a reason code's labels, or take it out of use (the checkbox unticked); audit-logged."""
    reason = crud.get_by(session, ReasonCode, kind=kind, code=code)
    body = ReasonCodeUpdate(label_zh=label_zh.strip(), label_en=label_en.strip(), active=active == "on")
    crud.update(session, who.username, reason, body)
    return done("/admin/reasons", N_("Reason code saved"))


@router.get("/admin/plans")
def plans(request: Request, session: SessionDep, who: PlannerUser) -> Response:
    rows = admin_lists.plans(session)
    chars = {plan.id: quality.characteristics(session, plan.id or 0) for plan, _p in rows}
    products = admin_lists.products(session)
    context = {"rows": rows, "chars": chars, "products": products, "who": who}
    return templates.TemplateResponse(request, "admin/plans.html", context)


@router.post("/admin/plans")
def create_plan(
    session: SessionDep,
    who: PlannerUser,
    _origin: SameOrigin,
    product: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=200)],
    frequency: Annotated[str, Form(max_length=20)],
    characteristics: Annotated[str, Form(max_length=5000)],
    step_no: Annotated[str, Form(max_length=6)] = "",
    frequency_n: Annotated[str, Form(max_length=9)] = "",
) -> Response:
    prod = crud.get_by(session, Product, code=product)
    data: dict[str, object] = {"product_id": prod.id, "name": name, "frequency": frequency}
    data |= {"step_no": step_no, "frequency_n": frequency_n}
    data["characteristics"] = parse_characteristics(characteristics)
    quality.create_plan(session, who.username, validated(InspectionPlanCreate, data))
    return done("/admin/plans", N_("Inspection plan added"))


def parse_characteristics(text: str) -> list[dict[str, Any]]:
    """Lines `name lsl usl [unit]` (numeric) or `name ok` (pass/fail)."""
    chars: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) == 2 and parts[1].lower() == "ok":
            chars.append({"name": parts[0], "kind": "attribute"})
        elif len(parts) in (3, 4):
            chars.append({"name": parts[0], "kind": "numeric", "lsl": parts[1], "usl": parts[2],
                          "unit": parts[3] if len(parts) == 4 else None})  # fmt: skip
        else:
            raise FormInvalid(N_("characteristic line %(n)s: write 'name lsl usl [unit]' or 'name ok'"), n=n)
    return chars


@router.get("/admin/users")
def users(request: Request, session: SessionDep, who: AdminUser) -> Response:
    rows = admin_lists.users(session)
    return templates.TemplateResponse(request, "admin/users.html", {"rows": rows, "who": who})


@router.post("/admin/users")
def create_user(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=16)],
    password: Annotated[str, Form(max_length=200)] = "",
    badge: Annotated[str, Form(max_length=64)] = "",
    pin: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    body = validated(UserCreate, {"username": username.strip(), "display_name": display_name, "role": role,
                                  "password": password, "badge": badge, "pin": pin})  # fmt: skip
    accounts.create_user(session, who.username, body)
    return done("/admin/users", N_("User created"))


@router.post("/admin/users/edit")
def edit_user(
    session: SessionDep,
    who: AdminUser,
    _origin: SameOrigin,
    username: Annotated[str, Form(max_length=64)],
    display_name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=16)] = "",
    active: Annotated[str, Form(max_length=5)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    badge: Annotated[str, Form(max_length=64)] = "",
    pin: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Change what is filled in (a new password or PIN, a role, the name, the badge, active); empty: kept."""
    user = crud.get_by(session, User, username=username)
    body = validated(UserUpdate, {"display_name": display_name, "role": role, "active": active,
                                  "password": password, "badge": badge, "pin": pin})  # fmt: skip
    accounts.update_user(session, who.username, user, body)
    return done("/admin/users", N_("User updated"))


@router.get("/admin/tablets")
def tablets(request: Request, session: SessionDep, settings: SettingsDep, who: AdminUser) -> Response:
    rows = admin_lists.tablets(session)
    stations = admin_lists.stations(session)
    context = {
        "rows": rows,
        "stations": stations,
        "who": who,
        "time": sites.site_time(session, settings.site),
    }
    return templates.TemplateResponse(request, "admin/tablets.html", context)


@router.post("/admin/tablets")
def enroll_tablet(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    who: AdminUser,
    _origin: SameOrigin,
    station: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(max_length=100)],
) -> Response:
    st = crud.get_by(session, Station, code=station)
    new = accounts.enroll_tablet(session, who.username, st, name, settings.enroll_link_minutes)
    return _enrollment_page(request, settings, new.tablet, st, new.code)


@router.post("/admin/tablets/{tablet_id}/link")
def new_enrollment_link(
    tablet_id: int, request: Request, session: SessionDep, settings: SettingsDep, who: AdminUser,
    _origin: SameOrigin,
) -> Response:  # fmt: skip
    """A new one-time link for an enrolled tablet (a replaced or reset tablet): redeeming it rotates the
    device token, so the old browser's cookie stops working."""
    tablet = crud.get_by(session, Tablet, id=tablet_id)
    code = accounts.new_enrollment_link(session, who.username, tablet, settings.enroll_link_minutes)
    return _enrollment_page(request, settings, tablet, tokens.tablet_station(session, tablet), code)


def _enrollment_page(
    request: Request, settings: Settings, tablet: Tablet, st: Station, code: str
) -> Response:
    url = accounts.enroll_url(str(settings.public_url), code)
    context = {"tablet": tablet, "station": st, "url": url, "qr": qr_svg(url, scale=4).decode(),
               "minutes": settings.enroll_link_minutes}  # fmt: skip
    return templates.TemplateResponse(request, "admin/tablet_enrolled.html", context, status_code=201)


@router.post("/admin/tablets/{tablet_id}/revoke")
def revoke_tablet(tablet_id: int, session: SessionDep, who: AdminUser, _origin: SameOrigin) -> Response:
    tablet = crud.get_by(session, Tablet, id=tablet_id)
    tablet.revoked = True
    session.add(tablet)
    session.commit()
    log.info("tablet %s revoked by %s", tablet.name, who.username)
    return done("/admin/tablets", N_("Tablet revoked"))
