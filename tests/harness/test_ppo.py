import torch

from marie.rl.networks import AttentionCritic, MLPActor, StateCritic, StochasticPolicy, sinusoid_table
from marie.rl.ppo import PPOBatch, PPOConfig, ValueNorm, actor_loss, gae_returns, lambda_returns, ppo_update


def test_lambda_returns_hand_computed():
    # T=2, one agent: R_1 = r_1 + g c_1 ((1-l) V_2 + l V_2) = 1 + 0.5*1*2 = 2
    # R_0 = r_0 + g c_0 ((1-l) V_1 + l R_1) = 0 + 0.5*0.5*(0.5*4 + 0.5*2) = 0.75
    rewards = torch.tensor([[0.0], [1.0]])
    conts = torch.tensor([[0.5], [1.0]])
    values = torch.tensor([[9.0], [4.0], [2.0]])
    out = lambda_returns(rewards, conts, values, gamma=0.5, lam=0.5)
    assert torch.allclose(out, torch.tensor([[0.75], [2.0]]))


def test_gae_truncation_bootstraps_and_termination_does_not():
    rewards = torch.tensor([[1.0], [1.0]])
    values = torch.tensor([[0.5], [0.5]])
    next_values = torch.tensor([[0.5], [10.0]])
    adv_trunc, _ = gae_returns(rewards, values, next_values, torch.tensor([[0.0], [0.0]]), 0.9, 1.0)
    adv_term, _ = gae_returns(rewards, values, next_values, torch.tensor([[0.0], [1.0]]), 0.9, 1.0)
    assert torch.isclose(adv_term[1, 0], torch.tensor(0.5))  # 1 - 0.5
    assert torch.isclose(adv_trunc[1, 0], torch.tensor(1 + 0.9 * 10 - 0.5))


def test_actor_loss_clips_the_ratio():
    logits = torch.zeros(4, 1, 2)
    actor_dist = MLPActor(3, 2).distribution(torch.zeros(4, 1, 3))
    actor_dist.logits = logits
    actions = torch.zeros(4, 1, dtype=torch.long)
    old_logp = torch.full((4, 1), torch.log(torch.tensor(0.25)))  # ratio 0.5 / 0.25 = 2 -> clipped to 1.2
    from marie.rl.networks import PolicyDistribution

    dist = PolicyDistribution(logits=logits)
    loss, parts = actor_loss(dist, actions, old_logp, torch.ones(4, 1), clip=0.2, entropy_coef=0.0)
    assert abs(parts["policy_loss"] + 1.2) < 1e-5 and parts["clip_frac"] == 1.0
    del actor_dist


def test_masked_actions_are_never_sampled():
    actor = MLPActor(5, 4)
    avail = torch.tensor([[[False, True, False, True]]]).expand(200, 1, 4)
    actions = actor.distribution(torch.randn(200, 1, 5), avail).sample()
    assert set(actions.unique().tolist()) <= {1, 3}


def test_valuenorm_first_denormalise_scales_by_point_one_then_tracks():
    norm = ValueNorm(beta=0.9)
    assert torch.allclose(norm.denormalize(torch.tensor([1.0])), torch.tensor([0.1]))
    for _ in range(200):
        norm.update(torch.tensor([10.0, 14.0]))
    assert abs(float(norm.denormalize(torch.tensor([0.0]))) - 12.0) < 1e-3


def test_critics_shapes_and_agent_attention():
    feat = torch.randn(7, 3, 5)
    assert AttentionCritic(5, 32)(feat).shape == (7, 3, 1)
    assert StateCritic(11, 3, 16, 2)(torch.randn(7, 11)).shape == (7, 3, 1)
    policy = StochasticPolicy(5, 2, 16, 1, discrete=False)
    dist = policy.distribution(feat)
    assert dist.log_prob(dist.sample()).shape == (7, 3, 2)
    assert torch.allclose(sinusoid_table(4, 6)[0, 1::2], torch.ones(3))  # cos(0) on odd dims


def test_ppo_update_improves_a_bandit():
    torch.manual_seed(0)
    actor, critic = MLPActor(2, 3, 16, 1), AttentionCritic(2, 16)
    cfg = PPOConfig(epochs=4, minibatch_size=64, entropy_coef=0.0)
    a_opt = torch.optim.Adam(actor.parameters(), lr=1e-2)
    c_opt = torch.optim.Adam(critic.parameters(), lr=1e-2)
    feat = torch.ones(256, 2, 2)
    for _ in range(5):
        with torch.no_grad():
            dist = actor.distribution(feat)
            actions = dist.sample()
            old_logp = dist.log_prob(actions)
        reward = (actions == 2).float()
        batch = PPOBatch(feat, feat, actions, old_logp, reward - reward.mean(), reward, torch.zeros_like(reward))
        ppo_update(actor, critic, a_opt, c_opt, batch, cfg)
    probs = torch.softmax(actor(feat[:1]), -1)[0, 0]
    assert probs[2] > 0.8
