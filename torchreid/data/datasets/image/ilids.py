"""QMUL i-LIDS (Zheng et al., BMVC 2009): 119 identities, 476 images."""

from __future__ import annotations

import os
import os.path as osp
import random
from collections import defaultdict

from .. import register_image_dataset
from ..dataset import ImageDataset
from ._common import SPLIT_SEED, cached_splits, pick_split, require_files

__all__ = ["iLIDS"]


@register_image_dataset("ilids")
class iLIDS(ImageDataset):
    """QMUL-iLIDS.

    Reference: Zheng et al. Associating Groups of People. BMVC 2009.

    Statistics: 119 identities, 476 images (``Persons/0001001.jpg``: pid = first 4 digits, camid = next 3 - 1).

    Protocol: 10 random splits with 59 train identities (all their images); for each of the 60 test identities
    two random images, one query and one gallery. Train pids are relabelled; query/gallery keep raw pids. Cached
    in ``ilids/splits.json`` as image names (relative to ``Persons/``).
    """

    dataset_dir = "ilids"
    dataset_url = "https://www.eecs.qmul.ac.uk/~jason/data/i-LIDS_Pedestrian.tgz"
    layout = "<root>/ilids/i-LIDS_Pedestrian/Persons/0001001.jpg ... (476 images, 119 identities)"

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        self.download_dataset(self.dataset_dir, self.dataset_url)
        self.data_dir = osp.join(self.dataset_dir, "i-LIDS_Pedestrian", "Persons")
        self.split_path = osp.join(self.dataset_dir, "splits.json")
        self.check_before_run([self.dataset_dir, self.data_dir])

        splits = cached_splits(self.split_path, self._make_splits, verbose=kwargs.get("verbose", True))
        split = pick_split(splits, split_id, "ilids")
        names = split["train"] + split["query"] + split["gallery"]
        require_files(
            (osp.join(self.data_dir, n) for n in names), f"iLIDS split {split_id} ({self.split_path})"
        )
        train_pids = sorted({int(n[:4]) for n in split["train"]})
        label = {pid: i for i, pid in enumerate(train_pids)}
        train = [(p, label[pid], camid) for p, pid, camid in self._parse(split["train"])]
        query = self._parse(split["query"])
        gallery = self._parse(split["gallery"])
        super().__init__(train, query, gallery, **kwargs)

    def _parse(self, names: list[str]) -> list[tuple[str, int, int]]:
        return [(osp.join(self.data_dir, n), int(n[:4]), int(n[4:7]) - 1) for n in names]

    def _make_splits(self) -> list[dict]:
        names = sorted(n for n in os.listdir(self.data_dir) if n.lower().endswith(".jpg"))
        by_pid: dict[int, list[str]] = defaultdict(list)
        for n in names:
            try:
                int(n[4:7])
                by_pid[int(n[:4])].append(n)
            except ValueError as e:
                raise ValueError(f"{osp.join(self.data_dir, n)}: iLIDS names are <pid:4><image:3>.jpg") from e
        pids = sorted(by_pid)
        if len(pids) < 2 or any(len(by_pid[p]) < 2 for p in pids):
            raise ValueError(f"{self.data_dir}: iLIDS needs at least 2 identities with 2 images each")
        num_train = len(pids) // 2
        rng = random.Random(SPLIT_SEED)
        splits = []
        for _ in range(10):
            shuffled = pids[:]
            rng.shuffle(shuffled)
            train_pids, test_pids = sorted(shuffled[:num_train]), shuffled[num_train:]
            train = [n for pid in train_pids for n in by_pid[pid]]
            query, gallery = [], []
            for pid in test_pids:
                q, g = rng.sample(by_pid[pid], 2)
                query.append(q)
                gallery.append(g)
            splits.append({"train": train, "query": query, "gallery": gallery})
        return splits


# --- LEGACY: names of the original Torchreid v1.4.0 kept at this path ---
from ....utils.tools import read_json, write_json  # noqa: E402, F401
