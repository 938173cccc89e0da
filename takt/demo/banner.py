"""What `takt demo` prints once everything runs: parts, URLs, tablet enrollment links, the customer's share
link with its QR code, and the demo logins."""

import importlib
import io
import unicodedata
from dataclasses import dataclass, field
from typing import TextIO

# Demo logins (server/seed.py creates them): (who, how to sign in, where)
LOGINS = [
    ("admin", "admin / takt-admin", "/admin"),
    ("boss (陈总)", "boss / takt-boss", "/boss"),
    ("operator 王芳", "badge 1001, PIN 1234", "a station tablet"),
    ("operator 李强", "badge 1002, PIN 5678", "a station tablet"),
    ("inspector 赵敏", "zhaomin / takt-qc-1 (badge 2001, PIN 2468)", "/boss, a station tablet"),
]


@dataclass
class Banner:
    base_url: str
    broker: str
    running: list[str]
    missing: list[str]
    notes: list[str]
    stations: dict[str, str] = field(default_factory=dict)  # code -> enrollment URL
    share_url: str | None = None
    shared_order: str | None = None
    data_dir: str = "var"
    server_running: bool = True


def enroll_url(base: str, station: str, token: str) -> str:
    """The one-time link that enrolls a tablet for `station` (works once, for 12 hours from the demo's start;
    it sets the device cookie)."""
    return f"{base}/station/enroll?token={token}"  # server/web/station.py: sets the device cookie


def pad(text: str, width: int) -> str:
    """`text` padded to `width` terminal columns (CJK characters take two)."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - cols, 1)


def qr_text(url: str) -> str:
    """The QR code of `url` drawn with block characters (segno), or '' without segno."""
    try:
        segno = importlib.import_module("segno")
    except ImportError:
        return ""
    out = io.StringIO()
    segno.make(url, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def render(b: Banner) -> str:
    lines = ["", "=" * 78, "  Takt demo factory is running   (Ctrl-C stops everything)", "=" * 78]
    lines.append(f"  running: {', '.join(b.running)}")
    lines.append(f"  MQTT broker: {b.broker}")
    for note in b.notes:
        lines.append(f"  note: {note}")
    for item in b.missing:
        lines.append(f"  MISSING: {item}")
    if not b.server_running:
        lines += ["", "  No server: no pages to open (see MISSING above).", "=" * 78, ""]
        return "\n".join(lines)
    lines += ["", f"  Boss view (phone):   {b.base_url}/boss", f"  Admin:               {b.base_url}/admin"]
    lines.append(f"  API docs:            {b.base_url}/docs")
    if b.base_url.startswith(("http://127.", "http://localhost")):
        lines.append("  (only this computer can open these; for phones on the LAN: takt demo --host 0.0.0.0)")
    if b.stations:
        lines += [
            "",
            "  Station tablets (open the enrollment link once on each tablet, then the station page):",
        ]
        for code, url in b.stations.items():
            lines.append(f"    {code:<7} {b.base_url}/station/{code}")
            lines.append(f"            enroll: {url}")
    if b.share_url:
        lines += ["", f"  Customer share link for {b.shared_order} (send it, or let them scan the QR code):"]
        lines.append(f"    {b.share_url}")
        lines.append(qr_text(b.share_url))
    lines += ["", "  Demo logins (demo passwords: never use them in a real factory):"]
    lines += [f"    {pad(who, 16)} {pad(how, 44)} {where}" for who, how, where in LOGINS]
    lines += ["", f"  State and logs: {b.data_dir}   (takt demo --reset starts over)", "=" * 78, ""]
    return "\n".join(lines)


def show(b: Banner, out: TextIO) -> None:
    out.write(render(b))
    out.flush()
