"""`python -m takt.demo.launch PARENT_PID CMD...`: exec CMD as a process that gets SIGTERM when the demo
dies, even by SIGKILL (Linux `prctl(PR_SET_PDEATHSIG)`, kept across exec), so a killed demo leaves no
children behind. Elsewhere CMD simply runs; the demo's own shutdown still stops it."""

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m takt.demo.launch PARENT_PID CMD [ARGS...]", file=sys.stderr)
        return 2
    parent = int(argv[0])
    with contextlib.suppress(OSError, AttributeError):  # no prctl on this system: just run CMD
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the demo died before prctl took effect
        return 1
    os.execvp(argv[1], argv[1:])
    return 1  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
