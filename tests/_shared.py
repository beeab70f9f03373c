"""Values and helpers several test modules share (imported as ``from _shared import ...``)."""

from __future__ import annotations

import numpy as np
import pytest

# a tiny built-in ``synthetic`` dataset: 8 training identities, 4 test identities, 2 cameras, 64x32 images
TINY_SYNTHETIC = {
    "num_train_ids": 8,
    "num_test_ids": 4,
    "num_cams": 2,
    "train_imgs_per_cam": 4,
    "test_imgs_per_cam": 2,
    "num_distractors": 2,
    "height": 64,
    "width": 32,
}


def no_imagenet_weights(mp: pytest.MonkeyPatch) -> None:
    """No ImageNet weights in tests (nothing may download): build models with pretrained=False."""
    import torchreid.models as models

    real = models.build_model

    def build(name, num_classes, loss="softmax", pretrained=True, use_gpu=True, **kw):
        return real(name, num_classes, loss=loss, pretrained=False, use_gpu=use_gpu, **kw)

    mp.setattr(models, "build_model", build)


def toy_rank_problem(seed: int = 0, nq: int = 6, ng: int = 20) -> tuple:
    """A small random query x gallery problem (distances, pids, camids) for input-handling tests."""
    rng = np.random.default_rng(seed)
    distmat = rng.random((nq, ng)).astype(np.float32)
    q_pids = np.arange(nq) % 3
    g_pids = np.arange(ng) % 4
    q_camids = np.zeros(nq, dtype=np.int64)
    g_camids = np.ones(ng, dtype=np.int64)
    return distmat, q_pids, g_pids, q_camids, g_camids
