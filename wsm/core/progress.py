"""Progress: a live bar in a terminal, a few plain lines inside executed notebooks.

In a terminal, :func:`bar` is a tqdm bar. Where stderr is not a terminal (a papermill kernel, a
log file, CI) every refresh of a bar would become a line of the page, so there it prints a line
when a loop starts, at each quarter and when it ends, and inner loops (``leave=False``) stay silent.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


def interactive() -> bool:
    return getattr(sys.stderr, "isatty", lambda: False)()


class Milestones:
    """The few-lines stand-in for a tqdm bar: same ``update``/``close``/iteration/context API."""

    def __init__(self, iterable=None, total=None, initial=0, desc="", disable=False, leave=True, **_):
        self.iterable, self.n, self.desc = iterable, initial, desc
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.silent = disable or not leave
        self.t0, self.quarter, self.closed = time.time(), self._quarter(), False
        if not self.silent and self.total:
            todo = self.total - self.n
            self._say(f"{todo} to do" + (f", {self.n} already done" if self.n else ""))

    def _quarter(self) -> int:
        return 4 * self.n // self.total if self.total else 0

    def _say(self, text: str) -> None:
        print(f"{self.desc}: {text}", flush=True)

    def update(self, k: int = 1) -> None:
        self.n += k
        q = self._quarter()
        if not self.silent and q > self.quarter and self.n < (self.total or 0):
            self._say(f"{self.n}/{self.total} after {time.time() - self.t0:.0f} s")
        self.quarter = q

    def close(self) -> None:
        if not self.silent and not self.closed:
            self._say(f"{self.n}/{self.total} done in {time.time() - self.t0:.0f} s")
        self.closed = True

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bar(iterable=None, **kwargs):
    """A tqdm bar in a terminal, :class:`Milestones` elsewhere."""
    if interactive():
        kwargs.setdefault("mininterval", 1.0)
        return tqdm(iterable, **kwargs)
    return Milestones(iterable, **kwargs)
