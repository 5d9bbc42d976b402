"""Process-group set-up and the few collectives the loop needs.

One code path for every case: a plain ``python -m rlvr.train`` becomes a world of one, ``torchrun`` gives
the ranks; CPU runs use gloo, GPU runs NCCL.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


# The device type the process group's tensors must be on: NCCL works on CUDA tensors only, gloo on CPU ones.
BACKEND_DEVICE = {"nccl": "cuda", "gloo": "cpu"}
_group_device_type: str | None = None  # set by setup_distributed; checked by every tensor collective


@dataclass(frozen=True)
class DistInfo:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device  # where this rank computes
    collective_device: torch.device  # where tensors handed to collectives live: the process group's device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def world_size_from_env() -> int:
    """The world size torchrun/SLURM will give us, known before any process group exists."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def choose_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("trainer.device=cuda but no GPU is visible; use trainer.device=cpu (or auto)")
    return requested


def setup_distributed(device_kind: str) -> DistInfo:
    """Initialise (once per process) the default process group through DeepSpeed."""
    if "RANK" not in os.environ:  # a plain `python -m rlvr.train`: a world of one
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    import deepspeed

    global _group_device_type
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if not dist.is_initialized():
        deepspeed.init_distributed(dist_backend=backend, verbose=False)
    _group_device_type = BACKEND_DEVICE[backend]
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_kind == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, device, collective_device=device)


def rank() -> int:
    return dist.get_rank()


def check_collective_device(values: torch.Tensor) -> torch.Tensor:
    """Refuse a tensor the process group cannot reduce (a CPU tensor under NCCL crashes a CUDA run), with a
    message that says where the tensor should have been put."""
    if _group_device_type is not None and values.device.type != _group_device_type:
        raise RuntimeError(
            f"a collective was handed a {values.device.type} tensor, but the process group reduces "
            f"{_group_device_type} tensors: create it on dist.collective_device"
        )
    return values


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    out = check_collective_device(values).clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_reduce_max(values: torch.Tensor) -> torch.Tensor:
    out = check_collective_device(values).clone()
    dist.all_reduce(out, op=dist.ReduceOp.MAX)
    return out


def gather_to_main(obj: Any) -> list[Any] | None:
    """Every rank's ``obj`` on rank 0 (in rank order); None elsewhere."""
    gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered


def broadcast_from_main(obj: Any) -> Any:
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    dist.barrier()
