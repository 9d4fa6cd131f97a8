"""SMAX adapter: shapes, masks, deaths, ends, wins, seeding, inactive rows."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("jaxmarl", reason="jaxmarl (SMAX) not installed")

from marie.envs import make_env  # noqa: E402

MOVE_EAST, STOP, FIRST_ATTACK = 1, 4, 5


@pytest.fixture(scope="module")
def env():
    env = make_env("smax", "3m", num_envs=4)
    yield env
    env.close()


def random_valid(avail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (rng.random(avail.shape) * avail).argmax(-1)


def focus_fire(avail: np.ndarray) -> np.ndarray:
    """Attack the lowest-index enemy in range, else walk east towards the enemies."""
    attacks = avail[..., FIRST_ATTACK:]
    return np.where(
        attacks.any(-1), FIRST_ATTACK + attacks.argmax(-1), np.where(avail[..., MOVE_EAST], MOVE_EAST, STOP)
    )


def run_episodes(env, seeds, policy):
    """Step until every copy is inactive; return the reset and the list of steps."""
    first = env.reset(seeds)
    steps, avail = [], first.avail
    while True:
        out = env.step(policy(avail))
        steps.append(out)
        avail = out.avail
        if not out.active.any():
            return first, steps


def test_spec_and_shapes(env):
    spec = env.spec
    assert (spec.n_agents, spec.obs_dim, spec.state_dim, spec.n_actions) == (3, 75, 72, 8)
    assert spec.discrete and spec.has_avail and spec.has_win and spec.episode_limit == 100
    first = env.reset([1, 2, 3, 4])
    assert first.obs.shape == (4, 3, 75) and first.obs.dtype == np.float32
    assert first.state.shape == (4, 72) and first.state.dtype == np.float32
    assert first.avail.shape == (4, 3, 8) and first.avail.dtype == bool
    out = env.step(np.full((4, 3), STOP))
    for name, shape, dtype in [
        ("reward", (4, 3), np.float32), ("agent_done", (4, 3), bool), ("terminated", (4,), bool),
        ("truncated", (4,), bool), ("won", (4,), np.float32), ("score", (4,), np.float32), ("active", (4,), bool),
    ]:  # fmt: skip
        value = getattr(out, name)
        assert value.shape == shape and value.dtype == dtype, name


def test_masks_at_start(env):
    first = env.reset([5, 6, 7, 8])
    assert first.avail[..., : STOP + 1].all()  # moves and stop
    assert not first.avail[..., FIRST_ATTACK:].any()  # the teams start out of range


def test_episode_bookkeeping_with_random_actions(env):
    rng = np.random.default_rng(0)
    seen_dead_mid_episode = False
    for round_ in range(3):
        first, steps = run_episodes(env, [10 * round_ + i for i in range(4)], lambda a: random_valid(a, rng))
        assert (first.avail[..., STOP]).all()
        ends = np.zeros(4, dtype=int)
        for t, out in enumerate(steps):
            assert out.avail[..., STOP].all()  # stop is always available, dead or alive
            ended = out.terminated | out.truncated
            assert not (out.terminated & out.truncated).any()
            assert (ended <= out.active).all()
            ends += ended
            assert np.isnan(out.won[~ended]).all() and np.isin(out.won[ended], (0.0, 1.0)).all()
            assert out.agent_done[ended].all()
            dead = out.agent_done & out.active[:, None] & ~ended[:, None]
            if dead.any():  # a dead agent mid-episode: only stop remains
                seen_dead_mid_episode = True
                assert not out.avail[dead][:, :STOP].any() and not out.avail[dead][:, FIRST_ATTACK:].any()
                assert out.avail[dead][:, STOP].all()
            inactive = ~out.active
            if inactive.any() and t > 0:  # inactive copies are frozen and report nothing
                prev = steps[t - 1]
                assert (out.reward[inactive] == 0).all() and out.agent_done[inactive].all()
                np.testing.assert_array_equal(out.obs[inactive], prev.obs[inactive])
                np.testing.assert_array_equal(out.state[inactive], prev.state[inactive])
                assert not ended[inactive].any()
        assert (ends == 1).all()  # every copy reported exactly one end
    assert seen_dead_mid_episode


def test_win_flag_matches_the_win_bonus(env):
    wins = 0
    for round_ in range(4):
        _, steps = run_episodes(env, [100 + 4 * round_ + i for i in range(4)], focus_fire)
        for out in steps:
            ended = out.terminated | out.truncated
            for b in np.flatnonzero(ended):
                won = out.won[b] == 1.0
                wins += won
                # JaxMARL adds +1 to the team reward exactly on a win (all enemies dead, an ally alive)
                assert won == (out.reward[b, 0] >= 1.0)
                assert not (won and out.truncated[b])
            assert (out.reward == out.reward[:, :1]).all()  # one team reward, copied to all agents
    assert wins > 0, "focus fire should win some 3m episodes against the heuristic enemy"


def test_time_limit_is_truncation(env):
    short = make_env("smax", "3m", num_envs=4, episode_limit=3)  # shares env's compiled step: the limit is data
    short.reset([0, 1, 2, 3])
    outs = [short.step(np.full((4, 3), STOP)) for _ in range(4)]
    assert not outs[1].truncated.any() and outs[2].truncated.all() and not outs[2].terminated.any()
    assert (outs[2].won == 0).all() and not outs[3].active.any()


def test_seeding(env):
    a = env.reset([1, 2, 3, 4])
    steps_a = [env.step(np.full((4, 3), MOVE_EAST)) for _ in range(5)]
    b = env.reset([1, 2, 3, 4])
    steps_b = [env.step(np.full((4, 3), MOVE_EAST)) for _ in range(5)]
    np.testing.assert_array_equal(a.obs, b.obs)
    for x, y in zip(steps_a, steps_b):
        np.testing.assert_array_equal(x.obs, y.obs)
        np.testing.assert_array_equal(x.reward, y.reward)
    c = env.reset([1, 2, 3, 99])
    np.testing.assert_array_equal(a.obs[:3], c.obs[:3])  # a copy depends only on its own seed
    assert not np.array_equal(a.obs[3], c.obs[3])
    assert not np.array_equal(a.obs[0], a.obs[1])
    big = env.reset([2**40, 2**40 + 1, 3, 4])  # 64-bit seeds stay distinct (JAX would truncate them)
    assert not np.array_equal(big.obs[0], big.obs[1])


def test_custom_scenarios_sizes():
    from marie.envs.smax import make_smax

    assert make_smax("2m_vs_1z").obs_size == 36
    assert make_smax("3s_vs_4z").obs_size == 88
    corridor = make_smax("corridor_noterrain")
    assert (corridor.num_allies, corridor.num_enemies) == (6, 24)
    env = make_env("smax", "2m_vs_1z", num_envs=1)
    first = env.reset([0])
    assert first.obs.shape == (1, 2, 36) and first.avail.shape == (1, 2, 6)


IMPORT_CHECK = """
import sys
import numpy as np
import marie.envs.smax as ours
left = sorted(m for m in sys.modules if m.split(".")[0] == "jaxmarl")
import jaxmarl  # the full package, imported afterwards as a user would
from jaxmarl.environments.smax import map_name_to_scenario
theirs = jaxmarl.make("HeuristicEnemySMAX", scenario=map_name_to_scenario("3m"), use_self_play_reward=False,
                      walls_cause_death=True, see_enemy_actions=False, action_type="discrete",
                      observation_type="unit_list")
mine = ours.make_smax("3m")
import jax
key = jax.random.PRNGKey(7)
obs_a, state_a = mine.reset(key)
obs_b, state_b = theirs.reset(key)
same = all(np.array_equal(obs_a[k], obs_b[k]) for k in obs_a)
print(left, hasattr(jaxmarl.environments, "storm"), type(theirs).__name__ == type(mine).__name__, same)
"""


def test_smax_import_skips_the_other_jaxmarl_envs_and_leaves_jaxmarl_importable():
    """The adapter loads only JaxMARL's SMAX modules (not the package's other envs) and leaves no stand-in behind:
    a later `import jaxmarl` is the complete package, whose HeuristicEnemySMAX resets like ours."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[] True True True"
