"""Timing whole evaluator processes: wall time, CPU time and peak RSS of one child.

Each evaluator runs as its own Python process reading the two JSON files and
printing ``{"stats": [...]}`` as its last stdout line, so every tool pays for
its imports, its JSON parsing and its memory, as a user running it would.
``os.wait4`` reports the resource usage of that child; its CPU time includes
the processes it forked and waited for, but its peak RSS is only the largest of
them. A tool that works in several processes at once uses their sum, so the
process tree is also sampled every few milliseconds: the tool's RSS plus the
anonymous and shared-memory RSS of its descendants. The peak reported is the
larger of the two.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PYCOCOTOOLS = """
import contextlib, io, json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
gt_path, dt_path, iou_type = sys.argv[1:4]
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_path)
    dt = gt.loadRes(dt_path)
    ev = COCOeval(gt, dt, iou_type)
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps({"stats": [float(v) for v in ev.stats]}))
"""

_FASTER_COCO_EVAL = """
import contextlib, io, json, sys
from faster_coco_eval import COCO, COCOeval_faster
gt_path, dt_path, iou_type = sys.argv[1:4]
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_path)
    dt = gt.loadRes(dt_path)
    ev = COCOeval_faster(gt, dt, iou_type, print_function=lambda *a, **k: None)
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps({"stats": [float(v) for v in ev.stats]}))
"""

_HOTCOCO = """
import contextlib, io, json, sys
from hotcoco import COCO, COCOeval
gt_path, dt_path, iou_type = sys.argv[1:4]
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(gt_path)
    dt = gt.load_res(dt_path)
    ev = COCOeval(gt, dt, iou_type)
    ev.evaluate(); ev.accumulate(); ev.summarize()
print(json.dumps({"stats": [float(v) for v in ev.stats]}))
"""

PEER_SCRIPTS = {
    "pycocotools": _PYCOCOTOOLS,
    "faster-coco-eval": _FASTER_COCO_EVAL,
    "hotcoco": _HOTCOCO,
}
OURS = "sliceboard"


def command(tool: str, gt: Path, dt: Path, iou_type: str) -> list[str]:
    if tool == OURS:
        return [
            sys.executable,
            "-m",
            "sliceboard.evaluate_coco",
            str(gt),
            str(dt),
            "--iou-type",
            iou_type,
            "--json",
        ]
    return [sys.executable, "-c", PEER_SCRIPTS[tool], str(gt), str(dt), iou_type]


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_rss_mb: float
    stats: list[float]


@dataclass(frozen=True)
class Measurement:
    tool: str
    runs: list[Run]

    @property
    def wall(self) -> float:
        return statistics.median(r.wall for r in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def peak_rss_mb(self) -> float:
        return max(r.peak_rss_mb for r in self.runs)

    @property
    def stats(self) -> list[float]:
        return self.runs[-1].stats


def run_once(tool: str, gt: Path, dt: Path, iou_type: str) -> Run:
    """One child process; raises RuntimeError with its stderr when it fails."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        start = time.perf_counter()
        proc = subprocess.Popen(
            command(tool, gt, dt, iou_type), stdout=out, stderr=err, cwd=ROOT, env=env
        )
        sampler = _TreeSampler(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{tool} exited {proc.returncode}: {err.read().decode()[-2000:]}")
        last = out.read().decode().strip().splitlines()[-1]
    return Run(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mb=max(usage.ru_maxrss, sampler.peak_kb) / 1024.0,
        stats=[float(v) for v in json.loads(last)["stats"]],
    )


class _TreeSampler:
    """Peak of RSS(pid) + anonymous and shared-memory RSS of pid's descendants.

    Read from /proc/<pid>/status, whose counters cost microseconds (smaps_rollup
    walks the page tables: ~12 ms for a 1 GB process, which would steal a core).
    A descendant's anonymous pages still shared copy-on-write with the tool are
    counted twice, so a forking tool is, if anything, charged too much.
    """

    INTERVAL = 0.005

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._done.wait(self.INTERVAL):
            try:
                total = _status(self.pid)["VmRSS"]
                for child in descendants(self.pid):
                    fields = _status(child)
                    total += fields["RssAnon"] + fields["RssShmem"]
            except (OSError, KeyError, ValueError):
                continue  # a process ended between the listing and the read
            self.peak_kb = max(self.peak_kb, total)


def _status(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as f:
        return {
            k: int(v.split()[0])
            for k, v in (line.split(":", 1) for line in f)
            if v.strip().endswith("kB")
        }


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        with open(f"/proc/{parent}/task/{parent}/children") as f:
            children = [int(c) for c in f.read().split()]
        found += children
        todo += children
    return found


def measure(tool: str, gt: Path, dt: Path, iou_type: str, repeats: int) -> Measurement:
    return Measurement(tool, [run_once(tool, gt, dt, iou_type) for _ in range(repeats)])
