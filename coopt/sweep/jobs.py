"""Running jobs: what a worker does with a batch of grid points, anywhere.

:func:`run_batch` is the only function engines send to workers. It returns one record
per job and never writes a file (the process that owns the results directory is the only
writer). A job that fails is a record too: status ``failed``, the one-line reason and the
exit code the CLI would give for it (1 no solution, 2 bad input, 3 internal error), so a
sweep goes on past it. A MIP that stops at a limit (its report's
:attr:`~coopt.mip.report.MipReport.termination` not ``optimal``) with an incumbent is
failed too (exit code 1; a limit is never a success), and its row keeps the incumbent's
numbers.

A record: ``index``, ``key``, ``status`` (``done`` | ``failed``), ``exit_code`` (0 when
done), ``reason``, ``result`` (the solve JSON of ``coopt solve --json``, with the
simulation summaries under ``sim.<policy>``), ``coopt_version``, ``worker``
(``host:pid``), ``wall_s`` and ``cpu_s`` (the job's wall time, and the CPU time of the thread that ran it).
"""

from __future__ import annotations

import os
import socket
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, NamedTuple

from coopt.errors import CooptError
from coopt.mip.highs import Termination
from coopt.mip.report import MipReport
from coopt.sweep.spec import RULE_POLICY, Job
from coopt.sweep.store import encode, result_columns

SIM_FIELDS = ("mean", "std_error", "ci_low", "ci_high", "exact", "tasks", "seed")
VERSION = version("coopt")


# The fleet JSON's per-device and bookkeeping parts, left out of a sweep's row: a row is
# one point's totals (the full result is `coopt solve FLEET --json`).
FLEET_OMITTED = ("devices", "levels", "replaced", "wall_time_s")


def solve_fleet_job(job: Job) -> dict[str, Any]:
    """The result of one fleet job: the fleet JSON of docs/model.md 11.2 without its
    per-device list (:data:`FLEET_OMITTED`), plus ``devices`` (the fleet's size :math:`U`)."""
    from coopt.fleet.files import parse_fleet
    from coopt.fleet.solve import solve_fleet

    fleet = parse_fleet(job.doc, Path(job.base_dir), job.name)
    options = None
    if job.mip:
        from coopt.mip.highs import MipOptions

        options = MipOptions(**job.mip)
    result = solve_fleet(fleet, method=job.method, options=options)  # type: ignore[arg-type]
    out = {k: v for k, v in result.to_dict().items() if k not in FLEET_OMITTED}
    out["devices"] = result.size
    return out


def solve_job(job: Job) -> dict[str, Any]:
    """The result of one job: the solve JSON, plus ``sim`` when the spec simulates."""
    if job.fleet:
        return solve_fleet_job(job)
    from coopt.api import solve
    from coopt.model.instance import parse_instance

    instance = parse_instance(job.doc, base_dir=Path(job.base_dir), name=job.name)
    mip_options = None
    if job.method == "mip":
        from coopt.mip.highs import MipOptions

        mip_options = MipOptions(**job.mip)
    result = solve(instance, method=job.method, mip_options=mip_options)
    out = result.to_dict()
    if job.simulate is not None:
        from coopt.sim.simulate import simulate

        sims = {}
        for policy in job.simulate["policies"]:
            name = result.rule if policy == RULE_POLICY else policy
            sim = simulate(instance, name, job.simulate["tasks"], job.simulate["seed"]).to_dict()
            sims[policy] = {f: sim[f] for f in SIM_FIELDS}
        out["sim"] = sims
    return out


def _termination(result: dict[str, Any]) -> str:
    """``optimal``, or the limit at which a MIP stopped (the closed form's ``solver`` holds its
    own numbers; a fleet's ``solver`` is a name, not a table)."""
    solver = result.get("solver")
    if isinstance(solver, dict) and result.get("method") == "mip":  # a single-device MIP: its typed report
        return str(MipReport.from_dict(solver).termination)
    if "fleet" in result and result.get("method") == "mip" and not result.get("optimal", True):
        return str(result.get("termination") or "not optimal")
    return "optimal"


def run_job(job: Job) -> dict[str, Any]:
    """One job's record (see the module docstring); never raises for a job's own failure."""
    start, cpu = time.perf_counter(), time.thread_time()  # the job's thread: a Dask worker runs others
    record: dict[str, Any] = {"index": job.index, "key": job.key}
    try:
        result = solve_job(job)
        termination = _termination(result)
        if termination == Termination.OPTIMAL:
            record.update(status="done", exit_code=0, reason=None, result=result)
        else:  # an incumbent at a limit is kept in the row, but never counted as solved
            reason = f"HiGHS stopped ({termination}) with an incumbent that is not proven optimal"
            record.update(status="failed", exit_code=1, reason=reason, result=result)
    except CooptError as exc:
        record.update(status="failed", exit_code=exc.exit_code, reason=str(exc), result=None)
    except Exception as exc:  # an internal error of one point must not stop the sweep
        record.update(
            status="failed", exit_code=3, reason=f"internal error: {exc.__class__.__name__}: {exc}", result=None
        )
    record.update(coopt_version=VERSION, worker=f"{socket.gethostname()}:{os.getpid()}")
    record["wall_s"] = time.perf_counter() - start
    record["cpu_s"] = time.thread_time() - cpu
    return record


class Finished(NamedTuple):
    """A job's record as it travels back: its key and status, the record as a log line, and
    the result columns of its table row (the owner makes the row from the log line when it
    writes the table, :func:`coopt.sweep.store.write_table`)."""

    key: str
    status: str
    line: str
    columns: tuple[str, ...]


def run_batch(jobs: list[Job]) -> list[Finished]:
    """The records of a batch of jobs, in order (the unit of work sent to a worker).

    Records are encoded, and their result columns listed, here on the workers, so that
    the owner of the results directory only writes: its work per job is what limits the
    scaling of cheap jobs.
    """
    out = []
    for job in jobs:
        record = run_job(job)
        out.append(Finished(job.key, record["status"], encode(record), result_columns(record)))
    return out
