"""`TrainConfig`: every choice of a pretraining run (stored in checkpoints and the model card)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from clef.model.config import EEG_POOLS

STAGES = ("recon", "align", "both")
TEXT_TARGETS = ("findings", "report")
RECON_TARGETS = ("patches", "codes")
MASK_UNITS = ("token", "time", "region")


@dataclass
class TrainConfig:
    """Two-stage CLEF pretraining.

    Stage 1 (``recon``): masked spectrogram reconstruction. Stage 2 (``align``): symmetric InfoNCE
    EEG<->report and EEG<->EHR, plus ``align_recon_weight`` x reconstruction. ``both`` runs stage 1
    then stage 2, each for ``steps`` (or ``epochs``) with its own warm-up and cosine decay.
    """

    cohort: str = ""  # cohort folder (clef.cohort.Cohort.load)
    out: str = ""  # output folder: final checkpoint (model.safetensors, config.json, MODEL_CARD.md)
    config: str = "clef-tiny"  # model config name or JSON path
    arch: str = "session"  # "session" (CLEF) or "short-window" (baseline)
    eeg_pool: str | None = None  # attention pool ("session", "region", ...); None: the config's
    stage: str = "both"  # "recon", "align" or "both"
    steps: int | None = None  # optimizer steps per stage (overrides epochs)
    epochs: float = 10.0  # epochs per stage when steps is None
    batch_size: int = 32  # global batch (split evenly over DDP ranks)
    lr: float = 5e-4  # peak AdamW learning rate
    weight_decay: float = 0.05  # not applied to biases, norms, embeddings, temperatures
    betas: tuple[float, float] = (0.9, 0.98)
    warmup_frac: float = 0.05  # linear warm-up share of each stage's steps (at least 1 step)
    min_lr_frac: float = 0.1  # cosine decays to min_lr_frac * lr
    grad_clip: float = 1.0  # max global grad norm (0 = off)
    mask_ratio: float = 0.6  # share of each session's tokens hidden from the encoder in stage 1
    # What stage 1 hides together: "token" (each token on its own), "time" (every token of a time
    # patch: all regions and bands), "region" (a region's bands at one time patch, so a hidden
    # region is predicted from the others at that moment).
    mask_unit: str = "token"
    # Stage-1 target of the hidden tokens: "patches" (MSE on the patch values) or "codes"
    # (cross-entropy over the VQ codebook; needs a VQ tokenizer, vq_tokenizer or the config's).
    recon_target: str = "patches"
    # Stage-1 session contrast: InfoNCE between the mean-pooled states of two disjoint masked
    # views of each session (the other view keeps the tokens the first one hides), so the
    # mean-pooled embedding keeps what is stable across a session. 0 = off (reconstruction only).
    session_contrast_weight: float = 0.0
    contrast_temperature: float = 0.1  # InfoNCE temperature of the session contrast
    # Stage-1 session summary: the pooled, projected embedding of the visible tokens predicts each
    # region/band's mean spectrum and its variability over the whole session (MSE), so stage 1
    # also trains the pool and projection, and a recon-only model's embedding is that learned
    # one. 0 = off.
    summary_weight: float = 0.0
    # "raw": MSE on the summary numbers as they are; "standard": each number standardized by its
    # mean and standard deviation over the training sessions first, so the numbers that vary
    # little between sessions (rare, local findings) count as much as broad spectral level.
    summary_scale: str = "raw"
    vq_tokenizer: str | None = None  # `clef tokenizer train` folder put into the model config
    token_input: str | None = None  # "patch" or "vq" (None: "vq" with vq_tokenizer, else config's)
    text_weight: float = 1.0  # EEG<->report InfoNCE weight
    ehr_weight: float = 0.5  # EEG<->EHR InfoNCE weight
    align_recon_weight: float = 0.25  # reconstruction term kept in stage 2 (0 = off)
    # Stage 2 text targets. "findings": each session against its affirmed report statements
    # (statements_per_step sampled per step) and its findings summary, with a multi-positive
    # InfoNCE (clef.text.statements); "report": the whole preprocessed report, one positive.
    text_target: str = "findings"
    statements_per_step: int = 2  # affirmed statements sampled per session and step
    negated_negatives: bool = True  # add one negated statement per session as an explicit negative
    # Findings targets also hold the EEG description of each vocabulary finding an affirmed
    # statement names (clef.text.linking.descriptor), so the EEG side learns description words.
    describe_findings: bool = False
    text_keep_weight: float = 1.0  # penalty keeping text-text cosines close to the backbone's
    # Stage 2 leaves the text tower as initialised (locked text, as in LiT): the shared space is
    # the frozen backbone's, so the text side can never forget what the backbone knows.
    freeze_text: bool = True
    # Stage 2 trains only the attention pool, EEG projection and text/EHR towers; the encoder
    # from stage 1 (or init_from) stays locked and its states are computed once per session.
    freeze_encoder: bool = False
    pool_token_drop: float = 0.0  # share of tokens hidden from the pool in stage 2 (augmentation)
    init_from: str | None = None  # checkpoint folder whose encoder/decoder weights start training
    max_logit_scale: float = 4.6052  # ln(100): CLIP's temperature clamp
    seed: int = 0
    sites: list[str] | None = None  # train on these sites only (None = all)
    max_sessions: int | None = None  # cap on training sessions (None = all of split "train")
    eval_sessions: int = 256  # held-out ("test" split) sessions for the model-card metrics
    ckpt_every: int = 200  # steps between checkpoints (a checkpoint is also written at stage ends)
    keep_checkpoints: int = 2  # newest checkpoints kept
    log_every: int = 10  # steps between log lines (train_log.jsonl)
    work_dir: str | None = None  # checkpoints + caches (default: <out>)
    cache_dir: str | None = None  # token and text-feature cache (default: <work_dir>/cache)
    workers: int = 1  # processes for filling the token cache
    device: str | None = None  # default: cuda if available else cpu
    threads: int | None = None  # torch CPU threads (None: torch's default)
    progress: bool = True
    command: str = ""  # the command line, for the model card

    def validate(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage={self.stage!r}; allowed: {STAGES}")
        if self.arch not in ("session", "short-window"):
            raise ValueError(f"arch={self.arch!r}; allowed: 'session', 'short-window'")
        if self.eeg_pool is not None and self.eeg_pool not in EEG_POOLS:
            raise ValueError(f"eeg_pool={self.eeg_pool!r}; allowed: {EEG_POOLS}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size={self.batch_size}; contrastive training needs >= 2")
        if not 0.0 < self.mask_ratio < 1.0:
            raise ValueError(f"mask_ratio={self.mask_ratio}; must be in (0, 1)")
        if self.mask_unit not in MASK_UNITS:
            raise ValueError(f"mask_unit={self.mask_unit!r}; allowed: {MASK_UNITS}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps={self.steps}; must be >= 1")
        if self.steps is None and not self.epochs > 0:
            raise ValueError(f"epochs={self.epochs}; must be > 0 (or pass steps)")
        if self.recon_target not in RECON_TARGETS:
            raise ValueError(f"recon_target={self.recon_target!r}; allowed: {RECON_TARGETS}")
        if self.token_input not in (None, "patch", "vq"):
            raise ValueError(f"token_input={self.token_input!r}; allowed: 'patch', 'vq'")
        if self.session_contrast_weight < 0:
            raise ValueError(f"session_contrast_weight={self.session_contrast_weight}; must be >= 0")
        if self.summary_weight < 0:
            raise ValueError(f"summary_weight={self.summary_weight}; must be >= 0")
        if self.summary_scale not in ("raw", "standard"):
            raise ValueError(f"summary_scale={self.summary_scale!r}; must be 'raw' or 'standard'")
        if self.summary_weight > 0 and self.recon_target != "patches":
            raise ValueError("summary_weight > 0 works with recon_target='patches' only. Fix: "
                             "pass --recon-target patches or --summary-weight 0.")
        if not self.contrast_temperature > 0:
            raise ValueError(f"contrast_temperature={self.contrast_temperature}; must be > 0")
        if self.session_contrast_weight > 0 and self.mask_ratio < 0.5:
            raise ValueError(f"session_contrast_weight needs mask_ratio >= 0.5 (got "
                             f"{self.mask_ratio}) so the two views share no token. Fix: raise "
                             "--mask-ratio or pass --session-contrast 0.")
        if self.text_target not in TEXT_TARGETS:
            raise ValueError(f"text_target={self.text_target!r}; allowed: {TEXT_TARGETS}")
        if self.statements_per_step < 1:
            raise ValueError(f"statements_per_step={self.statements_per_step}; must be >= 1")
        if self.text_keep_weight < 0:
            raise ValueError(f"text_keep_weight={self.text_keep_weight}; must be >= 0")
        if not 0.0 <= self.pool_token_drop < 1.0:
            raise ValueError(f"pool_token_drop={self.pool_token_drop}; must be in [0, 1)")
        if self.freeze_encoder and self.stage == "align" and not self.init_from:
            raise ValueError("freeze_encoder with stage='align' would align a random encoder. Fix: "
                             "pass --init-from a stage-1 (recon) checkpoint, or use --stage both.")
        if self.init_from and self.stage != "align":
            raise ValueError(f"init_from is for stage='align' (got {self.stage!r}): it replaces "
                             "stage 1. Fix: pass --stage align, or drop --init-from.")
        if not self.cohort or not self.out:
            raise ValueError("cohort and out are required. Fix: pass --cohort DIR --out DIR")

    def stages(self) -> list[str]:
        return ["recon", "align"] if self.stage == "both" else [self.stage]

    # Fields that must agree between a run and the checkpoint it resumes from.
    RESUME_KEYS = ("config", "arch", "eeg_pool", "stage", "steps", "epochs", "batch_size", "lr",
                   "weight_decay", "warmup_frac", "min_lr_frac", "mask_ratio", "text_weight",
                   "ehr_weight", "align_recon_weight", "freeze_encoder", "pool_token_drop",
                   "init_from", "seed", "sites", "max_sessions", "text_target",
                   "statements_per_step", "negated_negatives", "text_keep_weight", "freeze_text",
                   "recon_target", "vq_tokenizer", "token_input", "session_contrast_weight",
                   "contrast_temperature", "describe_findings", "summary_weight", "mask_unit",
                   "summary_scale")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(d["betas"])
        return d

