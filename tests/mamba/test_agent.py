"""The MAMBA Agent: acting through the RSSM filter, the training schedule, checkpoints incl. the acting state,
and its config tables."""

import io

import numpy as np
import pytest
import torch

from marie.algos.mamba import config as mamba_config
from marie.algos.mamba.agent import MambaAgent
from marie.algos.mamba.config import MambaConfig
from marie.config import build_config, set_dotted
from marie.errors import UsageError
from tests.mamba.helpers import MUJOCO_LIKE, SMAX_LIKE, fake_episode, smoke_config, train_config


def _agent(spec=SMAX_LIKE, seed=0, **overrides):
    torch.manual_seed(seed)
    cfg = smoke_config(**{"world_model.predict_avail": spec.discrete} | overrides)
    if not spec.discrete:
        cfg.actor_critic.kind = "mappo_style"
    return MambaAgent(spec, train_config(cfg), torch.device("cpu"))


def _inputs(spec, rng, envs=2):
    obs = rng.normal(size=(envs, spec.n_agents, spec.obs_dim)).astype(np.float32)
    avail = np.ones((envs, spec.n_agents, spec.n_actions), bool)
    avail[..., -1] = False
    return obs, avail


def test_acting_advances_the_filter_and_respects_masks():
    agent, rng = _agent(), np.random.default_rng(0)
    agent.begin_episodes(2)
    assert not agent.filter_state.deter.any() and not agent.prev_action.any()
    for _ in range(3):
        obs, avail = _inputs(SMAX_LIKE, rng)
        actions = agent.act(obs, avail, "collect")
        assert actions.shape == (2, 3) and (actions != SMAX_LIKE.n_actions - 1).all()
    assert agent.filter_state.deter.abs().sum() > 0
    assert torch.equal(agent.prev_action.argmax(-1), torch.as_tensor(actions))
    agent.begin_episodes(4)  # a new batch of episodes starts from the zero state
    assert agent.filter_state.deter.shape[0] == 4 and not agent.filter_state.deter.any()


def test_greedy_acting_is_deterministic_and_continuous_actions_have_dims():
    agent, rng = _agent(), np.random.default_rng(0)
    obs, avail = _inputs(SMAX_LIKE, rng)
    outs = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        agent.begin_episodes(2)
        outs.append([agent.act(obs, avail, "greedy") for _ in range(3)])
    assert all(np.array_equal(a, b) for a, b in zip(*outs))
    cont = _agent(MUJOCO_LIKE)
    cont.begin_episodes(2)
    acts = cont.act(*_inputs(MUJOCO_LIKE, rng), "collect")
    assert acts.shape == (2, 2, 3) and acts.dtype == np.float32


def test_training_starts_at_min_buffer_and_then_runs_every_n_samples():
    agent, rng = _agent(**{"schedule.min_buffer": 30, "schedule.n_samples": 1}), np.random.default_rng(0)
    assert agent.observe(fake_episode(SMAX_LIKE, 12, rng)) == {}  # 14 steps stored (2 absorbing)
    assert agent.observe(fake_episode(SMAX_LIKE, 12, rng)) == {}  # 28
    metrics = agent.observe(fake_episode(SMAX_LIKE, 12, rng))  # 42 >= 30: train
    assert metrics["mamba/trainings"] == 1.0
    for key in ("world_model/kl", "world_model/avail", "world_model/info", "actor_critic/policy_loss",
                "actor_critic/value_loss", "actor_critic/entropy", "world_model/seconds"):  # fmt: skip
        assert key in metrics, key
    assert agent.observe(fake_episode(SMAX_LIKE, 5, rng))["mamba/trainings"] == 2.0  # after every episode
    assert agent.entropy_coef < agent.cfg.ppo.entropy_coef  # annealed


def test_state_dict_round_trip_includes_the_acting_filter():
    every_episode = {"schedule.min_buffer": 20, "schedule.n_samples": 1}
    agent, rng = _agent(**every_episode), np.random.default_rng(0)
    for _ in range(3):
        agent.observe(fake_episode(SMAX_LIKE, 12, rng))
    agent.begin_episodes(2)
    for _ in range(2):
        agent.act(*_inputs(SMAX_LIKE, rng), "collect")
    blob = io.BytesIO()
    torch.save(agent.state_dict(), blob)  # checkpoints go through torch.save
    blob.seek(0)
    other = _agent(seed=5, **every_episode)
    other.load_state_dict(torch.load(blob, weights_only=False))
    assert torch.equal(other.filter_state.deter, agent.filter_state.deter)
    assert torch.equal(other.prev_action, agent.prev_action)
    obs, avail = _inputs(SMAX_LIKE, rng)
    episode = fake_episode(SMAX_LIKE, 9, rng)
    results = []
    for a in (agent, other):
        torch.manual_seed(7)
        results.append((a.act(obs, avail, "collect"), a.observe(episode)))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1]["mamba/trainings"] == 3.0  # trained after episodes 2, 3 and this one
    drop = lambda m: {k: v for k, v in m.items() if not k.endswith("/seconds")}  # noqa: E731
    assert drop(results[0][1]) == drop(results[1][1])  # same training step: same generator, buffer, optimisers


