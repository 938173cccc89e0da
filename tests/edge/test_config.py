"""Config loading: substitution, validation, clear errors (file, field, problem), CLI exit codes."""

from pathlib import Path

import pytest

from edge import config
from edge.cli import main
from edge.errors import ConfigError
from tests.edge.support import MINIMAL_CONFIG as MINIMAL

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "edge.yaml"
    path.write_text(text)
    return path


def test_demo_config_loads_with_defaults_and_env() -> None:
    cfg = config.load(
        ROOT / "deploy/edge/demo.yaml", env={"TAKT_MQTT_PORT": "1999", "TAKT_SIM_MODBUS_PORT": "6000"}
    )
    assert cfg.broker.port == 1999
    assert {d.name for d in cfg.devices} == {"cnc1", "cnc2", "press1", "pack1", "mold1", "mold2"}
    assert {d.port for d in cfg.devices if d.protocol == "modbus_tcp"} == {6000}
    mold = next(d for d in cfg.devices if d.name == "mold1")
    assert mold.endpoint == "opc.tcp://127.0.0.1:4840"
    cnc2 = next(d for d in cfg.devices if d.name == "cnc2")
    assert cnc2.word_order == "little" and cnc2.unit_id == 2


def test_env_substitution(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, MINIMAL), env={"MQTT_PORT": "2883"})
    assert cfg.broker.port == 2883
    assert config.load(write(tmp_path, MINIMAL), env={}).broker.port == 1883


def test_missing_variable_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("${MQTT_PORT:-1883}", "${NOPE}"))
    with pytest.raises(ConfigError) as err:
        config.load(path, env={})
    assert str(path) in str(err.value) and "line 4" in str(err.value) and "NOPE" in str(err.value)


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ("type: uint16, role", "type: uint17, role", "devices[0].tags[0].type", "unknown type"),
        ("address: 0,", "address: 70000,", "devices[0].tags[0].address", "0..65535"),
        ("table: holding", "table: registers", "devices[0].tags[0].table", "Invalid enum value"),
        ("host: 127.0.0.1\n    machine", "machine", "devices[0].host", "required"),
        ("width: 16}", "width: 16, deadband: 2}", "devices[0].tags[0].deadband", "no deadband"),
        ("protocol: modbus_tcp", "protocol: profinet", "devices[0].protocol", "Invalid enum value"),
        ("edge_id: e1", "edge_id: E 1", "edge_id", "matching regex"),
        ("width: 16}", "width: 16, colour: red}", "devices[0].tags[0]", "unknown field"),
    ],
)
@pytest.mark.faults
def test_bad_configs_name_field_and_problem(
    tmp_path: Path, old: str, new: str, field: str, problem: str
) -> None:
    assert old in MINIMAL
    path = write(tmp_path, MINIMAL.replace(old, new, 1))
    with pytest.raises(ConfigError) as err:
        config.load(path, env={})
    assert err.value.file == str(path)
    assert err.value.field.startswith(field), err.value
    assert problem.lower() in err.value.problem.lower(), err.value


def test_duplicate_tag_and_bad_yaml(tmp_path: Path) -> None:
    tag = "      - {name: good_count, table: holding, address: 0, type: uint16, role: counter, width: 16}\n"
    with pytest.raises(ConfigError, match=r"tags\[1\]\.name: cnc1/good_count already defined"):
        config.load(write(tmp_path, MINIMAL + tag), env={})
    with pytest.raises(ConfigError, match="line 3: invalid YAML"):
        config.load(write(tmp_path, "site: a\nedge_id: b\n  - : ["), env={})


def test_opcua_device_checks(tmp_path: Path) -> None:
    text = MINIMAL.replace("protocol: modbus_tcp", "protocol: opcua\n    endpoint: http://x")
    with pytest.raises(ConfigError, match=r"devices\[0\]\.endpoint"):
        config.load(write(tmp_path, text), env={})
    text = text.replace(
        "http://x", "opc.tcp://h:4840\n    security_policy: Basic256Sha256\n    security_mode: Sign"
    )
    with pytest.raises(ConfigError, match="certificate and private_key"):
        config.load(write(tmp_path, text), env={})


