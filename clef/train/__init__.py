"""Two-stage CLEF pretraining: masked spectrogram reconstruction, then EEG<->report/EHR alignment.

Entry points: :func:`pretrain` (library) and ``clef pretrain`` (CLI); DDP under ``torchrun``.
"""
from clef.train.config import STAGES, TrainConfig
from clef.train.data import BatchPlan, PretrainData, select_sessions
from clef.train.loop import evaluate_cohort, lr_at, pretrain
from clef.train.objective import PretrainObjective, set_trainable

__all__ = ["STAGES", "BatchPlan", "PretrainData", "PretrainObjective", "TrainConfig",
           "evaluate_cohort", "lr_at", "pretrain", "select_sessions", "set_trainable"]
