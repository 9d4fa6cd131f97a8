"""The report reads every wall-clock against the measured matmul peak of the machine that produced it."""

import pandas as pd

from analysis.report import machine_lines


def test_one_line_per_machine_with_its_peak_and_wall_clocks():
    provenance = pd.DataFrame({
        "host": ["a", "a", "b"],
        "matmul_peak_gflops": [155.0, 155.0, 212.4],
        "torch_threads": [1, 1, 1],
        "completed.wall_s": [100.0, 300.0, 50.0],
    })
    lines = machine_lines(provenance)
    assert lines == [
        "- Machine a: matmul peak 155 GFLOP/s at 1 thread(s); 2 runs, run wall-clock 100-300 s (sum 400 s).",
        "- Machine b: matmul peak 212 GFLOP/s at 1 thread(s); 1 runs, run wall-clock 50-50 s (sum 50 s).",
    ]


def test_runs_without_a_recorded_peak_say_so():
    provenance = pd.DataFrame({"host": ["a"], "completed.wall_s": [1.0]})
    assert "not recorded" in machine_lines(provenance)[0]
