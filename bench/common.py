"""Helpers shared by the benchmark modules: memory and CPU readings, percentiles, stage subprocesses.

Every stage of `bench/run.py` runs in its own Python process (`run_stage`), so that its peak resident memory
(VmHWM) is its own and not the high-water mark of an earlier stage. The parent reads the machine's CPU
counters around each stage to tell how much of the CPU other processes took meanwhile ("others_cores": the
average number of cores busy with work that is not the stage's own); a stage measured while others held more
than NOISY_CORES is flagged as disturbed."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
for _path in (str(ROOT / "src"), str(BENCH)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

CPUS = os.cpu_count() or 1
# Average cores taken by other processes during a stage above which its timings are called disturbed.
NOISY_CORES = 0.35
ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


# ---------------------------------------------------------------- memory


def _status_kb(field: str, pid: int | str = "self") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb(pid: int | str = "self") -> float:
    """Resident-memory high-water mark (VmHWM) of a process, in MiB."""
    value = _status_kb("VmHWM", pid)
    if value is None and pid == "self":
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (value or 0) / 1024


def rss_mb(pid: int | str = "self") -> float:
    return (_status_kb("VmRSS", pid) or 0) / 1024


# ---------------------------------------------------------------- statistics


def ms(seconds: float) -> float:
    return round(1000 * seconds, 3)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered) + 0.5)) - 1))]


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p95, mean and max in milliseconds, and how many measurements."""
    return {
        "p50_ms": ms(statistics.median(seconds)),
        "p95_ms": ms(percentile(seconds, 0.95)),
        "mean_ms": ms(statistics.fmean(seconds)),
        "max_ms": ms(max(seconds)),
        "n": len(seconds),
    }


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def disk_bytes(path: Path) -> int:
    if path.is_dir():
        return sum(child.stat().st_size for child in path.rglob("*") if child.is_file())
    return path.stat().st_size if path.exists() else 0


# ---------------------------------------------------------------- CPU taken by others


def _cpu_busy_seconds() -> float:
    """Busy CPU seconds of the whole machine since boot (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    busy = sum(values[:8]) - idle  # user nice system idle iowait irq softirq steal; guest is inside user
    return busy / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class CpuWatch:
    """Around a child process: the average number of cores that processes other than this one and its
    (waited-for) children kept busy. Threads of this process count as ours too."""

    def __enter__(self) -> "CpuWatch":
        self._busy = _cpu_busy_seconds()
        self._ours = _children_cpu_seconds() + time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        wall = max(time.perf_counter() - self._wall, 1e-6)
        busy = _cpu_busy_seconds() - self._busy
        ours = _children_cpu_seconds() + time.process_time() - self._ours
        self.wall_s = wall
        self.own_cores = ours / wall
        self.others_cores = max(0.0, (busy - ours) / wall)


def others_now(seconds: float = 2.0) -> float:
    """Cores other processes keep busy right now, sampled for `seconds` while this process sleeps."""
    with CpuWatch() as watch:
        time.sleep(seconds)
    return watch.others_cores


# ---------------------------------------------------------------- stage subprocesses


def run_stage(stage: str, params: dict[str, Any], *, timeout: float | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run bench/stages.py STAGE in a new Python process and return its JSON result, with the process's peak
    RSS, wall time, and the CPU other processes took meanwhile. The child's stderr lines starting with '#'
    are progress notes, passed on to `log`."""
    command = [sys.executable, str(BENCH / "stages.py"), stage, json.dumps(params)]
    env = {**os.environ, **ENV}
    with tempfile.TemporaryFile("w+") as output, CpuWatch() as watch:
        # stdout (libraries may print there) goes to a file; stderr is read line by line for progress notes
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.PIPE, text=True)
        errors: list[str] = []
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("#"):
                log("    " + line[1:].rstrip())
            else:
                errors.append(line)
        process.wait(timeout=timeout)
        output.seek(0)
        printed = output.read()
    if process.returncode != 0:
        raise RuntimeError(f"stage {stage} failed (exit {process.returncode}):\n{''.join(errors)[-4000:]}\n{printed[-2000:]}")
    result = json.loads(printed.strip().splitlines()[-1])
    result["process"] = {
        "wall_s": round(watch.wall_s, 2),
        "own_cores": round(watch.own_cores, 2),
        "others_cores": round(watch.others_cores, 2),
        "disturbed": watch.others_cores > NOISY_CORES,
        **result.get("process", {}),
    }
    return result


def note(message: str) -> None:
    """A progress note from inside a stage process (shown by the parent)."""
    print("#" + message, file=sys.stderr, flush=True)
