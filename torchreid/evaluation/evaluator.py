"""The evaluator: features → distances → CMC/mAP (→ re-ranking, ranked images, HTML report, JSON record).

One :class:`EvalSettings` object says how to evaluate; :class:`Evaluator` does it. An engine owns one evaluator
(``engine.evaluator``) and calls it from its ``_evaluate`` hook; the engine's own hooks (``parse_data_for_eval``,
``extract_features``, ``_feature_extraction``, ``visualize_ranked_results``) are still what turn batches into
features, so an engine subclass written for the original Torchreid keeps working unchanged.

Data flow of one dataset::

    query/gallery loader --(engine._feature_extraction: shard under DDP, engine hooks, gather)--> features
    features --(normalise?)--> rank: block-wise from features, or a dense matrix when re-ranking/visrank need it
    result --> log lines, engine.last_results, ranked images, report_<dataset>.html, results.jsonl
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import os.path as osp
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..utils import distributed as dist_utils
from ..utils.avgmeter import AverageMeter
from .results import RESULTS_FILE, append_result, make_record

__all__ = ["EvalSettings", "Evaluator", "host_distance_matrix", "shard_loader"]

logger = logging.getLogger(__name__)


@dataclass
class EvalSettings:
    """How to evaluate (the ``test.*`` config section plus provenance for reports and result records).

    The first eight fields are the original ``Engine.test`` arguments (an explicit argument to ``test`` wins over
    the value here). ``report`` writes ``save_dir/report_<dataset>.html``; ``results_file`` is the JSON-lines file
    under ``save_dir`` that every evaluation appends a record to (``''`` disables it; nothing is written when
    ``save_dir`` is empty). ``model_name``, ``checkpoint`` and ``config`` (the run's config as a plain dict,
    stored as its sha256) say what produced the numbers.
    """

    dist_metric: str = "euclidean"
    normalize_feature: bool = False
    visrank: bool = False
    visrank_topk: int = 10
    save_dir: str = ""
    use_metric_cuhk03: bool = False
    ranks: Sequence[int] = (1, 5, 10, 20)
    rerank: bool = False
    report: bool = False
    results_file: str = RESULTS_FILE
    model_name: str = ""
    checkpoint: str = ""
    config_sha256: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> EvalSettings:
        return dataclasses.replace(self, **changes)


def host_distance_matrix(
    a: torch.Tensor, b: torch.Tensor, metric: str, block_rows: int | None = None
) -> np.ndarray:
    """Dense ``a x b`` distance matrix as a NumPy array. On a GPU it is computed in blocks of rows copied to the
    host one by one: a gallery x gallery matrix (re-ranking) can be far larger than GPU memory (MSMT17: 27 GB)."""
    from ..metrics import compute_distance_matrix

    m, n = a.shape[0], b.shape[0]
    if block_rows is None:
        block_rows = m if a.device.type == "cpu" else max(1, (1 << 26) // max(n, 1))
    if block_rows >= m:
        return compute_distance_matrix(a, b, metric).cpu().numpy()
    out = np.empty((m, n), dtype=np.float32)
    for s in range(0, m, block_rows):
        out[s : s + block_rows] = compute_distance_matrix(a[s : s + block_rows], b, metric).cpu().numpy()
    return out


def shard_loader(loader: Any) -> Any:
    """Under DDP, a copy of an evaluation loader that reads only this rank's contiguous shard.

    A set smaller than the number of processes is not sharded (every rank reads all of it): an empty shard
    would leave that rank without features while the others wait for them.
    """
    sampler = getattr(loader, "sampler", None)
    if not dist_utils.is_distributed() or isinstance(sampler, dist_utils.ShardSampler):
        return loader
    if len(loader.dataset) < dist_utils.get_world_size():
        return loader
    return torch.utils.data.DataLoader(
        loader.dataset,
        batch_size=loader.batch_size,
        sampler=dist_utils.ShardSampler(loader.dataset),
        num_workers=loader.num_workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=False,
    )


class Evaluator:
    """Evaluates an engine's model on query/gallery loaders as :attr:`settings` says.

    ``engine`` provides the hooks (``parse_data_for_eval``, ``extract_features``, ``to_device``, ``autocast``,
    ``_feature_extraction``, ``visualize_ranked_results``), the ``datamanager`` (image records for visrank and
    the report), ``epoch``/``max_epoch``/``last_checkpoint`` and ``model`` for the result record.
    """

    def __init__(self, engine: Any = None, settings: EvalSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings if settings is not None else EvalSettings()
        self.batch_time = AverageMeter()
        self.last_results: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------------------------------------- features
    @torch.no_grad()
    def extract(self, data_loader: Any) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Features, pids and camids of every item of ``data_loader`` (all ranks' shards under DDP, in order)."""
        eng = self.engine
        f_, pids_, camids_ = [], [], []
        data_loader = shard_loader(data_loader)
        for data in data_loader:
            imgs, pids, camids = eng.parse_data_for_eval(data)
            imgs = eng.to_device(imgs)
            end = time.time()
            with eng.autocast():
                features = eng.extract_features(imgs)
            if isinstance(features, (tuple, list)):
                raise TypeError(
                    f"In eval mode the model must return a feature tensor, got a {type(features).__name__}"
                )
            features = features.float()
            if features.is_cuda:
                torch.cuda.synchronize()
            self.batch_time.update(time.time() - end)
            f_.append(features)  # kept on the device: evaluation runs there too
            pids_.extend(torch.as_tensor(pids).tolist())
            camids_.extend(torch.as_tensor(camids).tolist())
        if not f_:
            raise ValueError("An evaluation loader yielded no data (empty query or gallery set)")
        feats, pids_arr, camids_arr = torch.cat(f_, 0), np.asarray(pids_), np.asarray(camids_)
        if isinstance(getattr(data_loader, "sampler", None), dist_utils.ShardSampler):
            # every rank gets all shards, in dataset order
            feats, pids_arr, camids_arr = dist_utils.gather_features(feats, pids_arr, camids_arr)
        return feats, pids_arr, camids_arr

    # ---------------------------------------------------------------------------------------------- evaluate
    @torch.no_grad()
    def evaluate(
        self,
        dataset_name: str,
        query_loader: Any,
        gallery_loader: Any,
        settings: EvalSettings | None = None,
    ) -> tuple[float, float]:
        """Evaluate one dataset; return ``(rank1, mAP)`` (fractions) as the original ``_evaluate`` did."""
        s = settings if settings is not None else self.settings
        self.batch_time = AverageMeter()
        logger.info("Extracting features from query set ...")
        qf, q_pids, q_camids = self._features(query_loader)
        logger.info(f"Done, obtained {qf.size(0)}-by-{qf.size(1)} matrix")
        logger.info("Extracting features from gallery set ...")
        gf, g_pids, g_camids = self._features(gallery_loader)
        logger.info(f"Done, obtained {gf.size(0)}-by-{gf.size(1)} matrix")
        logger.info(f"Speed: {self.batch_time.avg:.4f} sec/batch")

        if s.normalize_feature:
            logger.info("Normalzing features with L2 norm ...")
            qf = F.normalize(qf, p=2, dim=1)
            gf = F.normalize(gf, p=2, dim=1)

        main = dist_utils.is_main_process()
        result, distmat = self.rank(qf, gf, q_pids, g_pids, q_camids, g_camids, s, dense=s.visrank and main)
        cmc = np.asarray(result.cmc)
        mAP = float(result.mAP)
        self.log_result(cmc, mAP, result.mINP, s.ranks)
        self.last_results[dataset_name] = {
            "rank1": float(cmc[0]),
            "mAP": mAP,
            "mINP": result.mINP,
            "cmc": cmc,
        }

        if main:
            if s.visrank:
                self.engine.visualize_ranked_results(distmat, dataset_name, s.save_dir, s.visrank_topk)
            if s.report:
                self.write_report(dataset_name, s, result, qf, gf, distmat)
            self.write_record(dataset_name, s, result)
        return float(cmc[0]), mAP

    def _features(self, loader: Any) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
        """Through the engine's ``_feature_extraction`` hook when there is an engine (a subclass may override it)."""
        if self.engine is not None and hasattr(self.engine, "_feature_extraction"):
            return self.engine._feature_extraction(loader)
        return self.extract(loader)

    @staticmethod
    def rank(
        qf: torch.Tensor,
        gf: torch.Tensor,
        q_pids: np.ndarray,
        g_pids: np.ndarray,
        q_camids: np.ndarray,
        g_camids: np.ndarray,
        settings: EvalSettings,
        dense: bool = False,
    ) -> tuple[Any, np.ndarray | None]:
        """CMC/mAP (with details) and the dense distance matrix when re-ranking or ``dense`` needed one."""
        from ..metrics import evaluate_rank, evaluate_rank_from_features

        s = settings
        if not (s.rerank or dense):
            # fastest path for the device: distances and ranks block by block (on the GPU when features are
            # there), the full query x gallery matrix never exists
            logger.info(f"Computing CMC and mAP (metric={s.dist_metric}, on {qf.device.type}) ...")
            result = evaluate_rank_from_features(
                qf, gf, q_pids, g_pids, q_camids, g_camids, metric=s.dist_metric,
                use_metric_cuhk03=s.use_metric_cuhk03, return_details=True,
            )  # fmt: skip
            return result, None
        logger.info(f"Computing distance matrix with metric={s.dist_metric} ...")
        distmat = host_distance_matrix(qf, gf, s.dist_metric)
        if s.rerank:
            from .rerank import re_ranking

            logger.info("Applying person re-ranking ...")
            distmat_qq = host_distance_matrix(qf, qf, s.dist_metric)
            distmat_gg = host_distance_matrix(gf, gf, s.dist_metric)
            distmat = re_ranking(distmat, distmat_qq, distmat_gg)
        logger.info("Computing CMC and mAP ...")
        result = evaluate_rank(
            distmat, q_pids, g_pids, q_camids, g_camids,
            use_metric_cuhk03=s.use_metric_cuhk03, return_details=True,
        )  # fmt: skip
        return result, distmat

    @staticmethod
    def log_result(cmc: np.ndarray, mAP: float, mINP: float | None, ranks: Sequence[int]) -> None:
        logger.info("** Results **")
        logger.info(f"mAP: {mAP:.1%}")
        if mINP is not None:
            logger.info(f"mINP: {mINP:.1%}")
        logger.info("CMC curve")
        for r in ranks:
            if 1 <= r <= len(cmc):
                logger.info(f"Rank-{r:<3}: {cmc[r - 1]:.1%}")

    # ---------------------------------------------------------------------------------------------- outputs
    def provenance(self, settings: EvalSettings) -> dict[str, Any]:
        """What produced the numbers: model, checkpoint, config hash, epoch."""
        eng = self.engine
        model = settings.model_name
        if not model and getattr(eng, "model", None) is not None:
            model = type(dist_utils.unwrap_model(eng.model)).__name__
        epoch, checkpoint = (
            None,
            settings.checkpoint or None,
        )  # evaluated without training: the loaded weights
        if eng is not None and getattr(eng, "max_epoch", 0) > 0:
            epoch = int(eng.epoch) + 1
            last = getattr(eng, "last_checkpoint", None)  # (epoch, path): this epoch's, when already written
            checkpoint = last[1] if last is not None and last[0] == epoch else None
        return {"model": model or None, "checkpoint": checkpoint, "config_sha256": settings.config_sha256,
                "epoch": epoch}  # fmt: skip

    def write_record(self, dataset_name: str, settings: EvalSettings, result: Any) -> None:
        """Append this evaluation to ``save_dir/results.jsonl`` (skipped without a ``save_dir``)."""
        if not (settings.save_dir and settings.results_file):
            return
        record = make_record(
            dataset_name, result.mAP, result.cmc, mINP=result.mINP, ranks=settings.ranks,
            **self.provenance(settings), dist_metric=settings.dist_metric, rerank=bool(settings.rerank),
            normalize_feature=bool(settings.normalize_feature), num_query=int(result.num_q),
            **dict(settings.extra),
        )  # fmt: skip
        append_result(osp.join(settings.save_dir, settings.results_file), record)

    def write_report(
        self,
        dataset_name: str,
        settings: EvalSettings,
        result: Any,
        qf: torch.Tensor,
        gf: torch.Tensor,
        distmat: np.ndarray | None,
    ) -> None:
        """HTML report of one evaluation; only the rows of the shown queries are needed, so no dense matrix."""
        from ..metrics import compute_distance_matrix
        from .report import write_html_report

        query, gallery = self.engine.datamanager.fetch_test_loaders(dataset_name)
        valid = np.flatnonzero(result.valid_query)
        order = valid[np.argsort(-np.asarray(result.all_AP), kind="stable")]  # best AP first
        shown = np.unique(np.concatenate([order[:6], order[-6:]]))
        if distmat is not None:
            rows = distmat[shown]
        else:
            idx = torch.as_tensor(shown, device=qf.device)
            rows = compute_distance_matrix(qf[idx], gf, settings.dist_metric).cpu().numpy()
        prov = self.provenance(settings)
        prov["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        path = write_html_report(
            osp.join(settings.save_dir, f"report_{dataset_name}.html"),
            dataset_name,
            result.cmc,
            result.mAP,
            rows,
            [query[i] for i in shown],
            gallery,
            mINP=result.mINP,
            ranks=[r for r in settings.ranks if 1 <= r <= len(result.cmc)],
            num_valid_q=result.num_valid_q,
            num_q=result.num_q,
            provenance={"config sha256" if k == "config_sha256" else k: v for k, v in prov.items()},
        )
        logger.info(f'Evaluation report written to "{path}"')
