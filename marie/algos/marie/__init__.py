"""MARIE (Zhang et al., TMLR 2025): ``config`` (torch-free section, presets, registration), ``agent`` (acting and the
original learner's schedule), ``buffers`` (the two stores of real experience)."""
