"""Progress bars that do not flood logs.

On a terminal a bar redraws in place. When output is redirected (CI logs,
``make main > log``) a bar would write thousands of carriage-return updates,
so it is replaced by at most one plain line per ``LOG_INTERVAL_S`` seconds
and one when it closes.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from typing import Any

LOG_INTERVAL_S = 30.0


class _LogLines:
    """A tqdm-like counter printing a line now and then instead of redrawing."""

    def __init__(self, total: int | None, desc: str, stream: Any) -> None:
        self.total, self.desc, self.stream = total, desc, stream
        self.n, self.start, self.last = 0, time.perf_counter(), time.perf_counter()
        self.postfix = ""
        self.closed = False

    def update(self, k: int = 1) -> None:
        self.n += k
        now = time.perf_counter()
        if now - self.last >= LOG_INTERVAL_S:
            self.last = now
            self._line()

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def set_postfix(self, **kwargs: Any) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in kwargs.items())

    def _line(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        extra = f" ({self.postfix})" if self.postfix else ""
        print(f"{self.desc}: {self.n}{of} in {time.perf_counter() - self.start:.0f} s{extra}",
              file=self.stream, flush=True)

    def close(self) -> None:
        """Print the final line once (closing again, as tqdm allows, prints nothing)."""
        if not self.closed:
            self.closed = True
            self._line()


def make_bar(total: int | None, desc: str, enabled: bool = True, unit: str = "it") -> Any:
    """A bar (tqdm on a terminal, occasional log lines otherwise) or None when disabled."""
    if not enabled:
        return None
    stream = sys.stderr
    if not stream.isatty():
        return _LogLines(total, desc, stream)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False)


@contextlib.contextmanager
def progress_bar(total: int | None, desc: str, enabled: bool = True, unit: str = "it") -> Iterator[Any]:
    """Context manager around :func:`make_bar`; yields None when disabled."""
    bar = make_bar(total, desc, enabled, unit)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()
