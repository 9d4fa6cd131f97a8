"""A checkpoint holds tensors and plain Python values only, so that it loads with ``torch.load(weights_only=True)``
(a tampered run directory cannot run code through the unpickler).

Agents and the RNG capture hold numpy arrays (replay buffers, the numpy RNG state): ``encode`` wraps each in a
one-key dict around a tensor that shares its memory, ``decode`` turns it back into the same numpy array (dtype and
shape included). Anything else (a custom class, a dataclass) is refused when the checkpoint is written, naming where
it sits, rather than becoming unloadable later.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_ARRAY, _SCALAR = "__ndarray__", "__npscalar__"
_PLAIN = (str, int, float, bool, type(None))


def encode(obj: Any, where: str = "state") -> Any:
    """``obj`` with every numpy array/scalar wrapped as a tensor; TypeError for values weights_only cannot load."""
    if isinstance(obj, torch.Tensor) or isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, np.ndarray):
        return {_ARRAY: _tensor(obj, where)}
    if isinstance(obj, np.generic):
        return {_SCALAR: _tensor(np.asarray(obj), where)}
    if isinstance(obj, dict):
        return {key: encode(value, f"{where}[{key!r}]") for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [encode(value, f"{where}[{i}]") for i, value in enumerate(obj)]
        return items if isinstance(obj, list) else tuple(items)
    raise TypeError(
        f"checkpoint {where} is a {type(obj).__module__}.{type(obj).__qualname__}: an agent's state_dict may hold "
        "only tensors, numpy arrays and plain Python values (dict, list, tuple, str, numbers, None)"
    )


def _tensor(array: np.ndarray, where: str) -> torch.Tensor:
    try:
        return torch.from_numpy(array if array.flags.c_contiguous else np.ascontiguousarray(array))  # keeps 0-d
    except TypeError:
        raise TypeError(f"checkpoint {where}: numpy dtype {array.dtype} has no tensor equivalent") from None


def decode(obj: Any) -> Any:
    """Inverse of ``encode``."""
    if isinstance(obj, dict):
        if len(obj) == 1 and _ARRAY in obj:
            return obj[_ARRAY].numpy()
        if len(obj) == 1 and _SCALAR in obj:
            return obj[_SCALAR].numpy()[()]
        return {key: decode(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [decode(value) for value in obj]
    if isinstance(obj, tuple):
        return tuple(decode(value) for value in obj)
    return obj


def non_finite(obj: Any, where: str = "agent") -> str | None:
    """The first floating-point tensor (a model, optimiser or normaliser state) holding NaN/inf, as a path; None if
    all are finite. Replay buffers (numpy) are data, not learned state, and are not checked."""
    if isinstance(obj, torch.Tensor):
        return where if obj.is_floating_point() and not bool(torch.isfinite(obj).all()) else None
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        found = non_finite(value, f"{where}.{key}")
        if found:
            return found
    return None
