"""When to send a request again, and after how long."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

from ica_airflow_provider.core.messages import Outcome, Request, Response
from ica_airflow_provider.core.schedule import JITTER
from ica_airflow_provider.core.transient import is_transient_outcome


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter; ``Retry-After`` honoured on 429 and 503.

    ``max_retries`` counts the retries after the first attempt.
    """

    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    rng: random.Random = field(default=JITTER, compare=False, repr=False)  # the one jitter generator
    now: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def delay(self, request: Request, outcome: Outcome, attempt: int) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or ``None``: do not retry.

        ``attempt`` is 0 after the first failed attempt.
        """
        if attempt >= self.max_retries or not self._should_retry(request, outcome):
            return None
        if isinstance(outcome, Response) and outcome.status in (429, 503):
            told = self.retry_after(outcome)
            if told is not None:
                return told
        return self.backoff(attempt)

    def backoff(self, attempt: int) -> float:
        """Equal jitter: half the capped exponential step, plus up to the other half."""
        step = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return step / 2 + self.rng.uniform(0, step / 2)

    def retry_after(self, response: Response) -> float | None:
        """The ``Retry-After`` header (seconds or an HTTP date), capped; ``None`` if absent."""
        value = response.headers.get("retry-after", "").strip()
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - self.now()
            except (TypeError, ValueError):
                return None
        if not math.isfinite(seconds):
            return None
        return min(max(seconds, 0.0), self.retry_after_max)

    @staticmethod
    def _should_retry(request: Request, outcome: Outcome) -> bool:
        if not request.retryable:
            return False
        if is_transient_outcome(outcome):
            return True
        # 409 on a keyed batch POST: the first call is still in flight; wait it out.
        return isinstance(outcome, Response) and outcome.status == 409 and "Idempotency-Key" in request.headers
