"""A named lease in the database: one replica at a time runs the alert evaluator. `hold` locks the lease row
first in the caller's transaction (SQLite: the write lock; PostgreSQL: `FOR UPDATE`), so two replicas'
evaluations never overlap, and takes or renews the lease when it is free, expired or already ours."""

from sqlmodel import Session

from server.core.db import lock_for_write
from server.models.alerts import AlertLease


def hold(session: Session, name: str, owner: str, now: int, lease_ms: int) -> bool:
    """True when `owner` holds the lease until now + lease_ms (the caller commits); False: someone else."""
    lock_for_write(session)
    lease = session.get(AlertLease, name, with_for_update=True)
    if lease is None:
        session.add(AlertLease(name=name, owner=owner, until_ms=now + lease_ms))
        session.flush()  # a replica inserting at the same moment fails here: it is not the holder
        return True
    if lease.owner != owner and lease.until_ms >= now:
        return False
    lease.owner, lease.until_ms = owner, now + lease_ms
    session.add(lease)
    return True
