"""Engine subclasses written against the original Torchreid v1.4.0 (its method signatures, its style) run end to end
on the built-in synthetic data: overrides that do their own thing, and overrides that call ``super()`` and so get
the new behaviour (results.jsonl records, the HTML report) through ``engine.eval_settings``."""

from __future__ import annotations

import inspect
import json
import math
import warnings

import numpy as np
import pytest
import torch
from _shared import TINY_SYNTHETIC
from torch import nn
from torch.nn import functional as F

from torchreid.engine import Engine, ImageSoftmaxEngine
from torchreid.evaluation import EvalSettings, read_results

ORIGINAL_TEST_ARGS = [
    "self", "dist_metric", "normalize_feature", "visrank", "visrank_topk", "save_dir", "use_metric_cuhk03", "ranks",
    "rerank",
]  # fmt: skip
ORIGINAL_RUN_ARGS = [
    "self", "save_dir", "max_epoch", "start_epoch", "print_freq", "fixbase_epoch", "open_layers", "start_eval",
    "eval_freq", "test_only", "dist_metric", "normalize_feature", "visrank", "visrank_topk", "use_metric_cuhk03",
    "ranks", "rerank",
]  # fmt: skip


class TinyNet(nn.Module):
    """Small and fast: a conv, global pooling, a classifier (features in eval mode, logits in training)."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.classifier = nn.Linear(16, num_classes)

    def forward(self, x):
        f = F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1).flatten(1)
        return self.classifier(f) if self.training else f


@pytest.fixture(scope="module")
def dm(tmp_path_factory):
    from torchreid.data import ImageDataManager
    from torchreid.data.datasets import IMAGE_DATASETS, register_image_dataset
    from torchreid.data.datasets.image.synthetic import Synthetic

    if "synthetic_tiny" not in IMAGE_DATASETS:

        class SyntheticTiny(Synthetic):
            def __init__(self, root="", **kwargs):
                super().__init__(root=root, **TINY_SYNTHETIC, **kwargs)

        register_image_dataset("synthetic_tiny", SyntheticTiny)
    return ImageDataManager(
        root=str(tmp_path_factory.mktemp("overrides")), sources="synthetic_tiny", height=64, width=32,
        batch_size_train=16, batch_size_test=32, workers=0, use_gpu=False,
    )  # fmt: skip


def _parts(dm):
    torch.manual_seed(0)
    model = TinyNet(dm.num_train_pids)
    return model, torch.optim.SGD(model.parameters(), lr=0.01)


def _run(engine, save_dir, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine.run(save_dir=str(save_dir), max_epoch=1, print_freq=0, **kw)


# ------------------------------------------------------------------------------------------- overriding test()
class OwnTest(ImageSoftmaxEngine):
    calls: list

    def test(self, dist_metric="euclidean", normalize_feature=False, visrank=False, visrank_topk=10, save_dir="",
             use_metric_cuhk03=False, ranks=[1, 5, 10, 20], rerank=False):  # fmt: skip # noqa: B006
        self.calls.append(save_dir)
        return 0.5


class SuperTest(ImageSoftmaxEngine):
    calls: list

    def test(self, dist_metric="euclidean", normalize_feature=False, visrank=False, visrank_topk=10, save_dir="",
             use_metric_cuhk03=False, ranks=[1, 5, 10, 20], rerank=False):  # fmt: skip # noqa: B006
        self.calls.append(dist_metric)
        return super().test(dist_metric, normalize_feature, visrank, visrank_topk, save_dir, use_metric_cuhk03,
                            ranks, rerank)  # fmt: skip


def test_signatures_of_the_overridable_methods_are_the_originals():
    assert list(inspect.signature(Engine.test).parameters) == ORIGINAL_TEST_ARGS
    params = list(inspect.signature(Engine._evaluate).parameters)
    assert params == ["self", "dataset_name", "query_loader", "gallery_loader", *ORIGINAL_TEST_ARGS[1:]]
    assert list(inspect.signature(Engine._feature_extraction).parameters) == ["self", "data_loader"]
    assert list(inspect.signature(Engine.train).parameters) == [
        "self",
        "print_freq",
        "fixbase_epoch",
        "open_layers",
    ]
    assert list(inspect.signature(Engine.run).parameters)[: len(ORIGINAL_RUN_ARGS)] == ORIGINAL_RUN_ARGS


def test_runner_passes_only_original_run_arguments():
    from torchreid.config import engine_run_kwargs, get_default_config
    from torchreid.runner import _RUN_ARGS

    passed = {k for k in engine_run_kwargs(get_default_config()) if k in _RUN_ARGS}
    assert passed and passed <= set(ORIGINAL_RUN_ARGS) and "report" not in passed


def test_override_of_test_doing_its_own_thing(dm, tmp_path):
    model, opt = _parts(dm)
    engine = OwnTest(dm, model, opt, use_gpu=False, eval_settings=EvalSettings(report=True))
    engine.calls = []
    _run(engine, tmp_path)
    assert engine.calls == [str(tmp_path)]
    from torchreid.utils.checkpoint import load_checkpoint

    assert load_checkpoint(tmp_path / "model" / "model.pth.tar-1")["rank1"] == 0.5
    assert not (tmp_path / "results.jsonl").exists()  # its own test: no evaluator ran


def test_override_of_test_calling_super_gets_records_and_report(dm, tmp_path):
    model, opt = _parts(dm)
    engine = SuperTest(
        dm, model, opt, use_gpu=False, eval_settings=EvalSettings(report=True, model_name="tiny")
    )
    engine.calls = []
    _run(engine, tmp_path, dist_metric="cosine")
    assert engine.calls == ["cosine"]
    (rec,) = read_results(tmp_path / "results.jsonl")
    assert rec["dataset"] == "synthetic_tiny" and rec["model"] == "tiny" and rec["epoch"] == 1
    assert rec["dist_metric"] == "cosine"
    assert rec["checkpoint"].endswith("model.pth.tar-1")  # written before the final evaluation
    assert rec["mAP"] == pytest.approx(engine.last_results["synthetic_tiny"]["mAP"])
    assert (tmp_path / "report_synthetic_tiny.html").is_file()


# ---------------------------------------------------------------------------------------- overriding _evaluate()
class OwnEvaluate(ImageSoftmaxEngine):
    def _evaluate(self, dataset_name="", query_loader=None, gallery_loader=None, dist_metric="euclidean",
                  normalize_feature=False, visrank=False, visrank_topk=10, save_dir="", use_metric_cuhk03=False,
                  ranks=[1, 5, 10, 20], rerank=False):  # fmt: skip # noqa: B006
        qf, q_pids, _ = self._feature_extraction(query_loader)
        self.seen = (dataset_name, qf.shape[0], len(q_pids))
        return 0.25, 0.125


class SuperEvaluate(ImageSoftmaxEngine):
    def _evaluate(self, dataset_name="", query_loader=None, gallery_loader=None, dist_metric="euclidean",
                  normalize_feature=False, visrank=False, visrank_topk=10, save_dir="", use_metric_cuhk03=False,
                  ranks=[1, 5, 10, 20], rerank=False):  # fmt: skip # noqa: B006
        rank1, mAP = super()._evaluate(dataset_name, query_loader, gallery_loader, dist_metric,
                                       normalize_feature, visrank, visrank_topk, save_dir, use_metric_cuhk03,
                                       ranks, rerank)  # fmt: skip
        self.got = (rank1, mAP)
        return rank1, mAP


def test_override_of_evaluate_doing_its_own_thing(dm, tmp_path):
    model, opt = _parts(dm)
    engine = OwnEvaluate(dm, model, opt, use_gpu=False)
    assert engine.test(save_dir=str(tmp_path)) == 0.25
    n_query = TINY_SYNTHETIC["num_test_ids"] * TINY_SYNTHETIC["num_cams"]
    assert engine.seen == ("synthetic_tiny", n_query, n_query)


def test_override_of_evaluate_calling_super(dm, tmp_path):
    model, opt = _parts(dm)
    engine = SuperEvaluate(dm, model, opt, use_gpu=False)
    rank1 = engine.test(save_dir=str(tmp_path), ranks=[1, 2])
    assert engine.got[0] == rank1 and 0 <= engine.got[1] <= 1
    (rec,) = read_results(tmp_path / "results.jsonl")
    assert rec["ranks"].keys() == {"1", "2"} and rec["epoch"] is None  # evaluated without training
    assert rec["model"] == "TinyNet"


# ------------------------------------------------------------- train(), forward_backward(), parse_data_for_train()
class OriginalStyleEngine(Engine):
    """Written as the original's docs showed: register the model, write forward_backward by hand."""

    def __init__(self, datamanager, model, optimizer, scheduler=None, use_gpu=True):
        super().__init__(datamanager, use_gpu)
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.register_model("model", model, optimizer, scheduler)
        self.parsed = 0
        self.epochs = []

    def parse_data_for_train(self, data):
        self.parsed += 1
        return data["img"], data["pid"]

    def train(self, print_freq=10, fixbase_epoch=0, open_layers=None):
        self.epochs.append(self.epoch)
        super().train(print_freq=print_freq, fixbase_epoch=fixbase_epoch, open_layers=open_layers)

    def forward_backward(self, data):
        imgs, pids = self.parse_data_for_train(data)
        outputs = self.model(imgs)
        loss = F.cross_entropy(outputs, pids)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def _feature_extraction(self, data_loader):
        f_, pids_, camids_ = [], [], []
        for data in data_loader:
            imgs, pids, camids = self.parse_data_for_eval(data)
            f_.append(self.extract_features(imgs).cpu())
            pids_.extend(pids.tolist())
            camids_.extend(camids.tolist())
        return torch.cat(f_, 0), np.asarray(pids_), np.asarray(camids_)


