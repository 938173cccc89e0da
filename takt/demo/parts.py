"""Which parts of Takt exist in this tree, so the demo runs what exists and names what is missing."""

import importlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

from takt.demo.options import EDGE_CONFIG, PLANT


@dataclass
class Part:
    name: str
    ok: bool
    detail: str


@dataclass
class Parts:
    items: dict[str, Part] = field(default_factory=dict)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.items[name] = Part(name, ok, detail)

    def ok(self, name: str) -> bool:
        part = self.items.get(name)
        return part is not None and part.ok

    def missing(self) -> list[Part]:
        return [p for p in self.items.values() if not p.ok]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:  # the parent package is missing or broken
        return False


def _has_attr(module: str, attr: str) -> bool:
    if not _has(module):
        return False
    try:
        return hasattr(importlib.import_module(module), attr)
    except Exception:  # a module that does not import (a broken install)
        return False


def _file(path: Path) -> str:
    return "" if path.is_file() else f" ({path} missing)"


def detect() -> Parts:
    parts = Parts()
    sim = _has("simulators.cli") and PLANT.is_file()
    parts.add("simulator", sim, "takt sim, demo plant" + _file(PLANT))
    edge = _has("edge.cli") and _has("edge.agent") and EDGE_CONFIG.is_file()
    parts.add("edge", edge, "takt edge, deploy/edge/demo.yaml" + _file(EDGE_CONFIG))
    parts.add("server", _has("server.cli") and _has("server.main"), "takt server")
    parts.add("ingest", _has_attr("server.ingest", "Ingestor"), "server.ingest: MQTT -> counts")
    parts.add("seed", _has("server.seed"), "server.seed: demo data")
    parts.add("segno", _has("segno"), "segno: QR code in the terminal")
    return parts
