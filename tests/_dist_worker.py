"""Run ``scripts/main.py`` under ``torchrun`` and dump what tests/test_distributed.py checks.

Usage (from the test): ``python -m torch.distributed.run --nproc_per_node 2 tests/_dist_worker.py OUT_DIR
<main.py arguments>``. Each rank writes ``OUT_DIR/rank<r>.pt`` with its trained parameters and the training
indices its sampler produced for epoch 0 (outside the run's save_dir, which only rank 0 may write to).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO))

import main as cli  # noqa: E402  (scripts/main.py)
import torch  # noqa: E402

from torchreid.utils import distributed as D  # noqa: E402


def sampler_indices(loader) -> list[int]:
    batch_sampler = getattr(loader, "batch_sampler", None)
    sampler = getattr(loader, "sampler", None)
    for obj in (sampler, batch_sampler):
        if obj is not None and hasattr(obj, "set_epoch"):
            obj.set_epoch(0)
    if batch_sampler is not None:
        return [int(i) for batch in batch_sampler for i in batch]
    return [int(i) for i in sampler]


def main() -> None:
    out = Path(sys.argv[1])
    torch.set_num_threads(1)
    engine = cli.main(sys.argv[2:])
    rank = D.get_rank()
    assert D.get_world_size() == int(os.environ["WORLD_SIZE"]) == 2, "not running distributed"

    # evaluation gathering: uneven shards come back complete and in rank order
    feats = torch.full((rank + 1, 3), float(rank))
    f, pids, camids = D.gather_features(feats, [rank] * (rank + 1), [10 + rank] * (rank + 1))
    assert f[:, 0].tolist() == [0.0, 1.0, 1.0] and pids.tolist() == [0, 1, 1], (f, pids)
    assert camids.tolist() == [10, 11, 11]

    params = {k: v.detach().cpu().clone() for k, v in D.unwrap_model(engine.model).named_parameters()}
    buffers = {k: v.detach().cpu().clone() for k, v in D.unwrap_model(engine.model).named_buffers()}
    torch.save(
        {
            "params": params,
            "buffers": buffers,
            "indices": sampler_indices(engine.datamanager.train_loader),
            "rank": rank,
        },
        out / f"rank{rank}.pt",
    )
    D.barrier()
    D.cleanup()


if __name__ == "__main__":
    main()
