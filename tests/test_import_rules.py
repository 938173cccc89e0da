"""The package rules of docs/architecture.md ("Which package may import which"), checked over the source's
imports with `ast`: each broken rule is reported as file:line. Imports under `if TYPE_CHECKING:` don't
count (they are annotations only, nothing is imported at run time)."""

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("shared", "edge", "simulators", "server")
BELOW_SERVER = (
    "server.domain", "server.api", "server.web", "server.ingest", "server.historian", "server.notify",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rule:
    package: str  # a folder, e.g. "server/api"
    forbidden: tuple[str, ...]  # module prefixes it must not import
    why: str
    allowed: tuple[str, ...] = ()  # exceptions within `forbidden`


RULES = (
    Rule("shared", ("edge", "server", "simulators", "takt", "bench"), "the wire contract depends on no part"),
    Rule("edge", ("server", "simulators", "takt", "bench"), "the edge agent runs alone on a gateway"),
    Rule("simulators", ("server", "edge", "takt", "bench"), "the simulators are machines, not Takt"),
    Rule("server", ("edge", "simulators", "takt", "bench"), "only the edge config parser is shared",
         allowed=("edge.config", "edge.errors")),
    Rule("server/core", BELOW_SERVER, "core is below every other server package"),
    Rule("server/models", BELOW_SERVER, "tables know no rules, routes or ingestion"),
    Rule("server/historian", ("server.domain", "server.api", "server.web", "server.ingest"),
         "the historian stores series for whoever asks"),
    Rule("server/domain", ("server.api", "server.web", "server.ingest", "server.notify"),
         "the rules know no callers"),
    Rule("server/notify", ("server.api", "server.web", "server.ingest"), "alerts leave through the outbox"),
    Rule("server/ingest", ("server.api", "server.web"), "ingestion knows no HTTP routes or pages"),
    Rule("server/api", ("server.web",), "the API and the pages are two thin callers of the domain"),
)  # fmt: skip
QUERY_NAMES = frozenset({"select", "text", "update", "delete", "insert"})
SESSION_CALLS = frozenset({"exec", "execute", "get", "scalar", "scalars"})
SESSION_NAMES = frozenset({"tx", "db", "conn", "connection"})  # besides any name containing "session"
SQL_MODULES = ("sqlmodel", "sqlalchemy")


def _by_place(found: list[str]) -> list[str]:
    """file:line: text, sorted by file, then line as a number."""
    return sorted(set(found), key=lambda f: (f.split(":")[0], int(f.split(":")[1]), f))


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _module_of(path: Path, root: Path) -> list[str]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


def imports(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, name imported) for each run-time import of a file: `from a import b` gives a.b (b may be a
    module or a name in a); `importlib.import_module("a.b")` with a literal name counts too."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = _module_of(path, root)[: None if path.name == "__init__.py" else -1]
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def sources(root: Path, folders: tuple[str, ...]) -> Iterator[Path]:
    for folder in folders:
        yield from sorted((root / folder).rglob("*.py"))


def import_violations(root: Path, rules: tuple[Rule, ...] = RULES) -> list[str]:
    found = []
    for path in sources(root, CHECKED):
        rel = path.relative_to(root).as_posix()
        applying = [r for r in rules if rel.startswith(r.package + "/")]
        if not applying:
            continue
        for line, name in imports(path, root):
            for rule in applying:
                if _within(name, rule.forbidden) and not _within(name, rule.allowed):
                    found.append(f"{rel}:{line}: imports {name}: {rule.package}/ must not ({rule.why})")
    return _by_place(found)


def _is_session(node: ast.expr) -> bool:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "session" in name.lower() or name in SESSION_NAMES


def query_violations(root: Path, folder: str = "server/web") -> list[str]:
    """Pages render: a query (select/text/... from sqlmodel or sqlalchemy, or session.exec/get/execute)
    belongs in server/domain."""
    found = []
    for path in sources(root, (folder,)):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        sql_aliases: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and _within(node.module, SQL_MODULES):
                for alias in node.names:
                    if alias.name in QUERY_NAMES:
                        found.append(f"{rel}:{node.lineno}: imports {alias.name} from {node.module}")
            elif isinstance(node, ast.Import):
                sql_aliases |= {
                    (a.asname or a.name).split(".")[0] for a in node.names if _within(a.name, SQL_MODULES)
                }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver, attr = node.func.value, node.func.attr
            on_session = attr in SESSION_CALLS and _is_session(receiver)
            on_sql = attr in QUERY_NAMES and isinstance(receiver, ast.Name) and receiver.id in sql_aliases
            if on_session or on_sql:
                found.append(f"{rel}:{node.lineno}: runs {ast.unparse(node.func)}()")
    return _by_place(found)


def test_packages_import_only_what_docs_architecture_allows() -> None:
    found = import_violations(ROOT)
    assert not found, "package rules broken (docs/architecture.md):\n" + "\n".join(found)


def test_pages_run_no_queries() -> None:
    found = query_violations(ROOT)
    assert not found, "queries in server/web/ (they belong in server/domain/):\n" + "\n".join(found)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_rules_catch_violations(tmp_path: Path) -> None:
    _write(tmp_path, {
        "shared/topics.py": "import edge.agent\n",
        "edge/agent.py": "import json\nfrom server.core import db\n",
        "edge/sources/modbus.py": "from simulators.plant import Plant\nfrom shared import topics\n",
        "simulators/plant.py": "from importlib import import_module\nimport_module('server.main')\n",
        "server/domain/edge_import.py": "from edge.config import load\nfrom edge.errors import ConfigError\n",
        "server/domain/oee.py": "from server.web import pages\nfrom ..ingest import apply\n",
        "server/core/services.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from server.web.cache import TtlCache\n"
            "from server.domain import counting\n"
        ),
        "server/core/__init__.py": "from . import settings\n",
        "server/ingest/apply.py": "from server.domain import counting\nfrom server.api.deps import require\n",
        "server/historian/sql.py": "import edge.codec\n",
    })  # fmt: skip
    found = import_violations(tmp_path)
    assert [f.split(": ")[0] + " " + f.split(": ")[1] for f in found] == [
        "edge/agent.py:2 imports server.core.db",
        "edge/sources/modbus.py:1 imports simulators.plant.Plant",
        "server/core/services.py:4 imports server.domain.counting",
        "server/domain/oee.py:1 imports server.web.pages",
        "server/domain/oee.py:2 imports server.ingest.apply",
        "server/historian/sql.py:1 imports edge.codec",
        "server/ingest/apply.py:2 imports server.api.deps.require",
        "shared/topics.py:1 imports edge.agent",
        "simulators/plant.py:2 imports server.main",
    ]
    assert import_violations(tmp_path, (Rule("server/api", ("server.web",), "thin"),)) == []
    _write(tmp_path, {"server/api/sharelinks.py": "\n\nfrom server.web.share import forget\n"})
    assert import_violations(tmp_path, (Rule("server/api", ("server.web",), "thin"),)) == [
        "server/api/sharelinks.py:3: imports server.web.share.forget: server/api/ must not (thin)",
    ]


def test_the_query_rule_catches_queries(tmp_path: Path) -> None:
    _write(tmp_path, {
        "server/web/boss.py": (
            "import sqlalchemy as sa\n"
            "from sqlmodel import Session, col, select\n"
            "from sqlalchemy.sql import text\n"
            "def tiles(session: Session, request, tx, ops):\n"
            "    request.query_params.get('lang')\n"
            "    ops.get(1)\n"
            "    session.exec(select(Machine))\n"
            "    tx.get(Machine, 1)\n"
            "    request.state.session.execute(sa.select(Machine))\n"
            "    session.add(Machine())\n"
        ),
        "server/web/share.py": "from sqlmodel import Session\n",
        "server/domain/boss_view.py": "from sqlmodel import select\nsession.exec(select(Machine))\n",
    })  # fmt: skip
    assert query_violations(tmp_path) == [
        "server/web/boss.py:2: imports select from sqlmodel",
        "server/web/boss.py:3: imports text from sqlalchemy.sql",
        "server/web/boss.py:7: runs session.exec()",
        "server/web/boss.py:8: runs tx.get()",
        "server/web/boss.py:9: runs request.state.session.execute()",
        "server/web/boss.py:9: runs sa.select()",
    ]
