"""Sparkplug B topic names: `spBv1.0/{group}/{type}/{edge_node}[/{device}]` and `spBv1.0/STATE/{host}`."""

from dataclasses import dataclass
from enum import StrEnum

NAMESPACE = "spBv1.0"


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    NDATA = "NDATA"
    NCMD = "NCMD"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    DDATA = "DDATA"
    DCMD = "DCMD"


DEVICE_TYPES = frozenset({MessageType.DBIRTH, MessageType.DDEATH, MessageType.DDATA, MessageType.DCMD})


class TopicError(ValueError):
    """Not a Sparkplug B topic (the reason says why)."""


@dataclass(frozen=True, slots=True)
class Topic:
    group: str
    type: MessageType
    node: str
    device: str | None = None

    def __str__(self) -> str:
        tail = f"/{self.device}" if self.device is not None else ""
        return f"{NAMESPACE}/{self.group}/{self.type}/{self.node}{tail}"


def parse(topic: str) -> Topic:
    parts = topic.split("/")
    if len(parts) not in (4, 5) or parts[0] != NAMESPACE:
        raise TopicError(f"not a Sparkplug B topic: {topic[:200]!r}")
    try:
        kind = MessageType(parts[2])
    except ValueError:
        raise TopicError(f"unknown Sparkplug message type {parts[2][:20]!r}") from None
    device = parts[4] if len(parts) == 5 else None
    if (kind in DEVICE_TYPES) != (device is not None):
        raise TopicError(f"{kind} {'needs' if device is None else 'takes no'} device id: {topic[:200]!r}")
    if not all(parts[1:]):
        raise TopicError(f"empty id in {topic[:200]!r}")
    return Topic(parts[1], kind, parts[3], device)


def node_topic(group: str, kind: MessageType, node: str) -> str:
    return str(Topic(group, kind, node))


def state_topic(host_id: str) -> str:
    return f"{NAMESPACE}/STATE/{host_id}"
