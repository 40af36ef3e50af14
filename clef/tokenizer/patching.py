"""3-D patching of a (channels, windows, freqs) volume into tokens, its exact inverse, and batching.

A token is one (channel group x time patch x frequency band) block, flattened in
(group channel, window, bin) order. Every group is zero-padded to the largest group's channel
count, the last time patch to ``windows_per_patch`` windows and the last band to
``bins_per_band`` bins, so ``patch_dim`` is fixed per config and the padding sits at fixed,
known positions (``PatchLayout.valid``). Tokens are ordered time-major, then group, then band.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from clef.channels import REGIONS, STANDARD_CHANNELS
from clef.tokens import Tokens


@dataclass(frozen=True)
class PatchLayout:
    """Sizes of the patch grid.

    Attributes
    ----------
    groups : tuple of tuple of int
        Channel indices (into ``STANDARD_CHANNELS``) of each group (region or single channel).
    group_names : tuple of str
    windows_per_patch, n_freqs, n_bands, bins_per_band : int
    """

    groups: tuple[tuple[int, ...], ...]
    group_names: tuple[str, ...]
    windows_per_patch: int
    n_freqs: int
    n_bands: int
    bins_per_band: int

    @classmethod
    def from_config(cls, config) -> PatchLayout:
        index = {name: i for i, name in enumerate(STANDARD_CHANNELS)}
        if config.channel_groups == "regions":
            names = tuple(REGIONS)
            groups = tuple(tuple(index[ch] for ch in REGIONS[r]) for r in names)
        else:
            names = tuple(STANDARD_CHANNELS)
            groups = tuple((i,) for i in range(len(STANDARD_CHANNELS)))
        return cls(groups, names, int(config.windows_per_patch), config.n_freqs,
                   int(config.n_bands), config.bins_per_band)

    @property
    def n_channels(self) -> int:
        return len(STANDARD_CHANNELS)

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def group_size(self) -> int:
        return max(len(g) for g in self.groups)

    @property
    def patch_dim(self) -> int:
        return self.group_size * self.windows_per_patch * self.bins_per_band

    def gather_index(self) -> torch.Tensor:
        """(groups, group_size) channel index; ``n_channels`` points at an all-zero pad row."""
        idx = np.full((self.n_groups, self.group_size), self.n_channels, dtype=np.int64)
        for g, chans in enumerate(self.groups):
            idx[g, : len(chans)] = chans
        return torch.from_numpy(idx)

    def valid(self) -> torch.Tensor:
        """bool (groups, bands, patch_dim): True where a value comes from a real channel and bin.

        The last time patch of a session may also hold padded windows (see ``n_windows``).
        """
        ok = np.zeros((self.n_groups, self.group_size, self.windows_per_patch,
                       self.n_bands, self.bins_per_band), dtype=bool)
        for g, chans in enumerate(self.groups):
            ok[g, : len(chans)] = True
        freq_ok = (np.arange(self.n_bands * self.bins_per_band) < self.n_freqs)
        ok &= freq_ok.reshape(1, 1, 1, self.n_bands, self.bins_per_band)
        # (groups, gsize, wpp, bands, bpb) -> (groups, bands, gsize*wpp*bpb): same order as patch()
        ok = ok.transpose(0, 3, 1, 2, 4)
        return torch.from_numpy(ok.reshape(self.n_groups, self.n_bands, -1))

    def n_time_patches(self, n_windows: int) -> int:
        return -(-n_windows // self.windows_per_patch)

    def n_tokens(self, n_windows: int) -> int:
        return self.n_time_patches(n_windows) * self.n_groups * self.n_bands


def patch(volume: torch.Tensor, layout: PatchLayout) -> tuple[torch.Tensor, ...]:
    """Cut sessions' volumes into tokens.

    Parameters
    ----------
    volume : torch.Tensor
        (channels, windows, freqs) or (batch, channels, windows, freqs), channels in
        ``STANDARD_CHANNELS`` order.
    layout : PatchLayout

    Returns
    -------
    values : torch.Tensor, ([batch,] n_tokens, patch_dim)
    time_idx, region_idx, band_idx : torch.Tensor, int64, (n_tokens,) (same for every session)
    """
    *lead, n_ch, n_win, n_f = volume.shape
    if len(lead) > 1 or n_ch != layout.n_channels or n_f != layout.n_freqs:
        raise ValueError(f"volume shape {tuple(volume.shape)} does not match the layout "
                         f"([batch,] {layout.n_channels} channels, windows, {layout.n_freqs} freqs)")
    wpp, nb, bpb = layout.windows_per_patch, layout.n_bands, layout.bins_per_band
    n_t = layout.n_time_patches(n_win)
    g, gs = layout.n_groups, layout.group_size
    # Filled channel by channel (peak memory: the output plus one padded channel).
    out = volume.new_zeros(*lead, n_t, g, nb, gs, wpp, bpb)  # ([b,] tpatch, group, band, gch, window, bin)
    chan = volume.new_zeros(*lead, n_t * wpp, nb * bpb)  # one channel, windows/freqs zero-padded
    for gi, chans in enumerate(layout.groups):
        for j, c in enumerate(chans):
            chan[..., :n_win, :n_f] = volume[..., c, :, :]
            # ([b,] windows, freqs) -> ([b,] tpatch, window, band, bin) -> ([b,] tpatch, band, window, bin)
            blocks = chan.reshape(*lead, n_t, wpp, nb, bpb).transpose(-3, -2)
            out[..., gi, :, j, :, :] = blocks
    values = out.reshape(*lead, n_t * g * nb, gs * wpp * bpb)  # ([b,] n_tokens, patch_dim)
    t_idx, r_idx, b_idx = torch.meshgrid(torch.arange(n_t), torch.arange(g), torch.arange(nb),
                                         indexing="ij")
    dev = volume.device
    return (values, t_idx.reshape(-1).to(dev), r_idx.reshape(-1).to(dev),
            b_idx.reshape(-1).to(dev))


def unpatch(values: torch.Tensor, time_idx: torch.Tensor, region_idx: torch.Tensor,
            band_idx: torch.Tensor, layout: PatchLayout, n_windows: int | None = None) -> torch.Tensor:
    """Exact inverse of :func:`patch`, placing each token by its indices (order does not matter).

    Parameters
    ----------
    values : torch.Tensor, (n_tokens, patch_dim)
    time_idx, region_idx, band_idx : torch.Tensor, (n_tokens,)
    layout : PatchLayout
    n_windows : int, optional
        Crop the zero-padded windows of the last time patch (default: keep all).

    Returns
    -------
    torch.Tensor
        (channels, windows, freqs).
    """
    wpp, nb, bpb = layout.windows_per_patch, layout.n_bands, layout.bins_per_band
    g, gs = layout.n_groups, layout.group_size
    n_t = int(time_idx.max()) + 1 if time_idx.numel() else 0
    grid = values.new_zeros(n_t, g, nb, gs * wpp * bpb)  # (tpatch, group, band, patch_dim)
    grid[time_idx, region_idx, band_idx] = values
    grid = grid.reshape(n_t, g, nb, gs, wpp, bpb).permute(1, 3, 0, 4, 2, 5)
    grid = grid.reshape(g * gs, n_t * wpp, nb * bpb)  # (group channel, windows, freqs)
    out = values.new_zeros(layout.n_channels, n_t * wpp, layout.n_freqs)
    idx = layout.gather_index().reshape(-1)
    real = idx < layout.n_channels
    out[idx[real].to(values.device)] = grid[real.to(values.device), :, : layout.n_freqs]
    if n_windows is not None:
        out = out[:, :n_windows]
    return out


def collate(items: list[tuple[torch.Tensor, ...]], time_patch_s: float) -> Tokens:
    """Pad per-session ``(values, time_idx, region_idx, band_idx)`` to one :class:`Tokens` batch."""
    if not items:
        raise ValueError("collate: no sessions to batch; pass at least one")
    if len(items) == 1:  # one session: no padding, no copy
        v, t, r, bb = items[0]
        mask = torch.ones(1, v.shape[0], dtype=torch.bool, device=v.device)
        return Tokens(v.to(torch.float32)[None], t[None], r[None], bb[None], mask, float(time_patch_s))
    n_max = max(int(v.shape[0]) for v, *_ in items)
    dim = int(items[0][0].shape[1])
    dev = items[0][0].device
    b = len(items)
    values = torch.zeros(b, n_max, dim, dtype=torch.float32, device=dev)
    t_idx = torch.zeros(b, n_max, dtype=torch.int64, device=dev)
    r_idx = torch.zeros_like(t_idx)
    b_idx = torch.zeros_like(t_idx)
    mask = torch.zeros(b, n_max, dtype=torch.bool, device=dev)
    for i, (v, t, r, bb) in enumerate(items):
        n = int(v.shape[0])
        values[i, :n] = v
        t_idx[i, :n] = t
        r_idx[i, :n] = r
        b_idx[i, :n] = bb
        mask[i, :n] = True
    return Tokens(values, t_idx, r_idx, b_idx, mask, float(time_patch_s))


def collate_tokens(batch: list[Tokens]) -> Tokens:
    """Concatenate :class:`Tokens` (e.g. single sessions from a ``TokenCache``) into one padded batch."""
    if not batch:
        raise ValueError("collate_tokens: empty list; pass at least one Tokens")
    spans = {float(t.time_patch_s) for t in batch}
    if len(spans) != 1:
        raise ValueError(f"collate_tokens: Tokens from different configs (time_patch_s {sorted(spans)})")
    items = []
    for tok in batch:
        for i in range(tok.batch_size):
            m = tok.mask[i]
            items.append((tok.values[i][m], tok.time_idx[i][m], tok.region_idx[i][m],
                          tok.band_idx[i][m]))
    return collate(items, spans.pop())
