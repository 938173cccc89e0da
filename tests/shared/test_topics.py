import pytest

from shared import topics
from shared.errors import TopicError


def test_build_and_parse_round_trip() -> None:
    for build, kind in [
        (topics.data, "data"),
        (topics.status, "status"),
        (topics.ack, "ack"),
        (topics.result, "result"),
    ]:
        parsed = topics.parse(build("dg-1", "line_a"))
        assert (parsed.site, parsed.edge_id, parsed.kind, parsed.name) == ("dg-1", "line_a", kind, None)
    parsed = topics.parse(topics.cmd("dg-1", "line_a", "write"))
    assert (parsed.kind, parsed.name) == ("cmd", "write")


def test_filters() -> None:
    assert topics.server_filter("data") == "takt/v1/+/+/data"
    assert topics.server_filter("data", shared=True) == "$share/takt/takt/v1/+/+/data"
    assert topics.cmd_filter("s", "e") == "takt/v1/s/e/cmd/+"


@pytest.mark.parametrize(
    "site,edge", [("Site", "e"), ("s", "e/1"), ("s", ""), ("s", "+"), ("s", "#"), ("s", "a" * 65)]
)
def test_bad_ids_rejected(site: str, edge: str) -> None:
    with pytest.raises(TopicError):
        topics.data(site, edge)


@pytest.mark.parametrize(
    "topic",
    ["takt/v2/s/e/data", "other/v1/s/e/data", "takt/v1/s/e", "takt/v1/s/e/nope", "takt/v1/s/e/cmd",
     "takt/v1/s/e/data/extra", "takt/v1/S/e/data", "takt/v1/s/e/cmd/a/b"],
)  # fmt: skip
def test_foreign_topics_rejected(topic: str) -> None:
    with pytest.raises(TopicError):
        topics.parse(topic)
