"""The two slow steps of tests/deploy: deploy/pi/install.sh into a temporary prefix, and the Dockerfile's
`pip install` run directly in a temporary venv. Both mostly wait on the package index, so conftest.py
starts them in background threads as soon as the first tests/deploy test runs, and the tests that need
them wait for the result (`Background.result()`), overlapping with the broker tests."""

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from tests.support.processes import ROOT

T = TypeVar("T")
PI_INSTALL = ROOT / "deploy" / "pi" / "install.sh"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# Byte-compiling ~70 packages is most of pip's CPU time and proves nothing here.
NO_COMPILE = "--no-compile"


class Background(Generic[T]):
    """`fn()` running in a thread; `result()` waits for it and returns its value or raises its error."""

    def __init__(self, fn: Callable[[], T]):
        self._fn = fn
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except BaseException as err:  # handed to the test that asks for the result
            self._error = err

    def result(self, timeout: float = 600) -> T:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("background install still running")
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def clean_env() -> dict[str, str]:
    """The environment without this checkout's venv or settings: what an installed tool would see."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TAKT_")}


@dataclass(frozen=True)
class PiInstall:
    root: Path
    env: dict[str, str]
    returncode: int
    output: str

    @property
    def venv(self) -> Path:
        return self.root / "opt" / "venv"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    def run(self, **extra: str) -> subprocess.CompletedProcess[str]:
        """install.sh again, with extra environment."""
        env = {**self.env, **extra}
        return subprocess.run(["bash", str(PI_INSTALL)], env=env, capture_output=True, text=True, check=False)


def run_pi_install(root: Path) -> PiInstall:
    env = {
        **clean_env(),
        "PREFIX": str(root / "opt"),
        "ETC_DIR": str(root / "etc"),
        "STATE_DIR": str(root / "state"),
        "SYSTEMD_DIR": str(root / "systemd"),
        "JOURNALD_DIR": str(root / "journald"),
        "CREATE_USER": "no",
        "SYSTEMCTL": "no",
        "PYTHON": sys.executable,
        "PIP_ARGS": NO_COMPILE,
    }
    if "EDGE_UNIT" in os.environ:
        env["EDGE_UNIT"] = os.environ["EDGE_UNIT"]
    done = subprocess.run(["bash", str(PI_INSTALL)], env=env, capture_output=True, text=True, check=False)
    return PiInstall(root, env, done.returncode, done.stdout + done.stderr)


@dataclass(frozen=True)
class DockerInstall:
    root: Path  # the image's file system, emulated
    venv: Path
    pip_runs: list[subprocess.CompletedProcess[str]]


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    text = path.read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _copy(sources: list[str], target: Path) -> None:
    for source in sources:
        src = ROOT / source
        if not src.exists():
            raise FileNotFoundError(f"Dockerfile: COPY {source}: not in the repository")
        if src.is_dir():
            shutil.copytree(src, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, target / src.name)


def _borrow_dependencies(venv: Path) -> None:
    """Let the temporary venv see this checkout's dev venv (which holds the [server] extra, installed from
    the index by `make venv`) after its own site-packages: pip then finds the dependencies satisfied
    instead of spending seconds per package on index lookups, and still builds and installs takt itself
    from the files the Dockerfile copies into the temporary venv. (A plain path in a .pth file: the dev
    venv's own .pth files, among them the editable install of this checkout, are not processed.)"""
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (Path(purelib) / "_takt_dev_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")


def run_dockerfile(root: Path) -> DockerInstall:
    """Replay WORKDIR and COPY into `root`, run every `pip install` RUN line with a fresh venv's pip.
    Other RUN lines (useradd) are not run: they change this machine, not the image."""
    image, venv = root / "image", root / "venv"
    # No pip of its own (ensurepip costs seconds): this checkout's pip installs into it with --python.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=clean_env())
    _borrow_dependencies(venv)
    pip = f"{sys.executable} -m pip --python {venv}/bin/python install -q {NO_COMPILE}"
    workdir, runs = Path("/"), []
    for word, rest in dockerfile_instructions():
        here = image / workdir.relative_to("/")
        if word == "WORKDIR":
            workdir = Path(rest)
            (image / workdir.relative_to("/")).mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = shlex.split(rest)
            _copy(sources, here / dest)
        elif word == "RUN" and "pip install" in rest:
            command = rest.replace("pip install", pip, 1)
            runs.append(
                subprocess.run(
                    command,
                    shell=True,
                    cwd=here,
                    env=clean_env(),
                    capture_output=True,
                    text=True,
                    check=False,
                )
            )
    return DockerInstall(image, venv, runs)
