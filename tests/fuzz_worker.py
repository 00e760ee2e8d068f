"""Runs auditor commands in-process, one after another, under an address-space limit, and writes
what each answered as JSON: `python -m tests.fuzz_worker JOBS.json RESULTS.json LIMIT_BYTES`.

A subprocess, so that a file that slips past the checks and allocates without bound fails here
(MemoryError, one job) instead of taking the test run or the machine with it."""

import json
import resource
import sys
import time

from click.testing import CliRunner


def main(jobs_path: str, results_path: str, limit: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    from auditor.cli import main as auditor

    results = []
    for job in json.loads(open(jobs_path).read()):
        start = time.perf_counter()
        result = CliRunner().invoke(auditor, job["args"])
        unexpected = result.exception if not isinstance(result.exception, SystemExit) else None
        results.append({**job, "status": result.exit_code, "stderr": result.stderr,
                        "stdout": result.stdout, "seconds": time.perf_counter() - start,
                        "exception": repr(unexpected) if unexpected is not None else None})
    with open(results_path, "w") as handle:
        json.dump({"results": results, "peak_rss_bytes": _peak_rss_bytes()}, handle)


def _peak_rss_bytes() -> int:
    """This process's own peak. Its ru_maxrss is not: a child started by posix_spawn or vfork
    carries over its parent's peak (a pytest process of 4 GB made a 10 MB child read 4 GB);
    VmHWM belongs to the address space exec gave it."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main(*sys.argv[1:])
