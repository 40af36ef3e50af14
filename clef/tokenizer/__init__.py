"""Multitaper spectrogram tokenizer: whole sessions -> 3-D patch tokens.

>>> tok = MultitaperTokenizer(TokenizerConfig.base())     # or .tiny() for CPU models
>>> tokens = tok.tokenize([session_a, session_b])          # Tokens, padded, mask = real
>>> vol = tok.untokenize(tokens, 0)                        # (channels, windows, freqs)
>>> power = tok.spectrogram(x)                             # (batch, channels, windows, freqs)
>>> vq = make_tokenizer(TokenizerConfig(..., kind="vq", vq_path=folder))  # learned codes (vq.py)

Details (the DPSS kernel, normalization, lengths, what happens above a model's context) in
``tokenizer.py``.
"""
from clef.tokenizer.cache import TokenCache
from clef.tokenizer.config import TOKENIZER_VERSION, TokenizerConfig
from clef.tokenizer.patching import PatchLayout, collate_tokens
from clef.tokenizer.tokenizer import MultitaperTokenizer, dpss_tapers, multitaper_power
from clef.tokenizer.vq_tokenizer import VQTokenizer, make_tokenizer

__all__ = [
    "TOKENIZER_VERSION",
    "MultitaperTokenizer",
    "PatchLayout",
    "TokenCache",
    "TokenizerConfig",
    "VQTokenizer",
    "collate_tokens",
    "dpss_tapers",
    "make_tokenizer",
    "multitaper_power",
]
