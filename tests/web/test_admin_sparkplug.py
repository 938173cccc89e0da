"""/admin/sparkplug over HTTP against the live server (its Sparkplug host on the private mosquitto): a device
born on the broker is listed with its metrics, aliases and types in en and zh; mapping it to a machine in one
form makes its counter count from the next message."""

import time
from collections.abc import Iterator

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func
from sqlmodel import Session, select

from server.models.ingest import CountEvent
from server.models.plant import Machine, Tag
from shared.sparkplug.payload import DataType, Payload
from tests.server.factory import add_user
from tests.support.waiting import wait_until
from tests.web.conftest import LiveServer

BASE = "spBv1.0/plant"


@pytest.fixture(scope="module")
def admin(live: LiveServer) -> Iterator[httpx.Client]:
    add_user(live.plant, "admin", "admin-spb")
    form = {"username": "admin-spb", "password": live.plant.passwords["admin-spb"]}
    with httpx.Client(base_url=live.base, headers={"Origin": live.base, "Accept-Language": "en"}) as client:
        assert client.post("/login", data=form).headers["location"] == "/admin"
        yield client


def publish(live: LiveServer, messages: list[tuple[str, Payload]]) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", live.broker.port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload.SerializeToString(), qos=1).wait_for_publish(5)
    client.disconnect()
    client.loop_stop()


def counted(live: LiveServer, code: str) -> int:
    with Session(live.engine) as session:
        machine = session.exec(select(Machine).where(Machine.code == code)).one()
        total = session.exec(
            select(func.sum(CountEvent.good)).where(CountEvent.machine_id == machine.id)
        ).one()
        return int(total or 0)


def test_a_born_device_is_listed_and_mapped_in_one_form(live: LiveServer, admin: httpx.Client) -> None:
    now = int(time.time() * 1000)
    nbirth = Payload(timestamp=now, seq=0)
    nbirth.metrics.add(name="bdSeq", datatype=DataType.UInt64, long_value=0)
    dbirth = Payload(timestamp=now, seq=1)
    dbirth.metrics.add(name="Counters/Good", alias=1, datatype=DataType.UInt32, int_value=10)
    dbirth.metrics.add(name="Oven/Temp", alias=2, datatype=DataType.Double, double_value=180.5)
    publish(live, [(f"{BASE}/NBIRTH/gw7", nbirth), (f"{BASE}/DBIRTH/gw7/lathe-2", dbirth)])

    page = wait_until(
        lambda: (p := admin.get("/admin/sparkplug")).status_code == 200 and "Counters/Good" in p.text and p
    )
    assert 'data-device="gw7/lathe-2"' in page.text and "UInt32" in page.text and "Double" in page.text
    zh = admin.get("/admin/sparkplug", headers={"Accept-Language": "zh-CN"}).text
    assert "Sparkplug B 设备" in zh and "映射到此机台" in zh

    metrics = {"metric": ["Counters/Good", "Oven/Temp"], "role": ["counter", ""], "width": ["32", ""]}
    form = {"edge_id": "spb-plant-gw7", "device": "lathe-2", "machine": "lathe-2", **metrics}
    mapped = admin.post("/admin/sparkplug/map", data=form)
    assert mapped.status_code == 303 and "Device+mapped" in mapped.headers["location"].replace("%20", "+")
    with Session(live.engine) as session:
        machine = session.exec(select(Machine).where(Machine.code == "lathe-2")).one()
        tags = {
            t.name: (t.role, t.width) for t in session.exec(select(Tag).where(Tag.machine_id == machine.id))
        }
    assert machine.edge_id == "spb-plant-gw7" and tags["Counters/Good"] == ("counter", 32)
    assert "Oven/Temp" not in tags  # no role: left out

    data = []
    for seq, good in ((2, 10), (3, 13), (4, 17)):  # the first is the baseline after the mapping
        payload = Payload(timestamp=now + seq * 100, seq=seq)
        payload.metrics.add(alias=1, int_value=good)
        data.append((f"{BASE}/DDATA/gw7/lathe-2", payload))
    publish(live, data)
    wait_until(lambda: counted(live, "lathe-2") == 7, what="the mapped counter counted")

    refused = admin.post("/admin/sparkplug/map", data=form | {"role": ["bogus", ""]})
    assert refused.status_code == 422


def test_a_gateway_device_named_otherwise_feeds_the_machine_chosen(
    live: LiveServer, admin: httpx.Client
) -> None:
    """Gateways name devices their own way (Kepware's channel.device): the admin picks the machine."""
    now = int(time.time() * 1000)
    nbirth = Payload(timestamp=now, seq=0)
    nbirth.metrics.add(name="bdSeq", datatype=DataType.UInt64, long_value=0)
    dbirth = Payload(timestamp=now, seq=1)
    dbirth.metrics.add(name="Count", alias=5, datatype=DataType.UInt32, long_value=100)
    device = "Channel1.Packer"
    publish(live, [(f"{BASE}/NBIRTH/kep1", nbirth), (f"{BASE}/DBIRTH/kep1/{device}", dbirth)])
    page = wait_until(
        lambda: (p := admin.get("/admin/sparkplug")).status_code == 200 and device in p.text and p
    )
    assert f'data-device="kep1/{device}"' in page.text
    form = {"edge_id": "spb-plant-kep1", "device": device, "machine": "pack-1", "metric": ["Count"],
            "role": ["counter"], "width": ["32"]}  # fmt: skip
    assert admin.post("/admin/sparkplug/map", data=form).status_code == 303
    page = admin.get("/admin/sparkplug").text
    section = page[page.index(f'data-device="kep1/{device}"') :]
    assert '<option value="pack-1" selected>' in section[: section.index("</section>")]
    data = []
    for seq, good in ((2, 100), (3, 104), (4, 109)):
        payload = Payload(timestamp=now + seq * 100, seq=seq)
        payload.metrics.add(alias=5, long_value=good)
        data.append((f"{BASE}/DDATA/kep1/{device}", payload))
    publish(live, data)
    wait_until(lambda: counted(live, "pack-1") == 9, what="the gateway's device counted on pack-1")
    taken = admin.post("/admin/sparkplug/map", data=form | {"device": "Channel1.Other"})
    assert taken.status_code == 422 and f"already fed by device spb-plant-kep1/{device}" in taken.text
