"""Keep the gettext catalogs in step with the code: `python -m server.web.catalog [domain]`.

Extracts every `_("...")` / `gettext` / `ngettext` from the domain's templates and Python files (and
`tr(locale, "...")` in Python) and adds the missing msgids to `locale/{zh_CN,en}/LC_MESSAGES/{domain}.po`,
keeping existing translations. English .po files get msgstr = msgid; zh_CN entries stay empty until
translated (a test fails on any empty zh_CN entry). Domain `web` is everything in `server/web` except
the reports' files (domain `reports`). Domain `errors` holds the messages the domain modules raise
(`Conflict("work order %(number)s is %(status)s", ...)`, see server/core/errors.py) in `ERROR_MODULES`.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from server.core.i18n import LOCALE_DIR, LOCALES
from server.web.templates import TEMPLATE_DIR, WEB

KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2), "tr": (2,)}
ERROR_KEYWORDS = {
    name: None for name in ("NotFound", "Conflict", "InvalidInput", "Forbidden", "Locked", "Msgid")
}
SERVER = WEB.parent
# services whose raised messages are msgids with named parameters (translated on the pages)
ERROR_MODULES = (
    "api/downtime.py", "api/scorecard.py", "api/wages.py", "domain/alert_channels.py",
    "domain/alert_outbox.py",
    "domain/alert_rules.py", "domain/catalog.py", "domain/crud.py", "domain/idempotency.py",
    "domain/importexport.py", "domain/oee.py", "domain/operations.py", "domain/pay_periods.py",
    "domain/piece_rates.py", "domain/principals.py", "domain/quality.py", "domain/named_reports.py",
    "domain/reasons.py", "domain/sales_import.py", "domain/sales_orders.py", "domain/work_reports.py",
    "domain/signin.py", "domain/spc.py", "domain/station_scope.py", "domain/trace.py", "domain/wages.py",
    "domain/workorders.py", "domain/sparkplug_map.py",
    "domain/bom.py", "domain/bom_import.py", "domain/first_run.py", "domain/import_values.py",
    "web/admin_plant.py", "web/admin_shifts.py", "domain/user_import.py",
    "domain/machine_import.py", "domain/catalog_import.py",
    "domain/ledger.py", "domain/lot_files.py", "domain/stock.py",
)  # fmt: skip
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}


def domain_files(domain: str) -> list[Path]:
    """Source files of a domain: `reports` owns templates/reports/ and reports.py; `web` owns the rest."""
    if domain == "errors":
        return [SERVER / name for name in ERROR_MODULES]
    templates = sorted(p for p in TEMPLATE_DIR.rglob("*.html"))
    python = sorted(p for p in WEB.glob("*.py"))
    if domain == "reports":
        return [p for p in templates if "reports" in p.relative_to(TEMPLATE_DIR).parts] + [
            p for p in python if p.name == "reports.py"
        ]
    return [p for p in templates if "reports" not in p.relative_to(TEMPLATE_DIR).parts] + [
        p for p in python if p.name != "reports.py"
    ]


def extract(domain: str) -> Iterator[tuple[str | tuple[str, ...], str, int]]:
    """(msgid, file, line) for every translatable string of `domain`."""
    for path in domain_files(domain):
        method = "jinja2" if path.suffix == ".html" else "python"
        options = JINJA_OPTIONS if method == "jinja2" else {}
        keywords = ERROR_KEYWORDS if domain == "errors" else KEYWORDS
        base = SERVER if domain == "errors" else WEB
        for lineno, message, _comments, _context in extract_from_file(
            method, str(path), keywords=keywords, options=options
        ):
            yield message, str(path.relative_to(base)), lineno


def update(domain: str) -> dict[str, int]:
    """Add missing msgids to each locale's catalog; return how many were added per locale."""
    found = {msg: (src, line) for msg, src, line in extract(domain)}
    added: dict[str, int] = {}
    for locale in LOCALES:
        path = LOCALE_DIR / locale / "LC_MESSAGES" / f"{domain}.po"
        catalog = _read(path, locale, domain)
        count = 0
        for msg, (src, line) in found.items():
            key = msg if isinstance(msg, str) else msg[0]
            if key in catalog:
                continue
            string: str | tuple[str, ...] = "" if locale != "en" else msg
            if not isinstance(msg, str) and locale != "en":
                string = ("",)
            catalog.add(msg, string, locations=[(src, line)])
            count += 1
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=110, omit_header=False, sort_output=True)
        added[locale] = count
    return added


def _read(path: Path, locale: str, domain: str) -> Catalog:
    if path.exists():
        with path.open("rb") as handle:
            return read_po(handle, locale=locale, domain=domain)
    return Catalog(locale=locale, domain=domain, project="Takt", charset="utf-8")


DOMAINS = ("web", "reports", "errors")


def main(argv: list[str] | None = None) -> int:
    """`python -m server.web.catalog [DOMAIN ...]` (default: web)."""
    args = sys.argv[1:] if argv is None else argv
    unknown = [a for a in args if a not in DOMAINS]
    if unknown:
        sys.stderr.write(
            f"usage: python -m server.web.catalog [{' | '.join(DOMAINS)} ...]; not a domain: {unknown}\n"
        )
        return 2
    for domain in args or ["web"]:
        added = update(domain)
        sys.stdout.write(f"{domain}: added {added}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
