"""MAMBA (Egorov & Shpilman, AAMAS 2022) as a runnable baseline: a per-agent discrete-latent RSSM whose prior
transition exchanges information across agents through a transformer, PPO in imagination on the RSSM features.

Modules: ``config`` (torch-free dataclasses, presets, per-env defaults), ``rssm`` (encoder, cross-agent transition,
posterior), ``heads`` (decoder, reward / continuation / avail / action-information heads, the world-model container),
``losses``, ``buffer``, ``imagination`` and ``agent`` (``make(spec, cfg, device)``). Nothing is imported here so that
reading the config does not pull in torch.
"""
