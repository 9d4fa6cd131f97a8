"""Names shown to readers: environments, simulators, metrics, methods. SMAX is never called SMAC."""

from __future__ import annotations

from marie.contract import EVAL_RETURN, EVAL_SCORE, EVAL_WIN_RATE

# What each env family key (marie.contract.ENV_FAMILIES) is, as printed in figures and tables.
ENV_LABELS = {
    "smax": "SMAX (JaxMARL)",
    "starcraft": "SMAC (StarCraft II)",
    "pettingzoo": "MPE (PettingZoo/mpe2)",
    "mamujoco": "MAMuJoCo (gymnasium-robotics v5)",
    "football": "Google Research Football",
}

# Simulators the suite runs, used to decide whether a reported number was measured on the same one.
SIMULATORS = {
    "smax": "SMAX (JaxMARL 0.2)",
    "starcraft": "SMAC (StarCraft II)",
    "pettingzoo": "MPE (mpe2)",
    "mamujoco": "MAMuJoCo v5 (gymnasium-robotics)",
    "football": "Google Research Football",
}

# A SMAX map is compared against the paper's SMAC number of the same map name, labelled as a stand-in.
STAND_IN_FOR = {"smax": "starcraft"}

# The metric each env family is plotted and tabulated with.
PRIMARY_METRIC = {
    "smax": EVAL_WIN_RATE,
    "starcraft": EVAL_WIN_RATE,
    "pettingzoo": EVAL_RETURN,
    "mamujoco": EVAL_RETURN,
    "football": EVAL_SCORE,
}

METRIC_LABELS = {
    EVAL_WIN_RATE: "eval win rate (%)",
    EVAL_RETURN: "eval episode return",
    EVAL_SCORE: "eval score",
}

# Metrics bounded in [0, 1]: shown in percent and aggregated across maps without normalisation.
BOUNDED_METRICS = {EVAL_WIN_RATE}

EVAL_MODE_LABELS = {
    # Episodes per evaluation are the protocol's (10, 32) unless a suite sets them: the report's protocol table
    # gives them per map, as the runs recorded them.
    "paper": "paper protocol (every ~500 env steps, discrete actions sampled at T=1, continuous ones the mean)",
    "standard": "standard protocol (32 greedy episodes per evaluation)",
}

BAND_LABELS = {"sd": "\u00b11 standard deviation across seeds", "minmax": "min..max across seeds"}


def env_label(env: str) -> str:
    return ENV_LABELS.get(env, env)


def map_label(env: str, map_name: str) -> str:
    """E.g. '3m (SMAX stand-in)'; SMAX maps always carry the stand-in label."""
    if env == "smax":
        return f"{map_name} (SMAX stand-in)"
    return f"{map_name} ({env_label(env)})"


def method_name(name: str) -> str:
    """Canonical method name: registered algo keys and baseline names compare upper-cased (marie -> MARIE)."""
    return name.strip().upper()


def primary_metric(env: str) -> str:
    return PRIMARY_METRIC.get(env, EVAL_RETURN)


def format_steps(steps: float) -> str:
    steps = int(steps)
    if steps >= 1_000_000 and steps % 100_000 == 0:
        return f"{steps / 1_000_000:g}M"
    if steps >= 1000 and steps % 100 == 0:
        return f"{steps / 1000:g}K"
    return str(steps)


def figure_title(fig, lines: list[str], fontsize: int = 10) -> None:
    """A suptitle wrapped to the figure's width, so long captions are never cut off."""
    import textwrap

    width = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize)))
    text = "\n".join(textwrap.fill(line, width) for line in lines)
    fig.suptitle(text, fontsize=fontsize)
