"""The report reads every wall-clock against the measured matmul peak of the machine that produced it."""

import pandas as pd

from analysis.report import machine_lines


def test_one_line_per_machine_with_its_peak_and_wall_clocks():
    provenance = pd.DataFrame({
        "host": ["a", "a", "b", "a"],
        "matmul_peak_gflops": [155.0, 155.2, 212.4, 60.0],
        "torch_threads": [2, 2, 1, 1],
        "completed.wall_s": [100.0, 300.0, 50.0, 20.0],
    })
    lines = machine_lines(provenance)
    assert lines == [
        "- Machine a at 1 thread(s): matmul peak 60 GFLOP/s; 1 run, run wall-clock 20-20 s (sum 20 s).",
        "- Machine a at 2 thread(s): matmul peak 155 GFLOP/s; 2 runs, run wall-clock 100-300 s (sum 400 s).",
        "- Machine b at 1 thread(s): matmul peak 212 GFLOP/s; 1 run, run wall-clock 50-50 s (sum 50 s).",
    ]


def test_runs_of_one_machine_with_varying_peaks_share_one_line_with_the_range():
    provenance = pd.DataFrame({
        "host": ["vm"] * 4,
        "matmul_peak_gflops": [42.0, 56.0, 45.0, 44.0],
        "torch_threads": [1] * 4,
        "completed.wall_s": [16.0, 0.4, 15.0, 11.0],
    })
    assert machine_lines(provenance) == [
        "- Machine vm at 1 thread(s): matmul peak 42-56 GFLOP/s (median 44); 4 runs, run wall-clock 0-16 s (sum 42 s)."
    ]


def test_the_memory_bandwidth_is_printed_where_the_runs_recorded_it():
    provenance = pd.DataFrame({
        "host": ["vm", "vm", "old"],
        "matmul_peak_gflops": [150.0, 150.0, 100.0],
        "memory_bandwidth_gbs": [11.2, 12.4, None],
        "torch_threads": [1, 1, 1],
        "completed.wall_s": [10.0, 12.0, 5.0],
    })
    assert machine_lines(provenance) == [
        "- Machine old at 1 thread(s): matmul peak 100 GFLOP/s; 1 run, run wall-clock 5-5 s (sum 5 s).",
        "- Machine vm at 1 thread(s): matmul peak 150 GFLOP/s, memory bandwidth 11.2-12.4 GB/s; 2 runs, "
        "run wall-clock 10-12 s (sum 22 s).",
    ]


def test_runs_without_a_recorded_peak_say_so():
    provenance = pd.DataFrame({"host": ["a"], "completed.wall_s": [1.0]})
    assert "not recorded" in machine_lines(provenance)[0]


def test_the_span_of_the_runs_goes_from_the_first_start_to_the_last_end():
    provenance = pd.DataFrame({
        "host": ["vm"] * 3,
        "matmul_peak_gflops": [100.0] * 3,
        "torch_threads": [1] * 3,
        "completed.wall_s": [600.0, 60.0, 120.0],
        # started 12:00:00, 12:09:00 and 12:20:00; the last ends at 12:22:00
        "completed.finished_at": ["2026-01-01T12:10:00+0000", "2026-01-01T12:10:00+0000", "2026-01-01T12:22:00+0000"],
    })
    assert machine_lines(provenance)[0].endswith(
        "run wall-clock 60-600 s (sum 780 s), span 22.0 min from the first start to the last end."
    )
    provenance["completed.finished_at"] = None  # runs that did not record it: no span
    assert machine_lines(provenance)[0].endswith("(sum 780 s).")


def test_the_cpu_model_tells_apart_machines_of_one_host_name_and_the_report_says_it_changes_the_numbers():
    provenance = pd.DataFrame({
        "host": ["vm", "vm", "vm"],
        "cpu_model": ["AuthenticAMD family 25 model 17 (AMD EPYC)", "GenuineIntel family 6 model 207 (Xeon)",
                      "AuthenticAMD family 25 model 17 (AMD EPYC)"],
        "matmul_peak_gflops": [90.0, 130.0, 90.0],
        "torch_threads": [1, 1, 1],
        "completed.wall_s": [10.0, 12.0, 5.0],
    })
    lines = machine_lines(provenance)
    assert lines[0] == (
        "- Machine vm (AuthenticAMD family 25 model 17 (AMD EPYC)) at 1 thread(s): matmul peak 90 GFLOP/s; "
        "2 runs, run wall-clock 5-10 s (sum 15 s)."
    )
    assert lines[1].startswith("- Machine vm (GenuineIntel family 6 model 207 (Xeon)) at 1 thread(s): matmul peak 130")
    assert "deterministic on one CPU model, not across models" in lines[2]
    assert len(lines) == 3
