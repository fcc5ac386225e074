"""What goes wrong while loading the configuration, collected rather than raised one by one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the configuration: the key, what is wrong, where the value came from.

    ``str()`` gives the one line an operator sees, e.g.
    ``POLL_INTERVAL_SECONDS: "ten" is not a number (environment HREC_POLL_INTERVAL_SECONDS)``.
    Messages never quote a secret.
    """

    key: str
    message: str
    source: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message} ({self.source})"


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds every problem found, in order.

    ``str()`` is one line per problem, so that a command can print it as it is
    and exit with status 2.
    """

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(problem) for problem in self.problems)