@pytest.mark.faults
def test_cli_exit_2_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, MINIMAL.replace("type: uint16, role", "type: int128, role"))
    assert main(["--config", str(path)]) == 2
    assert main(["check", "--config", str(path)]) == 2
    assert "devices[0].tags[0].type: unknown type 'int128'" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


SECURE = MINIMAL.replace(
    "protocol: modbus_tcp\n    host: 127.0.0.1",
    "protocol: opcua\n    endpoint: opc.tcp://h:4840\n    security_policy: Basic256Sha256\n"
    "    security_mode: SignAndEncrypt\n    certificate: c.der\n    private_key: k.pem",
).replace("table: holding, address: 0", 'address: "ns=2;s=count"')


def device_line(text: str, line: str) -> str:
    """`line` added to the (first) device, after its machine."""
    return text.replace("    machine: cnc1\n", f"    machine: cnc1\n    {line}\n", 1)


@pytest.mark.parametrize(
    ("server_trust", "field", "problem"),
    [
        ("", "devices[0].server_certificate", "server_certificate (pinned) or trust (CA list and CRLs)"),
        ("server_certificate: {pki}/server.der\n    trust: {{certificates: [{pki}/ca.der]}}",
         "devices[0].trust", "not both"),
        ("trust: {{certificates: [{pki}/ca.der, {pki}/gone.der]}}", "devices[0].trust.certificates[1]",
         "gone.der: no such file or folder"),
        ("trust: {{certificates: [{pki}], crls: [{pki}/gone.crl]}}", "devices[0].trust.crls[0]",
         "gone.crl: no such file or folder"),
        ("trust: {{certificates: []}}", "devices[0].trust.certificates", "length >= 1"),
        ("trust: {{crls: [{pki}/ca.crl]}}", "devices[0].trust", "missing required field `certificates`"),
        ("trust: {{certificates: [{pki}], ocsp: true}}", "devices[0].trust", "unknown field `ocsp`"),
    ],
)  # fmt: skip
@pytest.mark.faults
def test_opcua_security_needs_exactly_one_of_pinned_certificate_or_trust(
    tmp_path: Path, server_trust: str, field: str, problem: str
) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    for name in ("server.der", "ca.der", "ca.crl"):
        (pki / name).write_bytes(b"not parsed by the config check")
    path = write(tmp_path, device_line(SECURE, server_trust.format(pki=pki)))
    with pytest.raises(ConfigError) as err:
        config.load(path, env={})
    assert err.value.file == str(path)
    assert err.value.field == field, err.value
    assert problem in err.value.problem, err.value


def test_opcua_trust_block_and_pinned_certificate_both_load(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "ca.der").write_bytes(b"x")
    (pki / "ca.crl").write_bytes(b"x")
    trust = f"trust: {{certificates: [{pki}/ca.der, {pki}], crls: [{pki}/ca.crl]}}"
    cfg = config.load(write(tmp_path, device_line(SECURE, trust)))
    device = cfg.devices[0]
    assert device.trust is not None and device.server_certificate is None
    assert device.trust.certificates == [f"{pki}/ca.der", str(pki)] and device.trust.crls == [f"{pki}/ca.crl"]
    pinned = device_line(SECURE, "server_certificate: s.der")
    assert config.load(write(tmp_path, pinned)).devices[0].trust is None  # unchanged: not checked on disk
    plain = SECURE.replace("security_policy: Basic256Sha256", "security_policy: None").replace(
        "security_mode: SignAndEncrypt", "security_mode: None"
    )
    with pytest.raises(ConfigError, match=r"devices\[0\]\.trust: only applies with a security policy"):
        config.load(write(tmp_path, device_line(plain, trust)))
