"""Ctrl-C in tests, whatever the test run inherited.

A background job of a non-interactive shell starts with SIGINT ignored, and
Python then leaves it ignored (and so do its child processes). Tests that send
SIGINT restore the interactive behaviour first: :func:`default_sigint` in the
test process, :func:`restore_sigint` as ``preexec_fn`` of a child process.
"""

import contextlib
import signal


@contextlib.contextmanager
def default_sigint():
    """Within: SIGINT raises KeyboardInterrupt, as in an interactive Python."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def restore_sigint():
    """``preexec_fn`` for subprocess.Popen: the child starts with SIGINT at its default action."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
