"""``--gate CMD``: a health gate between canary batches, run as a shell command.

After each batch settled (and baked), ``CMD`` runs with the batch's report as JSON on its standard input, and in
its environment ``AIODATAOPS_BATCH`` (the batch's number, from 1) and ``AIODATAOPS_REPORT`` (a file holding the same
JSON, mode 0600, removed afterwards). Exit 0 lets the next batch start; anything else stops the rollout as an
exceeded failure budget does. Its output goes to standard error (standard output belongs to the result); the
engine bounds it by ``--gate-timeout`` and kills it when that passes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from typing import TYPE_CHECKING

import anyio

if TYPE_CHECKING:
    from aiodataops.fleet import FleetReport
    from aiodataops.fleet._feeder import Gate

__all__ = ["command_gate"]

log = logging.getLogger("aiodataops.cli")


def command_gate(command: str) -> Gate:
    """The gate that runs ``command`` (through the shell) and passes when it exits 0."""

    async def gate(report: FleetReport) -> bool:
        batch = next((item.batch for item in report.items if item.batch is not None), 0) + 1
        data = report.to_json(indent=True)
        fd, path = tempfile.mkstemp(prefix=f"aiodataops-batch-{batch}-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            env = {**os.environ, "AIODATAOPS_BATCH": str(batch), "AIODATAOPS_REPORT": path}
            # Standard input is the file itself: a command that exits without reading it breaks no pipe.
            with open(path, "rb") as stdin:  # noqa: ASYNC230, PTH123 -- a local temporary file, opened once
                done = await anyio.run_process(command, stdin=stdin, env=env, check=False)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)  # noqa: PTH108 -- plain os, like the mkstemp that made it
        for output in (done.stdout, done.stderr):
            if output:
                sys.stderr.write(output.decode(errors="replace"))
        sys.stderr.flush()
        if done.returncode != 0:
            log.warning("the gate %r exited %d after batch %d", command, done.returncode, batch)
        return done.returncode == 0

    return gate
