"""What the video engines add to the image engines: frame flattening for training and tracklet pooling for
evaluation (in bounded chunks of frames), plus checks of the video loaders and tracklet rank visualisation.

Used as a mixin placed before the image engine in the class bases, so it only overrides the hooks the base
:class:`~torchreid.engine.Engine` exposes (``parse_data_for_train``, ``extract_features``,
``visualize_ranked_results``).
"""

from __future__ import annotations

import os.path as osp
from typing import Any

import torch

from ...data.datamanager import check_video_loaders

__all__ = ["POOLING_METHODS", "VideoEngineMixin", "check_video_loaders", "pool_features"]

POOLING_METHODS = ("avg", "max")

#: Frames sent through the model at once during evaluation; bounds memory for ``sample_method='all'``.
DEFAULT_EVAL_CHUNK_SIZE = 128


def _check_pooling(pooling_method: str) -> str:
    if pooling_method not in POOLING_METHODS:
        raise ValueError(
            f"Unknown pooling_method {pooling_method!r} for video re-ID; expected one of: {', '.join(POOLING_METHODS)}"
        )
    return pooling_method


def pool_features(features: torch.Tensor, pooling_method: str) -> torch.Tensor:
    """Pool ``(B, S, D)`` frame features over the sequence axis: ``'avg'`` (mean) or ``'max'`` → ``(B, D)``."""
    _check_pooling(pooling_method)
    if features.dim() != 3:
        raise ValueError(f"expected frame features of shape (B, S, D), got {tuple(features.shape)}")
    if pooling_method == "avg":
        return features.mean(dim=1)
    return features.amax(dim=1)


class VideoEngineMixin:
    """Hooks shared by :class:`VideoSoftmaxEngine` and :class:`VideoTripletEngine`.

    - training: a batch ``(B, S, C, H, W)`` becomes ``(B*S, C, H, W)`` frames, each labelled with its tracklet's
      identity (the loss sees frames);
    - evaluation: the frames of each tracklet go through the model in chunks of at most ``eval_chunk_size``
      frames and their features are pooled per tracklet with ``pooling_method`` (``'avg'`` or ``'max'``).
    """

    pooling_method: str = "avg"
    eval_chunk_size: int = DEFAULT_EVAL_CHUNK_SIZE

    def _setup_video(self, pooling_method: str, eval_chunk_size: int) -> None:
        self.pooling_method = _check_pooling(pooling_method)
        if int(eval_chunk_size) < 1:
            raise ValueError(f"eval_chunk_size must be >= 1, got {eval_chunk_size}")
        self.eval_chunk_size = int(eval_chunk_size)
        check_video_loaders(self.datamanager)  # type: ignore[attr-defined]

    def parse_data_for_train(self, data: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        imgs, pids = data["img"], data["pid"]
        if imgs.dim() == 5:
            b, s, c, h, w = imgs.shape
            imgs = imgs.reshape(b * s, c, h, w)
            pids = torch.as_tensor(pids).reshape(b, 1).expand(b, s).reshape(b * s)
        return imgs, pids

    def extract_features(self, input: torch.Tensor) -> torch.Tensor:
        if input.dim() == 4:  # single frames (e.g. an image dataset evaluated with a video engine)
            input = input.unsqueeze(1)
        if input.dim() != 5:
            raise ValueError(
                f"video engines expect tracklet batches (B, S, C, H, W), got {tuple(input.shape)}"
            )
        b, s, c, h, w = input.shape
        frames = input.reshape(b * s, c, h, w)
        accel = self.accel  # type: ignore[attr-defined]
        feats = [
            self.forward_model(accel.prepare_inputs(frames[i : i + self.eval_chunk_size]))  # type: ignore[attr-defined]
            for i in range(0, b * s, self.eval_chunk_size)
        ]
        if isinstance(feats[0], (tuple, list)):
            raise TypeError(
                f"In eval mode the model must return a feature tensor, got a {type(feats[0]).__name__}"
            )
        features = torch.cat(feats, 0).reshape(b, s, -1)
        return pool_features(features, self.pooling_method)

    def visualize_ranked_results(self, distmat: Any, dataset_name: str, save_dir: str, topk: int) -> None:
        """Write one strip image per query tracklet: its frames, then the frames of its top-``topk`` matches."""
        from ...evaluation.visrank_video import visualize_ranked_tracklets

        dm = self.datamanager  # type: ignore[attr-defined]
        visualize_ranked_tracklets(
            distmat,
            dm.fetch_test_loaders(dataset_name),
            width=dm.width,
            height=dm.height,
            save_dir=osp.join(save_dir, "visrank_" + dataset_name),
            topk=topk,
        )
