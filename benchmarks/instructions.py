"""Deterministic client cost: instructions per service and per extra poll, counted by valgrind (callgrind).

``.venv/bin/python benchmarks/instructions.py [--variants raw sdk ...] [--settle 0.3]``  (needs ``valgrind``;
about a minute per variant)

CPU seconds on a shared 2-core VM drift by +-10% from run to run, as much as the differences being looked for;
instruction counts do not. Each variant (a ``_worker.py`` scenario, or one of ``ablation.py``'s hand-made ladder)
runs its client under callgrind three times against an emulator in another process (not under valgrind):

- N1 and N2 services with no settle time (one PUT and one GET each): ``(Ir(N2) - Ir(N1)) / (N2 - N1)`` is the
  cost of one service at one poll, with start-up and imports cancelled out;
- N2 services with a settle time (several GETs each): the extra instructions over the extra GETs is the cost of
  one more poll, which is what a real rollout (20 to 90 polls per service) mostly pays.

It prints both, the cost of a service at 6, 21 and 50 polls, and each as a ratio to ``raw``. Polls are a fixed
5 ms apart in every variant; everything talks to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run  # noqa: E402 -- the harness, found through the path set just above

LADDER = ("+timeouts", "+middleware", "+models", "transport")
SCENARIOS = ("raw", "sdk-wait", "sdk")
#: Not run by default: the command end to end (``_worker.py --scenario cli``), for issue 13's "command over
#: fleet.apply" figure.
EXTRA_SCENARIOS = ("cli",)
POLLS = (6, 21, 50)


def _instructions(
    emu: run.EmulatorProcess, variant: str, services: int, out_dir: Path, run_name: str
) -> tuple[int, int, int]:
    """Run one variant under callgrind; return (instructions, requests, GETs) of that run.

    Each run sets its own description (``run_name`` in the tag): ``fleet.apply`` reads first and sends nothing
    to a service that already holds the update, so a run repeating the previous one's tag would send no PUT.
    """
    out = out_dir / f"callgrind.{variant}.{run_name}"
    if variant in LADDER:
        target = [str(HERE / "ablation.py"), "--child", variant]
    else:
        target = [
            str(run.WORKER),
            "--scenario",
            variant,
            "--policy",
            "0.005,1,0.005,0.005",
            "--fixed",
            "--tag",
            f"instructions-{variant}-{run_name}",
        ]
    args = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        *target,
        "--base-url",
        emu.base_url,
        "--control-url",
        emu.info["control_url"],
        "--services",
        str(services),
        "--concurrency",
        "16",
    ]
    emu.control("/reset", {})
    done = subprocess.run(args, env=emu.env(), capture_output=True, text=True, timeout=1800, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{variant} failed under callgrind:\n{done.stderr[-1500:]}")
    stats = emu.control("/stats")
    gets = sum(stats["by_op"].get("get_service", {}).values())
    return int(found.group(1)), int(stats["requests"]), gets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    choices = (*SCENARIOS, *EXTRA_SCENARIOS, *LADDER)
    parser.add_argument("--variants", nargs="+", choices=choices, default=list(SCENARIOS))
    parser.add_argument("--settle", type=float, default=0.3, help="settle seconds of the several-polls run")
    parser.add_argument("--services", type=int, nargs=2, default=(50, 250), metavar=("N1", "N2"))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed", file=sys.stderr)
        return 2
    n1, n2 = args.services
    rows: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, run.EmulatorProcess(services=n2, update=0.0) as emu:
        for variant in dict.fromkeys(["raw", *args.variants]):
            emu.control("/config", {"update_duration": [0.0, 0.0]})
            ir1, _, _ = _instructions(emu, variant, n1, Path(tmp), "n1")
            ir2, _, gets2 = _instructions(emu, variant, n2, Path(tmp), "n2")
            emu.control("/config", {"update_duration": [args.settle, args.settle]})
            ir3, _, gets3 = _instructions(emu, variant, n2, Path(tmp), "settle")
            per_service = (ir2 - ir1) / (n2 - n1)
            per_poll = (ir3 - ir2) / max(1, gets3 - gets2)
            rows[variant] = (per_service, per_poll, gets3 / n2)
            print(
                f"  {variant:12} {per_service / 1e3:8.0f} k/service at 1 poll, {per_poll / 1e3:6.0f} k per extra "
                f"poll ({gets3 / n2:.1f} polls/service in the settle run)",
                file=sys.stderr,
                flush=True,
            )
    raw_service, raw_poll, _ = rows["raw"]
    print(f"Client instructions (callgrind Ir), {n1} and {n2} services, concurrency 16, polls 5 ms apart:\n")
    table_rows = []
    for variant, (service, poll, _) in rows.items():
        at = [service + (k - 1) * poll for k in POLLS]
        raw_at = [raw_service + (k - 1) * raw_poll for k in POLLS]
        table_rows.append(
            [
                variant,
                service / 1e3,
                f"{service / raw_service:.2f}x",
                poll / 1e3,
                f"{poll / raw_poll:.2f}x",
                *(f"{a / 1e3:,.0f} k ({a / r:.2f}x)" for a, r in zip(at, raw_at, strict=True)),
            ]
        )
    print(
        run.table(
            [
                "variant",
                "k instr./service, 1 poll",
                "vs raw",
                "k instr./extra poll",
                "vs raw",
                *(f"a service at {k} polls" for k in POLLS),
            ],
            table_rows,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
