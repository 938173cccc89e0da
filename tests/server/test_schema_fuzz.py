"""Fuzz every operation of the OpenAPI schema (API and pages) signed in as admin: no input gets a 5xx
(docs/reliability.md, case H7). Bounded and reproducible: a fixed number of examples per operation and
hypothesis derandomized (the same examples every run), on SQLite and PostgreSQL."""

from collections import Counter

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from tests.server.factory import ADMIN, build_plant, running_order

EXAMPLES = 4  # per operation and mode: ~140 operations
STREAMS = ("/live/events",)  # server-sent events: a response that never ends by design
HEADERS = ADMIN | {"Origin": f"http://{asgi.HOST}"}  # the pages' form posts need a same-site Origin


def _fuzz(operation: schemathesis.APIOperation, mode: GenerationMode, seen: Counter[int]) -> None:
    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=dict(case.headers or {}) | HEADERS)
        seen[response.status_code] += 1
        case.validate_response(response, checks=[not_a_server_error])

    run()


def test_no_input_gets_a_server_error(client: TestClient) -> None:
    plant = build_plant(client)  # rows for paths like /work-orders/{number} to hit
    running_order(plant, "WO-FUZZ", 10)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures, fuzzed, seen = [], 0, Counter[int]()
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in STREAMS:
            continue
        fuzzed += 1
        for mode in GenerationMode:  # valid inputs, and inputs that break the schema
            try:
                _fuzz(operation, mode, seen)
            except Unsatisfiable:  # no input can break this operation's schema (e.g. no parameters)
                continue
            except Exception as err:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {str(err)[:600]}")
    assert fuzzed > 100, fuzzed
    assert sum(n for code, n in seen.items() if code < 300) > fuzzed, seen  # the admin reaches the handlers
    assert not failures, "\n\n".join(failures)
