"""Ctrl-C in tests, whatever the test run inherited.

A background job of a non-interactive shell starts with SIGINT ignored, and
Python then leaves it ignored (and so do its child processes). Tests that send
SIGINT restore the interactive behaviour first: :func:`default_sigint` in the
test process; child processes run Python code that starts with
:data:`RESTORE` (:func:`module_command` for ``python -m``).
"""

import contextlib
import signal
import sys

RESTORE = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
"""Python source that makes SIGINT raise KeyboardInterrupt (prepend it to a child's ``-c`` code)."""


@contextlib.contextmanager
def default_sigint():
    """Within: SIGINT raises KeyboardInterrupt, as in an interactive Python."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def module_command(module: str) -> list[str]:
    """The command line of ``python -m module`` with SIGINT's default handling restored first."""
    return [sys.executable, "-c", RESTORE + f"import runpy; runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"]
