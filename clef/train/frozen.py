"""Stage 2 with a locked EEG encoder: each session's token states are computed once and reused.

With ``TrainConfig.freeze_encoder`` the alignment stage trains only the attention pool, the EEG
projection and the text/EHR towers (LiT-style "locked" tuning of the EEG side). The encoder's
states then never change, so they are computed once per training session (float16, in memory:
sessions x tokens x d_model x 2 bytes, 145 MB for clef-tiny on 1,516 ten-minute sessions) and
batches carry them instead of the spectrogram patches. Steps cost a pool and three projections.
"""
from __future__ import annotations

import numpy as np
import torch

from clef.tokens import Tokens
from clef.train.data import Batch, PretrainData


class FrozenStates:
    """Token states of every training session under a locked encoder.

    Parameters
    ----------
    model : clef.model.CLEFModel
        Its ``eeg`` encoder must not change while this cache is used.
    data : PretrainData
    device : torch.device
    """

    def __init__(self, model, data: PretrainData, device):
        self.model = model
        self.data = data
        self.device = device
        n = len(data)
        self.states: list[torch.Tensor | None] = [None] * n  # (n_i, d_model) float16
        self.meta: list[tuple | None] = [None] * n  # (time_idx, region_idx, band_idx) (n_i,)
        self.time_patch_s = 0.0

    def fill(self, rows, batch_size: int = 16, progress: bool = False) -> None:
        """Encode the sessions of ``rows`` not yet cached (no gradient, encoder in eval mode)."""
        from tqdm.auto import tqdm

        todo = [int(i) for i in rows if self.states[int(i)] is None]
        enc = self.model.eeg
        was_training = enc.training
        enc.eval()
        starts = range(0, len(todo), batch_size)
        with torch.no_grad():
            for s in tqdm(starts, desc="encode sessions (locked encoder)", unit="batch",
                          disable=not progress or not todo):
                idx = todo[s:s + batch_size]
                tokens = self.data.tokens(idx)
                states = enc(tokens.to(self.device), pool=False).float().cpu()  # (b, N, d)
                self.time_patch_s = tokens.time_patch_s
                for b, i in enumerate(idx):
                    m = tokens.mask[b]
                    self.states[i] = states[b][m].to(torch.float16)
                    self.meta[i] = (tokens.time_idx[b][m], tokens.region_idx[b][m],
                                    tokens.band_idx[b][m])
        enc.train(was_training)

    def save(self, path) -> int:
        """Write the cached states to ``path`` (.npz, no pickle); returns sessions written."""
        from clef.fileio import atomic_write

        done = [i for i, s in enumerate(self.states) if s is not None]
        if not done:
            return 0
        lens = np.asarray([len(self.states[i]) for i in done], np.int64)
        arrays = {
            "ids": np.asarray([self.data.ids[i] for i in done]),
            "lens": lens,
            "states": torch.cat([self.states[i] for i in done]).numpy(),  # (sum n_i, d) f16
            "time_patch_s": np.asarray([self.time_patch_s]),
        }
        for k, name in enumerate(("time_idx", "region_idx", "band_idx")):
            arrays[name] = torch.cat([self.meta[i][k] for i in done]).numpy()
        atomic_write(path, lambda tmp: np.savez(tmp, **arrays), keep_suffix=True)
        return len(done)

    def load(self, path) -> int:
        """Read states written by :meth:`save` for the sessions of this dataset; returns how many
        were found. Only valid for the same locked encoder and tokenizer (the caller keys the
        file name by both)."""
        with np.load(path, allow_pickle=False) as z:
            ids, lens = z["ids"].tolist(), z["lens"]
            starts = np.concatenate([[0], np.cumsum(lens)])
            row = {sid: i for i, sid in enumerate(self.data.ids)}
            states = torch.from_numpy(z["states"])
            meta = [torch.from_numpy(z[n]) for n in ("time_idx", "region_idx", "band_idx")]
            self.time_patch_s = float(z["time_patch_s"][0])
        found = 0
        for k, sid in enumerate(ids):
            i = row.get(sid)
            if i is None:
                continue
            a, b = int(starts[k]), int(starts[k + 1])
            self.states[i] = states[a:b].clone()
            self.meta[i] = tuple(m[a:b].clone() for m in meta)
            found += 1
        return found

    def batch(self, index: np.ndarray, seed: int, stage: int, step: int) -> Batch:
        """Like ``PretrainData.batch`` but tokens carry no patch values; ``states`` is set."""
        index = np.asarray(index)
        self.fill(index)
        lens = [len(self.states[i]) for i in index]
        B, N = len(index), max(lens)
        d = self.states[int(index[0])].shape[-1]
        states = torch.zeros(B, N, d)
        time_idx, region_idx, band_idx = (torch.zeros(B, N, dtype=torch.long) for _ in range(3))
        mask = torch.zeros(B, N, dtype=torch.bool)
        for b, i in enumerate(index):
            n = lens[b]
            states[b, :n] = self.states[i].float()
            t, r, f = self.meta[i]
            time_idx[b, :n], region_idx[b, :n], band_idx[b, :n] = t, r, f
            mask[b, :n] = True
        tokens = Tokens(torch.zeros(B, N, 0), time_idx, region_idx, band_idx, mask,
                        self.time_patch_s)
        return self.data.batch(index, seed, stage, step, tokens=tokens, states=states)


__all__ = ["FrozenStates"]
