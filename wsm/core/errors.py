"""One exception type for every user-facing mistake.

A :class:`WsmError` carries a message that says what is wrong, where, and what to do.
Notebooks and the command line show it as one line instead of a traceback.
"""


class WsmError(Exception):
    """Bad input or a missing resource, with a message that names the fix."""
