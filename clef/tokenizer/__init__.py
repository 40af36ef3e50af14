"""Multitaper spectrogram tokenizer: whole sessions -> 3-D patch tokens (see ``tokenizer.py``)."""
from clef.tokenizer.cache import TokenCache
from clef.tokenizer.config import TOKENIZER_VERSION, TokenizerConfig
from clef.tokenizer.figures import spectrogram_figure
from clef.tokenizer.multitaper import dpss_tapers, multitaper_power
from clef.tokenizer.patching import PatchLayout, collate_tokens
from clef.tokenizer.tokenizer import MultitaperTokenizer

__all__ = [
    "TOKENIZER_VERSION",
    "MultitaperTokenizer",
    "PatchLayout",
    "TokenCache",
    "TokenizerConfig",
    "collate_tokens",
    "dpss_tapers",
    "multitaper_power",
    "spectrogram_figure",
]
