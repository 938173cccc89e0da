"""deploy/compose.yaml and deploy/Dockerfile, checked without a Docker engine (none runs on these machines).

What is proven: the compose file's structure (services, profiles, volumes), that every local file it
mounts exists, that the server's TAKT_* variables are real server settings and validate, that every
${VAR} it needs is in .env.example, that Grafana's provisioned data sources point at compose services;
and that the Dockerfile's COPY sources exist and its `pip install '.[server]'` step succeeds when run
directly in a temporary venv from the copied files (the dependencies are borrowed from the dev venv, see
tests/deploy/installs.py), after which `takt server migrate` builds a database with the installed package.
What is not: pulling the images, building the image, resolving the dependencies from scratch inside it,
containers talking to each other.
"""

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.core.settings import Settings
from tests.deploy.conftest import SlowInstalls
from tests.deploy.installs import clean_env, dockerfile_instructions
from tests.support.processes import ROOT

DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
VAR_REF = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")
CREATED_BY_ADD_EDGE = "../var/mosquitto"  # made by deploy/mosquitto/add-edge.sh, see the compose header


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} with `env` (missing required: an error)."""

    def one(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(0)[len(match.group(1)) + 2 : -1]
        if name in env:
            return env[name]
        if rest.startswith((":-", "-")):
            return rest.split("-", 1)[1]
        raise KeyError(f"{name} is required")

    return VAR_REF.sub(one, value)


def env_example() -> dict[str, str]:
    lines = (DEPLOY / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_services_and_profiles(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"mosquitto", "postgres", "influxdb", "takt-server", "grafana"}
    assert services["grafana"]["profiles"] == ["grafana"]  # optional
    assert all("profiles" not in s for name, s in services.items() if name != "grafana")
    assert services["takt-server"]["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
    assert services["takt-server"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_every_mount_exists_and_every_volume_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                if source == CREATED_BY_ADD_EDGE:
                    continue
                assert (DEPLOY / source).exists(), f"{name}: {source} does not exist"
            else:
                used.add(source)
    assert used == declared
    assert (ROOT / "var") in (DEPLOY / CREATED_BY_ADD_EDGE).resolve().parents  # git-ignored var/


def test_mosquitto_service_runs_the_shipped_config(compose: dict[str, Any]) -> None:
    service = compose["services"]["mosquitto"]
    mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
    assert mounts["/etc/mosquitto/mosquitto.conf"] == "./mosquitto/mosquitto.conf"
    assert mounts["/etc/mosquitto/takt/acl"] == "./mosquitto/acl"
    conf = (DEPLOY / "mosquitto" / "mosquitto.conf").read_text()
    for path in re.findall(r"^(?:password_file|acl_file|persistence_location|include_dir) (\S+)", conf, re.M):
        assert any(path.startswith(target) for target in mounts), f"{path} is not mounted"
    assert "-c /etc/mosquitto/mosquitto.conf" in service["command"][0]


def test_server_environment_is_valid_server_settings(compose: dict[str, Any], monkeypatch: Any) -> None:
    service_names = set(compose["services"])
    raw: dict[str, str] = compose["services"]["takt-server"]["environment"]
    env = {key: interpolate(str(value), env_example()) for key, value in raw.items()}
    fields = set(Settings.model_fields)
    for key in env:
        assert key.startswith("TAKT_") and key[5:].lower() in fields, f"{key} is not a server setting"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings.check_secrets()  # .env.example's placeholder is long enough not to be a known default
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert re.search(r"@([a-z-]+):5432/", settings.database_url).group(1) in service_names  # type: ignore[union-attr]
    assert settings.mqtt_host in service_names
    assert settings.mqtt_username == "takt-server"  # the ACL's server user
    assert settings.mqtt_shared is True
    assert settings.historian == "influxdb"
    assert settings.historian_url == "http://influxdb:8086"


def test_every_variable_is_in_env_example(compose: dict[str, Any]) -> None:
    needed = set(VAR_REF.findall(COMPOSE.read_text())) - {
        "POSTGRES_USER",
        "POSTGRES_DB",
    }  # $${...}: container's
    needed |= set(
        VAR_REF.findall((DEPLOY / "grafana" / "provisioning" / "datasources" / "takt.yaml").read_text())
    )
    missing = needed - set(env_example())
    assert not missing, f"add to deploy/.env.example: {sorted(missing)}"
    with pytest.raises(KeyError):
        interpolate("${TAKT_SECRET_KEY:?x}", {})  # required variables are really required


def test_grafana_datasources_point_at_compose_services(compose: dict[str, Any]) -> None:
    provisioning = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "takt.yaml").read_text()
    )
    grafana_env = compose["services"]["grafana"]["environment"]
    by_type = {ds["type"]: ds for ds in provisioning["datasources"]}
    assert by_type["influxdb"]["url"] == "http://influxdb:8086"
    assert by_type["influxdb"]["jsonData"]["version"] == "Flux"
    assert by_type["grafana-postgresql-datasource"]["url"].split(":")[0] in compose["services"]
    text = yaml.safe_dump(provisioning)
    for name in VAR_REF.findall(text):
        assert name in grafana_env, f"grafana's environment lacks {name}"


# --- the Dockerfile, run directly -----------------------------------------------------------------


def test_dockerfile_pip_install_works_in_a_temporary_venv(
    slow_installs: SlowInstalls, tmp_path: Path
) -> None:
    done = slow_installs.start_docker().result()  # started in the background by conftest.py
    assert len(done.pip_runs) == 1
    assert done.pip_runs[0].returncode == 0, done.pip_runs[0].stderr
    db = tmp_path / "takt.db"
    migrate = subprocess.run(
        [str(done.venv / "bin" / "takt"), "server", "migrate"],
        cwd=tmp_path,
        env={**clean_env(), "TAKT_DATABASE_URL": f"sqlite:///{db}", "TAKT_DEMO_MODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr  # migrations shipped in the package
    assert db.stat().st_size > 0
    code = "import server.main, edge.config; print(server.main.__file__)"
    where = subprocess.run(
        [str(done.venv / "bin" / "python"), "-c", code],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert str(done.venv) in where.stdout, where.stderr  # the installed package, not the checkout


def test_dockerfile_copies_only_what_exists() -> None:
    copies = [rest for word, rest in dockerfile_instructions() if word == "COPY"]
    assert copies, "the Dockerfile copies nothing"
    for rest in copies:
        for source in shlex.split(rest)[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
