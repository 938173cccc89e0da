"""Reason codes as people see them: names in the reader's language, checks that a code is usable, and the
downtime reasons a tablet offers first for one stop of one machine.

Which reasons come first (`likely_downtime`): what operators chose on this machine in the last
`HISTORY_DAYS` days for stops that began in the same state (a fault, starved, ...), then what fits the state
by its meaning (`STATE_HINTS`, for a new machine without history), then what was chosen on this machine at
all, then the rest by code. A guess for the order of buttons only: the operator still picks one.
"""

from collections import Counter

from sqlmodel import Session, col, select

from server.core.errors import InvalidInput
from server.models.catalog import ReasonCode
from server.models.ingest import MachineStateSegment
from server.models.production import DowntimeEvent

HISTORY_DAYS = 30
HISTORY_LIMIT = 500  # the newest classified stops looked at
# reason codes that fit a machine state by their meaning (the demo's and a new site's defaults)
STATE_HINTS: dict[str, tuple[str, ...]] = {
    "fault": ("machine_fault", "tool_change"),
    "starved": ("no_material",),
    "blocked": ("no_material",),
    "setup": ("changeover", "tool_change"),
    "idle": ("no_operator", "break", "no_material"),
    "off": ("break", "no_operator"),
}


def names(session: Session, kind: str, locale: str) -> list[tuple[str, str]]:
    """Active reasons of `kind` as (code, name in `locale`), by code."""
    stmt = (
        select(ReasonCode)
        .where(ReasonCode.kind == kind, col(ReasonCode.active))
        .order_by(col(ReasonCode.code))
    )
    return [(r.code, r.label_zh if locale == "zh_CN" else r.label_en) for r in session.exec(stmt).all()]


def check_downtime_reason(session: Session, code: str) -> None:
    """InvalidInput unless `code` is an active downtime reason (a stop's or a pause's)."""
    stmt = select(ReasonCode).where(
        ReasonCode.kind == "downtime", ReasonCode.code == code, col(ReasonCode.active)
    )
    if session.exec(stmt).first() is None:
        raise InvalidInput("%(code)r is not an active downtime reason code", code=code)


def state_at(session: Session, machine_id: int, ts_ms: int) -> str | None:
    """The machine's state at `ts_ms` (the segment that began at or before it)."""
    stmt = (
        select(MachineStateSegment.state)
        .where(MachineStateSegment.machine_id == machine_id, MachineStateSegment.start_ms <= ts_ms)
        .order_by(col(MachineStateSegment.start_ms).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def _history(session: Session, machine_id: int, now_ms: int) -> list[tuple[str, str | None]]:
    """(reason, state at its start) of the machine's recent classified stops, newest first."""
    since = now_ms - HISTORY_DAYS * 86_400_000
    stmt = (
        select(DowntimeEvent.reason_code, MachineStateSegment.state)
        .join(
            MachineStateSegment,
            (col(MachineStateSegment.machine_id) == col(DowntimeEvent.machine_id))
            & (col(MachineStateSegment.start_ms) == col(DowntimeEvent.start_ms)),
            isouter=True,
        )
        .where(
            DowntimeEvent.machine_id == machine_id,
            col(DowntimeEvent.reason_code).is_not(None),
            DowntimeEvent.start_ms >= since,
        )
        .order_by(col(DowntimeEvent.start_ms).desc())
        .limit(HISTORY_LIMIT)
    )
    return [(reason, state) for reason, state in session.exec(stmt).all() if reason is not None]


def likely_downtime(session: Session, machine_id: int, state: str | None, now_ms: int) -> list[str]:
    """Every active downtime reason code, the likeliest for a stop in `state` on this machine first."""
    codes = [code for code, _name in names(session, "downtime", "en")]
    history = _history(session, machine_id, now_ms)
    same_state = Counter(reason for reason, was in history if state is not None and was == state)
    on_machine = Counter(reason for reason, _was in history)
    hints = STATE_HINTS.get(state or "", ())

    def rank(code: str) -> tuple[int, int, int, str]:
        hint = len(hints) - hints.index(code) if code in hints else 0
        return -same_state[code], -hint, -on_machine[code], code

    return sorted(codes, key=rank)
