"""Distributed-run plumbing for pretraining: which rank this is, joining torchrun's process group,
barriers and rank-averaged logs (all no-ops in a single process)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistInfo:
    """This process's place in the run: rank, world size, local rank (one GPU per local rank)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    owns_group: bool = False  # we called init_process_group (and destroy it at the end)

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed(device_hint: str | None = None) -> DistInfo:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1), or reuse one already up.

    Backend: nccl on CUDA, gloo on CPU.
    """
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(),
                        int(os.environ.get("LOCAL_RANK", dist.get_rank())), False)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    use_cuda = torch.cuda.is_available() and (device_hint is None or "cuda" in device_hint)
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(),
                    int(os.environ.get("LOCAL_RANK", "0")), True)


def barrier(di: DistInfo) -> None:
    """Wait for every rank (a no-op in a single process)."""
    if di.world > 1:
        dist.barrier()


def reduce_logs(logs: dict, di: DistInfo) -> dict[str, float]:
    """Scalar tensors ``{name: value}`` as floats, averaged over the ranks."""
    keys = sorted(logs)
    if not keys:
        return {}
    v = torch.stack([logs[k].float().detach().cpu() for k in keys])
    if di.world > 1:
        dist.all_reduce(v)
        v /= di.world
    return {k: float(x) for k, x in zip(keys, v)}
