"""Values and helpers several test modules share (imported as ``from _shared import ...``)."""

from __future__ import annotations

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
