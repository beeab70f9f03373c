"""Run by tests/search/test_distributed.py under ``torch.distributed.run`` (2 CPU processes, gloo).

Usage: ``python -m torch.distributed.run --nproc_per_node 2 tests/search/_dist_search_worker.py INDEX OUT K``.
Each rank loads its shard of INDEX, searches OUT/queries.npy and writes OUT/rank<r>.npz.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from torchreid.search import load_shard, sharded_search


def main() -> None:
    folder, out, k = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    shard = load_shard(folder)
    d, i = sharded_search(shard, np.load(out / "queries.npy"), k)
    np.savez(out / f"rank{rank}.npz", d=d, i=i, n=len(shard), first=shard.ids[:1])
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