def test_original_style_engine_trains_and_evaluates(dm, tmp_path):
    model, opt = _parts(dm)
    before = model.conv.weight.detach().clone()
    engine = OriginalStyleEngine(dm, model, opt, use_gpu=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine.run(save_dir=str(tmp_path), max_epoch=2, eval_freq=1, print_freq=1)
    assert engine.epochs == [0, 1] and engine.parsed == 2 * len(dm.train_loader)
    assert not torch.equal(before, model.conv.weight)
    records = read_results(tmp_path / "results.jsonl")
    assert [r["epoch"] for r in records] == [1, 2]  # the mid-run evaluation and the final one
    # mid-run, the epoch's checkpoint is written after its evaluation; the final one before it
    assert records[0]["checkpoint"] is None and records[1]["checkpoint"].endswith("model.pth.tar-2")
    assert all(0 <= r["mAP"] <= 1 and len(r["cmc"]) >= 1 for r in records)
    assert (
        json.loads((tmp_path / "results.jsonl").read_text().splitlines()[-1])["dataset"] == "synthetic_tiny"
    )


def test_final_checkpoint_is_written_before_the_final_evaluation(dm, tmp_path):
    class BrokenEval(ImageSoftmaxEngine):
        def test(self, *args, **kwargs):
            raise RuntimeError("evaluation failed")

    model, opt = _parts(dm)
    engine = BrokenEval(dm, model, opt, use_gpu=False)
    with pytest.raises(RuntimeError, match="evaluation failed"):
        _run(engine, tmp_path)
    from torchreid.utils.checkpoint import load_checkpoint

    ckpt = load_checkpoint(tmp_path / "model" / "model.pth.tar-1")  # the weights survived
    assert math.isnan(ckpt["rank1"]) and ckpt["epoch"] == 1
    for k, v in model.state_dict().items():
        assert torch.equal(ckpt["state_dict"][k], v), k
