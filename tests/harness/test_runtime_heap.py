"""runtime.keep_freed_heap: freed activations stay mapped for the next update instead of being faulted in again."""

import subprocess
import sys

import pytest

from marie.runtime import _MALLOPT

# Allocate, write and free 20 MB of float32 tensors eleven times, and print the minor page faults of the last nine
# rounds. Blocks of 100 KB stay below glibc's initial mmap threshold, so its adaptive trim threshold never rises above
# 128 KB and by default every round's 20 MB is trimmed at the end and faulted in again (~4,400 faults a round).
_PROBE = """
import resource, sys
import torch
from marie.runtime import keep_freed_heap
applied = keep_freed_heap(int(sys.argv[1]))
def one_round():
    blocks = [torch.ones(25_000) for _ in range(200)]
    return sum(float(b[-1]) for b in blocks)
one_round()
one_round()
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(9):
    one_round()
kept = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start
print(applied, kept)
"""


def _faults(keep_mb: int) -> tuple[bool, int]:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(keep_mb)], capture_output=True, text=True, check=True)
    applied, faults = out.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(_MALLOPT is None, reason="not glibc")
def test_kept_heap_is_reused_without_page_faults_and_zero_keeps_glibc_defaults():
    applied, kept = _faults(256)
    default_applied, default = _faults(0)
    assert applied and not default_applied
    assert kept < 500, kept  # the heap settled in the two warm-up rounds
    assert default > 9 * 3000, default  # 9 rounds x 20 MB = 44K pages


def test_negative_heap_setting_is_refused_in_one_line():
    from marie.config import build_config
    from marie.errors import UsageError

    with pytest.raises(UsageError, match=r"run.heap_keep_mb -1: must be >= 0"):
        build_config("smax", "3m", overrides=["run.heap_keep_mb=-1"])
