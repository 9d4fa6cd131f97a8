"""MAMBA on the SMAC adapter: the same config, registry and collection path that `marie train --env starcraft
--algo mamba` takes in the smac container, here against a fake StarCraft II (no SC2 on these machines)."""

import os
import sys

import torch

from marie import registry
from marie.config import build_config
from marie.data.episode import collect_episodes
from marie.envs.starcraft import StarCraftEnv

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "envs"))
from fake_smac import FakeStarCraft2Env  # noqa: E402


def test_mamba_collects_and_trains_on_the_smac_adapter():
    cfg = build_config("starcraft", "3m", preset="smoke", flags={"run.algo": "mamba"},
                       overrides=["mamba.schedule.min_buffer=20", "mamba.schedule.n_samples=1"])  # fmt: skip
    env = StarCraftEnv("3m", env_factory=FakeStarCraft2Env)
    torch.manual_seed(0)
    agent = registry.factory("mamba")(env.spec, cfg, torch.device("cpu"))
    metrics: dict[str, float] = {}
    for k in range(4):
        for episode in collect_episodes(env, agent, [k], "collect"):
            metrics |= agent.observe(episode)
    assert metrics.get("mamba/trainings", 0) >= 1  # the world model and the policy trained on SMAC episodes
    assert "world_model/avail" in metrics and "actor_critic/policy_loss" in metrics
    eval_episode = collect_episodes(env, agent, [99], "sample")[0]
    assert len(eval_episode.actions) > 0 and (eval_episode.terminated or eval_episode.truncated)
