"""How much of the reward is predictable from what MARIE's world model sees? A diagnostic for a finished run.

Loads a MARIE run directory's checkpoint (its replay buffer and tokenizer) and fits ridge regressions of the stored
reward (in the world model's units, i.e. after `marie.reward_scale`) on the last 80%/20% split of the buffer, from:
raw observations + actions, the tokenizer's reconstruction + actions, and each alone. If the reconstruction explains
far less than the raw observation, the tokenizer is the bottleneck: the world model only ever sees tokens. It also
prints the per-dimension reconstruction error beside each dimension's spread (agent 0). ``--mlp`` adds a nonlinear
check: a small MLP fitted on raw observations + actions and on the tokens themselves (one-hot) + actions.
``--world-model R`` asks whether the world model can learn the reward that is there: it trains a fresh world model
(the run's config, plus any ``--set key=value``) for R rounds of updates on the stored buffer with the run's tokenizer,
then prints its reward error and ridge fits, on the same sampled sequences, from the aggregated token's output (what
the reward head reads) and from each agent's own raw observation + action.

    python scripts/reward_probe.py results/runs/quick/mamujoco/HalfCheetah-2x3/marie/seed1
    python scripts/reward_probe.py RUN --world-model 16 --set marie.world_model.aggregate_init_scale=0.02
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from marie.config import from_dict, parse_override, set_dotted
from marie.contract import CONFIG_FILE
from marie.envs import make_env
from marie.errors import RunDirectoryError, UsageError
from marie.registry import factory
from marie.training.run_dir import RunDirectory


def ridge_mae(features: np.ndarray, target: np.ndarray, train_share: float = 0.8) -> float:
    """Held-out mean absolute error of a ridge fit (with intercept) trained on the first ``train_share`` rows."""
    x = np.concatenate([features.reshape(len(features), -1), np.ones((len(features), 1))], axis=1)
    cut = int(train_share * len(x))
    a, b = x[:cut], target[:cut]
    w = np.linalg.solve(a.T @ a + 1e-3 * np.eye(a.shape[1]), a.T @ b)
    return float(np.abs(x[cut:] @ w - target[cut:]).mean())


def mlp_mae(features: torch.Tensor, target: torch.Tensor, train_share: float = 0.8, steps: int = 3000) -> float:
    """Held-out MAE of a 2x256 ReLU MLP (Smooth-L1, Adam) on standardised features; deterministic (seed 0)."""
    torch.manual_seed(0)
    cut = int(train_share * len(features))
    x = (features - features[:cut].mean(0)) / (features[:cut].std(0) + 1e-6)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, 256),
                              torch.nn.ReLU(), torch.nn.Linear(256, 1))  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(steps):
        idx = torch.randint(0, cut, (256,))
        loss = torch.nn.functional.smooth_l1_loss(net(x[idx]).squeeze(-1), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return float((net(x[cut:]).squeeze(-1) - target[cut:]).abs().mean())


def world_model_fit(loaded, cfg, spec, rounds: int, batches: int = 60) -> dict[str, float]:
    """Train a fresh world model (config ``cfg``) on ``loaded``'s buffer with its tokenizer for ``rounds`` rounds;
    return its last training reward MAE and held-out ridge MAEs of the reward on ``batches`` sampled batches from
    the aggregated token's output and from the raw own observation + action, all in env reward units."""
    torch.manual_seed(0)
    agent = factory("marie")(spec, cfg, torch.device("cpu"))
    agent.tokenizer.load_state_dict(loaded.tokenizer.state_dict())
    agent.buffer = loaded.buffer
    metrics: dict[str, float] = {}
    for done in range(1, rounds + 1):
        metrics = agent.train_world_model()
        print(f"  world model round {done}/{rounds}: training reward MAE {metrics['world_model/reward_mae']:.3f}",
              file=sys.stderr, flush=True)  # fmt: skip
    wm, wc, gen = agent.world_model.eval(), cfg.marie.world_model, torch.Generator().manual_seed(1)
    rows = lambda a: np.asarray(a).swapaxes(1, 2).reshape(-1, *np.shape(a)[3:])  # noqa: E731  (B,T,N,...)->(B*N*T,...)
    hidden, raw, reward = [], [], []
    with torch.no_grad():
        for _ in range(batches):
            sample = agent.buffer.sample(wc.batch_size, wc.max_blocks, "model", cfg.marie.sample_temp, gen)
            batch = agent.world_model_batch(sample, slice(None))
            hidden.append(wm.hidden_states(batch)[:, :, -1].reshape(-1, wm.cfg.embed_dim).numpy())
            own_actions = rows(sample.actions).reshape(len(hidden[-1]), -1)
            raw.append(np.concatenate([rows(sample.obs), own_actions], axis=1))
            reward.append(rows(sample.reward))
    target = np.concatenate(reward).reshape(-1) / cfg.marie.reward_scale
    return {
        "training reward MAE": metrics.get("world_model/reward_mae", float("nan")),
        "MAE of the sampled rewards' median": float(np.abs(target - np.median(target)).mean()),
        "ridge from the aggregated token's output": ridge_mae(np.concatenate(hidden), target),
        "ridge from own raw obs + own action": ridge_mae(np.concatenate(raw), target),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--mlp", action="store_true", help="also fit small MLPs (about a minute on one core)")
    parser.add_argument("--world-model", type=int, default=0, metavar="ROUNDS",
                        help="also train a fresh world model for ROUNDS rounds on the buffer (see above)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="config change for the --world-model fit, e.g. marie.world_model.lr=3e-4")  # fmt: skip
    args = parser.parse_args(argv)
    run = RunDirectory(args.run_dir)
    if not run.has_checkpoint():
        print(f"reward_probe: {run.checkpoint_path} does not exist (a MARIE run directory with a checkpoint is needed)")
        return 2
    try:
        stored = run.existing_config()
        if stored is None:
            print(f"reward_probe: {run.root / CONFIG_FILE} does not exist (a MARIE run directory is needed)")
            return 2
        cfg, probe_cfg = from_dict(stored), from_dict(stored)
        for text in args.overrides:
            set_dotted(probe_cfg, *parse_override(text))
        state = run.load_checkpoint()
    except (RunDirectoryError, UsageError) as exc:
        print(f"reward_probe: {exc}")
        return 2
    if cfg.run.algo != "marie":
        print(f"reward_probe: {args.run_dir} is a {cfg.run.algo!r} run; only 'marie' runs have a tokenizer")
        return 2
    env = make_env(cfg.env.env, cfg.env.env_name, cfg.env.agent_conf, 1, **cfg.env.adapter_kwargs())
    agent = factory("marie")(env.spec, cfg, torch.device("cpu"))
    agent.load_state_dict(state["agent"])
    env.close()

    arrays, n = agent.buffer.arrays, agent.buffer.size
    obs, actions = arrays["obs"][:n], arrays["actions"][:n].reshape(n, -1).astype(np.float32)
    reward = arrays["reward"][:n, 0]
    with torch.no_grad():
        tokens = agent.tokenizer.encode(torch.from_numpy(obs))
        recon = agent.tokenizer.decode(tokens).numpy()
    flat = lambda a: a.reshape(n, -1)  # noqa: E731
    print(f"{args.run_dir}: {n} stored steps; reward std {reward.std():.3f}, "
          f"MAE of predicting the median {np.abs(reward - np.median(reward)).mean():.3f}")  # fmt: skip
    rows = {
        "raw obs + actions": np.concatenate([flat(obs), actions], axis=1),
        "reconstructed obs + actions": np.concatenate([flat(recon), actions], axis=1),
        "raw obs": flat(obs),
        "reconstructed obs": flat(recon),
    }
    for name, features in rows.items():
        print(f"  linear fit on {name:<28} held-out MAE {ridge_mae(features, reward):.3f}")
    if args.mlp:
        one_hot = torch.nn.functional.one_hot(tokens, agent.tokenizer.vocab_size).float().reshape(n, -1)
        act_t, reward_t = torch.from_numpy(actions), torch.from_numpy(reward)
        raw = mlp_mae(torch.cat([torch.from_numpy(flat(obs)), act_t], dim=1), reward_t)
        via_tokens = mlp_mae(torch.cat([one_hot, act_t], dim=1), reward_t)
        print(f"  MLP fit on {'raw obs + actions':<33} held-out MAE {raw:.3f}")
        print(f"  MLP fit on {'tokens (one-hot) + actions':<33} held-out MAE {via_tokens:.3f}")
    if args.world_model > 0:
        fit = world_model_fit(agent, probe_cfg, env.spec, args.world_model)
        print(f"  a fresh world model after {args.world_model} rounds, reward MAE in env units"
              + (f" ({', '.join(args.overrides)})" if args.overrides else "") + ":")  # fmt: skip
        for name, value in fit.items():
            print(f"    {name:<44} {value:.3f}")
    np.set_printoptions(precision=2, suppress=True, linewidth=120)
    print("  agent 0, per obs dimension: reconstruction error (mean abs)", np.abs(recon - obs)[:, 0].mean(0))
    print("  agent 0, per obs dimension: spread (std)                   ", obs[:, 0].std(0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
