"""The question ``fleet apply`` and ``fleet rollback`` ask on a terminal before the first PUT.

Asked only when both standard input and standard output are terminals (a person is there to answer and to read the
dry-run summary shown before it), never in CI or a pipe; ``--yes`` skips it, a dry run has nothing to confirm.
Anything but ``y`` or ``yes`` (an empty line, end of input) is no.
"""

from __future__ import annotations

from typing import IO

__all__ = ["ask", "should_confirm"]


def should_confirm(*, yes: bool, dry_run: bool, stdin_tty: bool, stdout_tty: bool) -> bool:
    """Whether to ask before sending: on two terminals, unless ``--yes`` or a dry run."""
    return not yes and not dry_run and stdin_tty and stdout_tty


def ask(question: str, stdin: IO[str], stdout: IO[str]) -> bool:
    """Print ``question [y/N]`` and read one answer; True only for y or yes."""
    stdout.write(f"{question} [y/N] ")
    stdout.flush()
    answer = stdin.readline()
    if not answer.endswith("\n"):
        stdout.write("\n")  # end of input: leave the cursor on a new line
    return answer.strip().lower() in ("y", "yes")
