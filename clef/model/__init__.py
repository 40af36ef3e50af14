"""The CLEF model: session encoder, text and EHR towers, losses and checkpoints."""
from clef.model.clef_model import CLEFModel
from clef.model.config import (
    DecoderConfig,
    EHRConfig,
    EncoderConfig,
    ModelConfig,
    ShortWindowConfig,
    TextConfig,
    available_configs,
)
from clef.model.ehr import EHRTower, build_ehr_vocab
from clef.model.encoder import SessionEncoder, token_times
from clef.model.losses import ClipLoss, MaskedReconLoss
from clef.model.text import TextFeatureCache, TextTower, preprocess_report

__all__ = [
    "CLEFModel",
    "ClipLoss",
    "DecoderConfig",
    "EHRConfig",
    "EHRTower",
    "EncoderConfig",
    "MaskedReconLoss",
    "ModelConfig",
    "SessionEncoder",
    "ShortWindowConfig",
    "TextConfig",
    "TextFeatureCache",
    "TextTower",
    "available_configs",
    "build_ehr_vocab",
    "preprocess_report",
    "token_times",
]
