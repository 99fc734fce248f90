"""Progress bars: live in a terminal, compact inside executed notebooks.

In a terminal the bar refreshes every second. Where stderr is not a terminal (a papermill
kernel, a log file, CI) each refresh becomes a line of the output, so the bar then reports at
most once every 30 seconds: a ten-minute zoo leaves about twenty lines in the book, not thousands.
"""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(iterable=None, **kwargs) -> tqdm:
    interactive = getattr(sys.stderr, "isatty", lambda: False)()
    kwargs.setdefault("mininterval", 1.0 if interactive else 30.0)
    kwargs.setdefault("dynamic_ncols", interactive)
    if not interactive:
        kwargs.setdefault("ncols", 90)
    return tqdm(iterable, **kwargs)
