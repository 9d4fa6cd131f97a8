"""MARIE reproduction suite: a clean re-implementation of MARIE (Zhang et al., TMLR 2025) and its baselines.

Importing the package is cheap: simulators, JAX and the models are imported lazily where they are used.
"""

__version__ = "0.1.0"
