"""Small HTTP and TCP checks the demo uses to know a part is ready (stdlib only)."""

import json
import socket
import urllib.error
import urllib.request
from typing import Any


def get_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def status_of(url: str, timeout: float = 5.0) -> int:
    """The HTTP status of GET `url` without following redirects (0 when nothing answers)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def sim_ready(url: str) -> bool:
    return bool(get_json(f"{url}/healthz").get("ready"))


def server_ready(url: str) -> bool:
    return bool(get_json(f"{url}/healthz").get("ok"))
