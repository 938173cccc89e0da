"""The fault proxy fixture (tests/support/faultproxy.py) with a plain echo server and with mosquitto + paho.

Time is only ever used as a lower bound the proxy guarantees (a delayed chunk cannot arrive early; a
blackholed byte never arrives), never as an upper bound a slow machine could miss.
"""

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.faultproxy import FaultProxy
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_until


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:
            pass


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(echo_port: int) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo_port) as proxy:
        yield proxy


def connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
    sock.settimeout(10)
    return sock


def echo(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    got = b""
    while len(got) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


def _read(sock: socket.socket, count: int) -> bytes:
    got = b""
    while len(got) < count and (chunk := sock.recv(count - len(got))):
        got += chunk
    return got


def closed_by_peer(sock: socket.socket) -> bool:
    """True when the peer closed (FIN) or reset (RST) the connection."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_forwards_both_ways_and_counts(proxy: FaultProxy) -> None:
    payload = bytes(range(256)) * 1000
    with connect(proxy) as sock:
        assert echo(sock, payload) == payload
        stats = proxy.stats
    assert (stats.bytes_up, stats.bytes_down) == (len(payload), len(payload))
    assert stats.connections == 1
    assert stats.active == 1


def test_cut_closes_connections_and_refuses_until_restore(proxy: FaultProxy) -> None:
    sock = connect(proxy)
    assert echo(sock, b"before") == b"before"
    proxy.cut()
    assert closed_by_peer(sock)
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    assert proxy.stats.active == 0
    proxy.restore()
    with connect(proxy) as sock:
        assert echo(sock, b"after") == b"after"


def test_delay_holds_each_chunk_at_least_that_long_and_keeps_order(proxy: FaultProxy) -> None:
    proxy.delay(300)
    with connect(proxy) as sock:
        start = time.monotonic()
        assert echo(sock, b"slow") == b"slow"
        assert time.monotonic() - start >= 0.6  # 300 ms up, 300 ms back: a lower bound, never early
        for part in (b"one", b"two", b"three"):
            sock.sendall(part)
            time.sleep(0.01)  # separate chunks, each with its own due time
        assert _read(sock, 11) == b"onetwothree"
    proxy.restore()
    with connect(proxy) as sock:
        assert echo(sock, b"fast again") == b"fast again"


def test_drop_blackholes_bytes_then_closes_the_broken_connections(proxy: FaultProxy) -> None:
    sock = connect(proxy)
    assert echo(sock, b"alive") == b"alive"
    proxy.drop(True)
    late = connect(proxy)  # a half-dead link still accepts connections
    for s in (sock, late):
        s.sendall(b"into the void")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(100)  # nothing can ever come back: the bytes were discarded
    wait_until(lambda: proxy.stats.dropped_bytes == 2 * len(b"into the void"))
    proxy.drop(False)
    for s in (sock, late):
        s.settimeout(10)
        assert closed_by_peer(s)  # their byte streams lost data, so the proxy closed them
        s.close()
    with connect(proxy) as fresh:
        assert echo(fresh, b"fresh") == b"fresh"


def test_reset_sends_rst_and_keeps_accepting(proxy: FaultProxy) -> None:
    sock = connect(proxy)
    assert echo(sock, b"x") == b"x"
    proxy.reset()
    with pytest.raises(ConnectionResetError):
        sock.recv(1)
    sock.close()
    with connect(proxy) as again:
        assert echo(again, b"y") == b"y"
    assert proxy.stats.connections == 2


def test_target_down_counts_refused(echo_port: int) -> None:
    from tests.support.ports import free_port

    with FaultProxy("127.0.0.1", free_port()) as proxy, connect(proxy) as sock:
        assert closed_by_peer(sock)
        assert proxy.stats.refused == 1
        assert proxy.stats.active == 0


def test_paho_client_reconnects_through_cut_and_reset(mosquitto: Mosquitto) -> None:
    with FaultProxy("127.0.0.1", mosquitto.port) as proxy:
        connects: list[int] = []
        received: list[bytes] = []
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="proxied", clean_session=False)
        client.reconnect_delay_set(min_delay=1, max_delay=1)

        def on_connect(c: mqtt.Client, _u: object, _f: object, reason: object, _p: object) -> None:
            connects.append(1)
            c.subscribe("probe/#", qos=1)

        client.on_connect = on_connect
        client.on_message = lambda _c, _u, msg: received.append(bytes(msg.payload))
        client.connect("127.0.0.1", proxy.port, keepalive=5)
        client.loop_start()
        try:
            wait_until(lambda: len(connects) == 1 and proxy.stats.active == 1)
            proxy.cut()
            wait_until(lambda: not client.is_connected())
            proxy.restore()
            wait_until(lambda: len(connects) == 2)
            proxy.reset()
            wait_until(lambda: len(connects) == 3)
            info = client.publish("probe/x", b"through the proxy", qos=1)
            info.wait_for_publish(timeout=10)
            wait_until(lambda: b"through the proxy" in received)
            assert proxy.stats.connections >= 3
        finally:
            client.disconnect()
            client.loop_stop()


def test_paho_keepalive_notices_a_half_dead_link_and_recovers(mosquitto: Mosquitto) -> None:
    with FaultProxy("127.0.0.1", mosquitto.port) as proxy:
        connects: list[int] = []
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="half-dead", clean_session=False)
        client.reconnect_delay_set(min_delay=1, max_delay=1)
        client.on_connect = lambda *_args: connects.append(1)
        client.connect("127.0.0.1", proxy.port, keepalive=1)
        client.loop_start()
        try:
            wait_until(lambda: len(connects) == 1)
            proxy.drop(True)  # no RST, no FIN: only the missing PINGRESP tells the client
            wait_until(lambda: not client.is_connected())
            assert proxy.stats.dropped_bytes > 0  # its PINGREQ went into the void
            proxy.drop(False)
            wait_until(lambda: len(connects) == 2)
            client.publish("probe/y", b"alive again", qos=1).wait_for_publish(timeout=10)
        finally:
            client.disconnect()
            client.loop_stop()
