"""docs/server.md's settings table is the one `server.core.settings_doc` generates from `Settings`."""

from server.core import settings_doc
from server.core.settings import Settings


def test_every_setting_has_a_meaning() -> None:
    assert set(settings_doc.MEANINGS) == set(Settings.model_fields)


def test_doc_table_matches_the_settings_class() -> None:
    doc = settings_doc.DOC.read_text(encoding="utf-8")
    assert settings_doc.rendered(doc) == doc, "run `python -m server.core.settings_doc`, commit the doc"
    for name in Settings.model_fields:
        assert f"| `TAKT_{name.upper()}` |" in doc


def test_a_new_setting_shows_as_drift() -> None:
    doc = settings_doc.DOC.read_text(encoding="utf-8")
    stale = doc.replace("| `TAKT_MQTT_PORT` | `1883` |", "| `TAKT_MQTT_PORT` | `1884` |")
    assert stale != doc and settings_doc.rendered(stale) == doc
