#!/usr/bin/env python
"""Train and/or evaluate a re-ID model from a YAML config.

    python scripts/main.py --config-file configs/quickstart.yaml
    python scripts/main.py --config-file configs/im_osnet_x1_0_softmax_256x128_amsgrad.yaml \
        -s market1501 -t market1501 dukemtmcreid --root reid-data train.lr 0.001 test.evaluate True

A thin wrapper of :mod:`torchreid.runner` (also ``torchreid train|test``), which holds the logic; the functions
are re-exported here for scripts that import them.
"""

from __future__ import annotations

import os.path as osp
import sys

# allow `python scripts/main.py` from a source checkout without installing
_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from torchreid.runner import (  # noqa: E402
    build_config,
    build_datamanager,
    build_engine,
    build_parser,
    check_cfg,
    check_writable,
    main,
    reset_config,
    restore_amp_state,
    run,
)

__all__ = [
    "build_config",
    "build_datamanager",
    "build_engine",
    "build_parser",
    "check_cfg",
    "check_writable",
    "main",
    "reset_config",
    "restore_amp_state",
    "run",
]

if __name__ == "__main__":
    main()
