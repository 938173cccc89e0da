"""The rule engine on each engine: 20 machines stopping together give one grouped message (even those whose
stop has not yet reached the rule's minutes), one "resolved" when they run again; quiet hours hold a
message until they end; an episode still open after the escalation time goes once to the boss's channel;
users routed by role get it at their own address unless they turned it off."""

from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from server.domain import alert_engine
from server.domain.alert_conditions import Context
from server.models.alerts import AlertChannel, AlertContact, AlertMessage, AlertPreference, AlertRule
from server.models.auth import User
from server.models.ingest import MachineStateSegment
from server.models.plant import Machine, Site

T0 = int(datetime(2026, 3, 2, 10, 0, tzinfo=UTC).timestamp() * 1000)  # 18:00 in Shanghai
MIN = 60_000


def _plant(session: Session, machines: int) -> tuple[Site, list[Machine]]:
    site = Site(code="s1", name="Plant", timezone="Asia/Shanghai")
    session.add(site)
    session.flush()
    found = [Machine(site_id=site.id or 0, code=f"M{i:02d}", name=f"M{i:02d}") for i in range(machines)]
    session.add_all(found)
    session.flush()
    return site, found


def _channel(session: Session, name: str, kind: str = "webhook") -> AlertChannel:
    channel = AlertChannel(name=name, kind=kind, lang="en", secret_box="", settings={})
    session.add(channel)
    session.flush()
    return channel


def _fault(session: Session, machines: list[Machine], start: int) -> None:
    session.add_all(
        MachineStateSegment(machine_id=m.id or 0, state="fault", start_ms=start) for m in machines
    )


def _messages(session: Session) -> list[AlertMessage]:
    return list(session.exec(select(AlertMessage).order_by(col(AlertMessage.id))).all())


def test_twenty_machines_one_grouped_message_then_one_resolved(engine: Engine) -> None:
    with Session(engine) as session:
        site, machines = _plant(session, 20)
        hook = _channel(session, "hook")
        session.add(AlertRule(name="down", kind="machine_down", threshold=5, channel_ids=[hook.id]))
        _fault(session, machines[:12], T0)
        _fault(session, machines[12:], T0 + 20_000)  # their stops reached the server 20 s later
        session.commit()
        ctx = lambda now: Context(site, now, "http://takt")  # noqa: E731
        assert alert_engine.evaluate(session, ctx(T0 + 4 * MIN)).messages == 0  # not 5 minutes yet
        outcome = alert_engine.evaluate(session, ctx(T0 + 5 * MIN))
        assert (outcome.opened, outcome.messages) == (20, 1)
        [message] = _messages(session)
        assert message.title == "Machine down: 20 items" and message.body.count("\n") == 19
        assert "[M07](http://takt/boss/machines/M07)" in message.body
        assert alert_engine.evaluate(session, ctx(T0 + 6 * MIN)).messages == 0  # one message per episode
        for segment in session.exec(select(MachineStateSegment)).all():
            segment.end_ms = T0 + 7 * MIN
            session.add(segment)
        session.commit()
        outcome = alert_engine.evaluate(session, ctx(T0 + 8 * MIN))
        assert (outcome.resolved, outcome.messages) == (20, 1)
        assert _messages(session)[-1].title == "Resolved: Machine down: 20 items"


def test_quiet_hours_escalation_and_users(engine: Engine) -> None:
    with Session(engine) as session:
        site, machines = _plant(session, 1)
        group, boss, mail = (
            _channel(session, "group"),
            _channel(session, "boss"),
            _channel(session, "mail", "email"),
        )
        rule = AlertRule(
            name="down",
            kind="machine_down",
            threshold=1,
            channel_ids=[group.id],
            roles=["supervisor"],
            quiet_from="17:30",
            quiet_to="07:00",
            escalate_after_min=30,
            escalate_channel_ids=[boss.id],
        )
        session.add(rule)
        lead, quiet = (
            User(username="lead", display_name="Lead", role="supervisor"),
            User(username="quiet", display_name="Quiet", role="supervisor"),
        )
        session.add_all([lead, quiet])
        session.flush()
        session.add_all(
            [
                AlertContact(user_id=lead.id or 0, email="lead@f.example", lang="zh_CN"),
                AlertContact(user_id=quiet.id or 0, email="quiet@f.example"),
                AlertPreference(
                    user_id=quiet.id or 0, rule_id=rule.id or 0, channel_id=mail.id or 0, enabled=False
                ),
            ]
        )
        _fault(session, machines, T0)
        session.commit()
        alert_engine.evaluate(session, Context(site, T0 + 2 * MIN, "http://takt"))
        opened = _messages(session)
        next_7am = int(datetime(2026, 3, 2, 23, 0, tzinfo=UTC).timestamp() * 1000)  # 07:00 Shanghai
        assert [(m.channel_id, m.to_address) for m in opened] == [
            (group.id, None),
            (mail.id, "lead@f.example"),
        ]
        assert all(m.not_before_ms == next_7am for m in opened)  # 18:02 local: held until quiet hours end
        assert opened[1].title == "机台停机：M00"  # the user's own language
        assert (
            alert_engine.evaluate(session, Context(site, T0 + 31 * MIN, "http://takt")).escalated == 0
        )  # opened at +2
        assert alert_engine.evaluate(session, Context(site, T0 + 32 * MIN, "http://takt")).escalated == 1
        assert alert_engine.evaluate(session, Context(site, T0 + 40 * MIN, "http://takt")).escalated == 0
        escalated = [m for m in _messages(session) if m.purpose == "escalated"]
        assert [(m.channel_id, m.title) for m in escalated] == [(boss.id, "Still open: Machine down: M00")]