def test_config_tables_use_valid_keys_and_build_for_every_env():
    for table in [*mamba_config.PRESETS.values(), *mamba_config.ENV_DEFAULTS.values(),
                  mamba_config.MAMBA_TRAIN_PY_DEFAULTS]:  # fmt: skip
        cfg = MambaConfig()
        for key, value in table.items():
            set_dotted(cfg, key, value)
    paper = build_config("smax", "3m")
    assert (paper.mamba.world_model.updates, paper.mamba.imagination.rounds, paper.mamba.buffer.seq_len) == (60, 4, 20)
    assert paper.mamba.rssm.n_categoricals == paper.mamba.rssm.n_classes == 32 and paper.mamba.rssm.deter == 256
    mujoco = build_config("mamujoco", "HalfCheetah", preset="smoke")
    assert mujoco.mamba.actor_critic.kind == "mappo_style" and not mujoco.mamba.world_model.predict_avail
    assert build_config("smax", "3m", preset="smoke").mamba.rssm.hidden == 32


def test_the_quick_preset_has_its_own_smax_schedule_and_only_there():
    quick_smax = build_config("smax", "3m", preset="quick").mamba
    assert (quick_smax.reward_scale, quick_smax.world_model.lr) == (10.0, 1e-3)
    assert (quick_smax.world_model.updates, quick_smax.schedule.actor_critic_start) == (25, 24)
    assert quick_smax.rssm.deter == 128  # the generic quick sizes still apply
    quick_mpe = build_config("pettingzoo", "simple_spread_v3", preset="quick").mamba
    assert (quick_mpe.reward_scale, quick_mpe.world_model.updates, quick_mpe.schedule.actor_critic_start) == (1.0, 20, 1)
    paper_smax = build_config("smax", "3m").mamba
    assert (paper_smax.reward_scale, paper_smax.world_model.lr, paper_smax.schedule.actor_critic_start) == (1.0, 2e-4, 1)


@pytest.mark.parametrize(
    "overrides,needle",
    [({"world_model.predict_avail": True}, "predict_avail"), ({"buffer.seq_len": 3}, "seq_len"),
     ({"schedule.min_buffer": 5}, "min_buffer"), ({"rssm.attention_heads": 5}, "attention_heads")],
)  # fmt: skip
def test_impossible_settings_fail_with_one_line(overrides, needle):
    with pytest.raises(UsageError, match=needle) as info:
        _agent(MUJOCO_LIKE if needle == "predict_avail" else SMAX_LIKE, **overrides)
    assert "\n" not in str(info.value)


def test_public_phases_are_the_training_step():
    """``marie bench`` times store / train_world_model / start_states / imagine / ppo_batch / update_policy: run by
    hand, they give the same networks as ``observe`` (the first training has no held-out scoring before it)."""
    every_episode = {"schedule.min_buffer": 30, "schedule.n_samples": 1}
    rng = np.random.default_rng(0)
    episodes = [fake_episode(SMAX_LIKE, 12, rng) for _ in range(3)]
    auto, manual = _agent(**every_episode), _agent(**every_episode)
    torch.manual_seed(7)  # the transformer's dropout draws from the global stream
    for episode in episodes:
        auto.observe(episode)
    torch.manual_seed(7)
    for episode in episodes:
        manual.store(episode)
    manual.train_world_model()
    start = manual.start_states()
    batch, _ = manual.ppo_batch(manual.imagine(start))
    manual.update_policy(batch)
    assert start.deter.shape[0] == (auto.cfg.buffer.seq_len - 2) * auto.cfg.imagination.batch_size
    for name in ("model", "actor", "critic"):
        for (key, a), b in zip(getattr(auto, name).state_dict().items(), getattr(manual, name).state_dict().values()):
            assert torch.equal(a, b), (name, key)
    assert auto.entropy_coef == manual.entropy_coef


def test_actor_critic_can_start_after_the_world_model():
    agent, rng = _agent(**{"schedule.min_buffer": 20, "schedule.n_samples": 1, "schedule.actor_critic_start": 2}), \
        np.random.default_rng(0)  # fmt: skip
    metrics = [agent.observe(fake_episode(SMAX_LIKE, 12, rng)) for _ in range(3)]
    assert metrics[1]["mamba/trainings"] == 1.0 and "world_model/kl" in metrics[1]
    assert not any(k.startswith("actor_critic/") for k in metrics[1])
    assert "actor_critic/policy_loss" in metrics[2] and "world_model_holdout/reward_mae" in metrics[2]


def test_reported_rewards_are_in_env_units_whatever_the_reward_scale():
    """The world-model reward MAE (training and held-out) undoes ``reward_scale``: an untrained head's error on
    rewards stored x10 would be several units, in env units it is below 1."""
    every_episode = {"schedule.min_buffer": 20, "schedule.n_samples": 1}
    agent, rng = _agent(**every_episode, reward_scale=10.0), np.random.default_rng(0)
    metrics = [agent.observe(fake_episode(SMAX_LIKE, 12, rng)) for _ in range(3)][-1]
    stored = agent.buffer.arrays["reward"][: agent.buffer.size]
    assert stored.max() > 1.0  # fake rewards are in [0, 1): the buffer holds them x10
    for key in ("world_model/reward_mae", "world_model_holdout/reward_mae"):
        assert key in metrics and metrics[key] < 1.0, key  # env units: MAE of rewards in [0, 1)
