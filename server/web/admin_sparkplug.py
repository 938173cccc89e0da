"""`/admin/sparkplug`: the Sparkplug B edge nodes, devices and metrics this server's host has seen born, and
mapping a device to a machine in one form (a role per metric) through the domain (docs/sparkplug.md)."""

from itertools import groupby
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Form, Request, Response

from server.core.db import SessionDep
from server.core.i18n import N_
from server.core.services import ServicesDep, SettingsDep
from server.domain import sparkplug_map
from server.web.auth import AdminUser, SameOrigin
from server.web.forms import done
from server.web.routing import PageRoute
from server.web.templates import templates

if TYPE_CHECKING:
    from server.ingest.sparkplug_session import Discovered

router = APIRouter(route_class=PageRoute)
PAGE = "/admin/sparkplug"


@router.get(PAGE)
def sparkplug_page(
    request: Request, session: SessionDep, services: ServicesDep, settings: SettingsDep, who: AdminUser
) -> Response:
    host = services.ingestor.sparkplug if services.ingestor is not None else None
    found = host.discovered() if host is not None else []
    devices: list[dict[str, Any]] = []
    for (group, node, device), metrics in groupby(found, key=lambda d: (d.group, d.node, d.device)):
        rows = list(metrics)
        shown = [_metric(d) for d in rows]
        edge_id = host.edge_id_of(group, node) if host is not None else ""
        devices.append({"group": group, "node": node, "device": device, "online": rows[0].online,
                        "edge_id": edge_id, "metrics": shown})  # fmt: skip
    machines = sparkplug_map.machine_codes(session, settings.site)
    mapped = sparkplug_map.mapped_machines(session)
    for d in devices:  # preselected: its mapping, else the machine with its id as code
        same_code = d["device"] if d["device"] in machines else ""
        d["machine"] = mapped.get((d["edge_id"], d["device"])) or same_code
    context = {"on": host is not None, "groups": settings.sparkplug_groups, "devices": devices,
               "machines": machines, "roles": sparkplug_map.ROLES, "who": who}  # fmt: skip
    return templates.TemplateResponse(request, "admin/sparkplug.html", context)


def _metric(found: "Discovered") -> dict[str, Any]:
    metric = found.metric
    kind, width = sparkplug_map.type_name(metric.datatype), sparkplug_map.width_of(metric.datatype)
    return {"name": metric.name, "alias": metric.alias, "type": kind, "width": width}


@router.post(PAGE + "/map")
def map_device(
    session: SessionDep,
    services: ServicesDep,
    settings: SettingsDep,
    who: AdminUser,
    _origin: SameOrigin,
    edge_id: Annotated[str, Form(max_length=64)],
    device: Annotated[str, Form(max_length=200)],
    machine: Annotated[str, Form(max_length=64)],
    metric: Annotated[list[str], Form()],
    role: Annotated[list[str], Form()],
    width: Annotated[list[str], Form()],
) -> Response:
    roles = dict(zip(metric, role, strict=False))
    widths = {name: int(w) if w.isdigit() else None for name, w in zip(metric, width, strict=False)}
    sparkplug_map.map_device(session, who.username, settings.site, edge_id, device, machine, roles, widths)
    session.commit()
    if services.ingestor is not None:
        services.ingestor.registry.invalidate()  # the machine's new edge and tags count from the next message
    return done(PAGE, N_("Device mapped"))
