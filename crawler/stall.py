"""The stall watch: a crawl whose requests only fail on this machine (no file descriptors, memory,
disk) cannot make progress, and stops (resumable) instead of spinning. The engine shows it every
step the pipeline returns; local failures are :class:`~crawler.core.step.Again` with reason
``LOCAL``, so nothing else has to report them."""

from __future__ import annotations

import time

from crawler.core.errors import StalledError
from crawler.core.step import Again, Reason, Step

STALL_FAILURES = 100  # local failures in a row, with no URL finished or site heard in between...
STALL_SECONDS = 30.0  # ...for this long: the crawl cannot make progress and stops


class StallWatch:
    """Counts local failures in a row, and since when."""

    def __init__(self) -> None:
        self.streak = 0
        self.since = 0.0
        self.reason = ""

    def saw(self, step: Step) -> None:
        """A local failure lengthens the streak. A wait that sent nothing (no proxy yet, the crawl
        stopping) says nothing either way; anything else finished a URL or heard from a site."""
        if isinstance(step, Again) and step.reason is Reason.LOCAL:
            if not self.streak:
                self.since = time.monotonic()
            self.streak += 1
            self.reason = step.detail
        elif not (isinstance(step, Again) and step.reason in (Reason.NO_PROXY, Reason.STOPPED)):
            self.streak = 0

    @property
    def stalled(self) -> bool:
        return self.streak >= STALL_FAILURES and time.monotonic() - self.since >= STALL_SECONDS

    def error(self) -> StalledError:
        return StalledError(
            f"cannot make progress: {self.streak} requests in a row failed for lack of resources on "
            f"this machine ({self.reason}); lower --concurrency or raise the limit (ulimit -n, memory, "
            "disk); stopped; run the same command again to resume"
        )
