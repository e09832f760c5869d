"""A rate limit as configured: how many requests per how many seconds.

Written the way people and the ``limits`` library write them (``20/minute``, ``20 per minute``,
``100/hour``, ``5/30 seconds``), parsed by that library's parser rather than by a regular
expression of ours; ``0`` means no limit. Read once at start-up by the settings, so a malformed
value stops the process with a message naming the variable, instead of a limit silently off.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import parse_many


@dataclass(frozen=True)
class RateLimit:
    """At most ``amount`` requests in a window of ``seconds``."""

    amount: int
    seconds: int

    def __str__(self) -> str:
        return f"{self.amount}/{self.seconds}s"


#: What a value of ``variable`` may look like, for the error message.
EXAMPLES = "e.g. 20/minute, 100 per hour, 5/30 seconds, or 0 for no limit"


def parse_rate_limit(variable: str, text: str) -> RateLimit | None:
    """The limit ``text`` (the value of the environment ``variable``) states; ``None`` for ``0``.

    Raises:
      ValueError: ``text`` is not one rate of at least one request per window; the message names
        ``variable`` and says what is expected.
    """
    text = text.strip()
    if text == "0":
        return None
    try:
        items = parse_many(text)
    except ValueError:
        raise ValueError(f"{variable}={text!r} is not a rate limit ({EXAMPLES})") from None
    if len(items) != 1:
        raise ValueError(f"{variable}={text!r}: give one rate, not {len(items)} ({EXAMPLES})")
    item = items[0]
    if item.amount < 1:
        raise ValueError(f"{variable}={text!r}: at least 1 request per window; write 0 for no limit ({EXAMPLES})")
    return RateLimit(amount=item.amount, seconds=item.get_expiry())
