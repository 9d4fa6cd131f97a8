"""Real experience: the ``Episode`` type and its collection from a vectorised env (below algorithms and training)."""
