import json

import pytest

from tests.conftest import has_module, run_marie

KEYS = ("round_s", "tokenizer_s", "world_model_s", "imagination_s", "ppo_s", "wm_update_s", "env_steps_per_s",
        "imagination_kv_speedup", "kv_max_abs_diff", "peak_rss_mb", "matmul_peak_gflops", "wm_fraction_of_peak",
        "imagination_fraction_of_peak", "params", "memory_bandwidth_gbs", "wm_roofline_s", "wm_fraction_of_roofline",
        "wm_memory_bound_share", "one_imagination_roofline_s", "imagination_fraction_of_roofline",
        "imagination_memory_bound_share", "wm_page_faults_per_update", "cpu_model")  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(not has_module("jaxmarl"), reason="jaxmarl not installed")
def test_bench_json_has_every_key_and_kv_cache_agrees():
    result = run_marie("bench", "--preset", "smoke", "--collect-steps", "400", "--n_workers", "2", "--threads", "1",
                       "--tokenizer-updates", "1", "--wm-updates", "1", "--kv-starts", "4", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    for key in KEYS:
        assert key in data, key
    assert data["kv_tokens_identical"] and data["kv_max_abs_diff"] < 1e-4
    assert data["round_s"] > 0 and data["env_steps_per_s"] > 0 and data["params"]["world_model"] > 0
    # the roofline time is a lower bound on the measured one (its bandwidths and peak are best-of measurements)
    assert 0 < data["wm_fraction_of_roofline"] <= 1.2 and 0 < data["imagination_fraction_of_roofline"] <= 1.2
    assert 0 <= data["wm_memory_bound_share"] <= 1 and 0 <= data["imagination_memory_bound_share"] <= 1


@pytest.mark.slow
@pytest.mark.skipif(not has_module("jaxmarl"), reason="jaxmarl not installed")
def test_bench_mamba_reports_the_same_phases_through_its_agent():
    result = run_marie("bench", "--algo", "mamba", "--preset", "smoke", "--collect-steps", "400", "--n_workers", "2",
                       "--threads", "1", "--wm-updates", "1", "--kv-starts", "2", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    for key in KEYS:
        if not key.startswith(("imagination_kv", "kv_")):  # MAMBA's RSSM has no KV cache to compare
            assert key in data, key
    assert data["algo"] == "mamba" and "imagination_kv_speedup" not in data
    assert data["tokenizer_s"] == 0.0 and set(data["params"]) == {"world_model", "actor", "critic"}
    assert data["world_model_s"] > 0 and data["imagination_s"] > 0 and data["ppo_s"] > 0 and data["peak_rss_mb"] > 0
    # round = 2 smoke world-model updates + 1 x (imagination + PPO)
    assert data["round_s"] == pytest.approx(data["world_model_s"] + data["imagination_s"] + data["ppo_s"])
    table = run_marie("bench", "--algo", "mamba", "--preset", "smoke", "--collect-steps", "200", "--n_workers", "1",
                      "--threads", "1", "--wm-updates", "1", "--kv-starts", "2")  # fmt: skip
    assert table.returncode == 0 and "marie bench: mamba" in table.stdout and "tokenizer" not in table.stdout


def test_bench_phase_tables_name_real_config_keys_and_unknown_algos_fail_in_one_line():
    from marie import bench
    from marie.config import build_config

    for algo, phases in bench.PHASES.items():
        section = getattr(build_config("smax", "3m"), algo)
        for key in [k for _, k in phases.updates] + [phases.rounds_key, phases.starts_key]:
            assert isinstance(bench._get(section, key), int), (algo, key)
        if phases.chunk_key:
            assert isinstance(bench._get(section, phases.chunk_key), int | None), (algo, phases.chunk_key)
    result = run_marie("bench", "--algo", "mappo", "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert "mappo" in result.stderr and "marie, mamba" in result.stderr and len(result.stderr.strip().splitlines()) == 1
