import json

import pytest

from tests.conftest import has_module, run_marie

KEYS = ("round_s", "tokenizer_s", "world_model_s", "imagination_s", "ppo_s", "wm_update_s", "env_steps_per_s",
        "imagination_kv_speedup", "kv_max_abs_diff", "peak_rss_mb", "matmul_peak_gflops", "wm_fraction_of_peak",
        "imagination_fraction_of_peak", "params")  # fmt: skip


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
