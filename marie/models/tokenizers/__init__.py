"""Per-agent observation tokenizers (spec §2): the interface (``base``), VQ, FSQ, MPE's fixed bins, and the factory."""

from marie.models.tokenizers.base import Tokenizer
from marie.models.tokenizers.factory import build_tokenizer

__all__ = ["Tokenizer", "build_tokenizer"]
