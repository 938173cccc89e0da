"""The `takt` command. Each subcommand imports its component lazily, so `takt edge` runs with only the
[edge] extra installed."""

import importlib
import sys

COMMANDS = {
    "sim": ("simulators.cli", "run the plant simulator (OPC UA + Modbus servers)"),
    "edge": ("edge.cli", "run, check or browse an edge agent"),
    "server": ("server.cli", "run the Takt server"),
    "demo": ("takt.demo", "run the whole demo factory on this machine"),
}


def usage() -> str:
    lines = ["usage: takt COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<8}{help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in {"-h", "--help"}:
        print(usage())
        return 0
    if args[0] in {"-V", "--version"}:
        from takt import __version__

        print(f"takt {__version__}")
        return 0
    entry = COMMANDS.get(args[0])
    if entry is None:
        print(f"takt: unknown command {args[0]!r}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(entry[0])
    except ImportError as err:
        print(f"takt {args[0]}: missing dependency ({err}); install the matching extra", file=sys.stderr)
        return 2
    result: int = module.main(args[1:])
    return result


if __name__ == "__main__":
    sys.exit(main())
