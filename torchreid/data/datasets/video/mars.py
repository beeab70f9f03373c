"""MARS (Zheng et al., ECCV 2016): 1,261 identities, 6 cameras, ~20k tracklets from DPM + GMMCP tracking."""

from __future__ import annotations

import os.path as osp
import warnings

import numpy as np

from .. import register_video_dataset
from ..dataset import VideoDataset
from ._common import loadmat_checked

__all__ = ["Mars"]


def _int_matrix(path: str, key: str) -> np.ndarray:
    mat = loadmat_checked(path)
    if key not in mat:
        raise ValueError(
            f"{path} has no variable {key!r} (found: {', '.join(k for k in mat if not k.startswith('__'))})"
        )
    return np.asarray(mat[key]).astype(np.int64)


@register_video_dataset("mars")
class Mars(VideoDataset):
    """MARS.

    Reference: Zheng et al. MARS: A Video Benchmark for Large-Scale Person Re-identification. ECCV 2016.
    URL: http://www.liangzheng.com.cn/Project/project_mars.html

    Statistics: 1,261 identities (625 train, 636 test), 6 cameras; train 8,298 tracklets, query 1,980,
    gallery 9,330 (junk tracklets with pid -1 are dropped).

    Frames are named ``0001C1T0001F001.jpg`` (pid, camera, tracklet, frame). ``info/tracks_*_info.mat`` holds one
    row ``[start, end, pid, camid]`` per tracklet (1-based, inclusive rows of ``info/*_name.txt``);
    ``info/query_IDX.mat`` lists the (1-based) rows of the test tracks used as queries, the rest form the gallery.
    """

    dataset_dir = "mars"
    dataset_url = None
    layout = (
        "<root>/mars/\n"
        "  bbox_train/<pid>/<pid>C<cam>T<track>F<frame>.jpg\n"
        "  bbox_test/<pid>/<pid>C<cam>T<track>F<frame>.jpg\n"
        "  info/{train_name.txt, test_name.txt, tracks_train_info.mat, tracks_test_info.mat, query_IDX.mat}\n"
        "Download bbox_train.zip, bbox_test.zip from http://www.liangzheng.com.cn/Project/project_mars.html and the\n"
        "info folder from https://github.com/liangzheng06/MARS-evaluation (info/)."
    )

    def __init__(self, root: str = "", split_id: int = 0, **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        info = osp.join(self.dataset_dir, "info")
        self.train_name_path = osp.join(info, "train_name.txt")
        self.test_name_path = osp.join(info, "test_name.txt")
        self.track_train_info_path = osp.join(info, "tracks_train_info.mat")
        self.track_test_info_path = osp.join(info, "tracks_test_info.mat")
        self.query_IDX_path = osp.join(info, "query_IDX.mat")
        self.check_before_run(
            [
                self.dataset_dir,
                osp.join(self.dataset_dir, "bbox_train"),
                osp.join(self.dataset_dir, "bbox_test"),
                self.train_name_path,
                self.test_name_path,
                self.track_train_info_path,
                self.track_test_info_path,
                self.query_IDX_path,
            ]
        )

        train_names = self._read_names(self.train_name_path)
        test_names = self._read_names(self.test_name_path)
        track_train = _int_matrix(self.track_train_info_path, "track_train_info")
        track_test = _int_matrix(self.track_test_info_path, "track_test_info")
        query_idx = _int_matrix(self.query_IDX_path, "query_IDX").reshape(-1) - 1  # 1-based rows
        if query_idx.size and (query_idx.min() < 0 or query_idx.max() >= len(track_test)):
            raise ValueError(
                f"{self.query_IDX_path}: query rows must be in 1..{len(track_test)} (rows of tracks_test_info.mat)"
            )
        is_query = np.zeros(len(track_test), dtype=bool)
        is_query[query_idx] = True

        train = self._process(train_names, track_train, "bbox_train", relabel=True)
        query = self._process(test_names, track_test[query_idx], "bbox_test", relabel=False)
        gallery = self._process(test_names, track_test[~is_query], "bbox_test", relabel=False)
        super().__init__(train, query, gallery, **kwargs)

    @staticmethod
    def _read_names(path: str) -> list[str]:
        with open(path, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]

    def _process(self, names: list[str], tracks: np.ndarray, home_dir: str, relabel: bool) -> list[tuple]:
        tracks = tracks.reshape(-1, 4)
        if relabel:
            pids = sorted({int(p) for p in tracks[:, 2] if p != -1})
            pid2label = {pid: label for label, pid in enumerate(pids)}
        tracklets = []
        for row, (start, end, pid, camid) in enumerate(tracks.tolist()):
            if pid == -1:
                continue  # junk tracklets
            where = f"{home_dir} track row {row + 1} [{start}, {end}, {pid}, {camid}]"
            if not 1 <= camid <= 6:
                raise ValueError(f"MARS {where}: camera must be in 1..6")
            if not 1 <= start <= end <= len(names):
                raise ValueError(f"MARS {where}: frame rows out of range 1..{len(names)} of the name list")
            img_names = names[start - 1 : end]
            if len({n[:4] for n in img_names}) != 1:
                raise ValueError(f"MARS {where}: the tracklet mixes frames of different identities")
            if len({n[5] for n in img_names}) != 1:
                raise ValueError(f"MARS {where}: the tracklet mixes frames of different cameras")
            paths = tuple(osp.join(self.dataset_dir, home_dir, n[:4], n) for n in img_names)
            tracklets.append((paths, pid2label[pid] if relabel else pid, camid - 1))
        return tracklets

    def combine_all(self) -> None:
        warnings.warn(
            "Some MARS query identities do not appear in the gallery, so combineall is not supported for MARS; "
            "the train set is left unchanged.",
            stacklevel=2,
        )
