"""Training samplers: P x K identity batches, domain/dataset batch composition, distributed sharding, errors."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch
from torch.utils.data import DistributedSampler, RandomSampler, SequentialSampler

from torchreid.data import build_train_sampler
from torchreid.data.samplers import (
    SAMPLERS,
    RandomDatasetSampler,
    RandomDomainSampler,
    RandomIdentitySampler,
)


def _data(num_ids=20, per_id=(1, 2, 3, 5, 8), num_cams=4, num_dsets=1):
    data = []
    for pid in range(num_ids):
        n = per_id[pid % len(per_id)]
        for k in range(n):
            data.append((f"{pid}_{k}.jpg", pid, (pid + k) % num_cams, pid % num_dsets))
    return data


def _batches(indices, size):
    return [indices[i : i + size] for i in range(0, len(indices) - len(indices) % size, size)]


def test_builtin_names():
    assert set(SAMPLERS.names()) == {
        "RandomSampler", "SequentialSampler", "RandomIdentitySampler", "RandomDomainSampler", "RandomDatasetSampler",
    }  # fmt: skip
    data = _data()
    assert isinstance(build_train_sampler(data, "RandomSampler"), RandomSampler)
    assert isinstance(build_train_sampler(data, "SequentialSampler"), SequentialSampler)
    assert list(build_train_sampler(data, "SequentialSampler")) == list(range(len(data)))


def test_unknown_sampler_lists_valid_names():
    with pytest.raises(ValueError) as info:
        build_train_sampler(_data(), "RandomIdentitySamper")
    msg = str(info.value)
    assert "RandomIdentitySampler" in msg and "RandomDomainSampler" in msg and "SequentialSampler" in msg
    assert isinstance(info.value, KeyError)


@pytest.mark.parametrize("batch_size,k", [(16, 4), (12, 2), (8, 8), (9, 3)])
def test_identity_batches_are_exactly_p_by_k(batch_size, k):
    data = _data()
    sampler = build_train_sampler(data, "RandomIdentitySampler", batch_size=batch_size, num_instances=k)
    assert isinstance(sampler, RandomIdentitySampler)
    random.seed(0)
    for _epoch in range(3):
        idx = list(sampler)
        assert len(idx) % batch_size == 0 and len(idx) > 0
        for batch in _batches(idx, batch_size):
            counts = Counter(data[i][1] for i in batch)
            assert len(counts) == batch_size // k and set(counts.values()) == {k}


def test_identity_uses_every_image_of_large_ids():
    data = _data(num_ids=10, per_id=(8,))
    idx = list(RandomIdentitySampler(data, 8, 4))
    assert sorted(idx) == list(range(len(data)))  # 8 images = 2 chunks of 4, all used


def test_identity_reproducible_with_global_seed():
    data = _data()
    s = RandomIdentitySampler(data, 16, 4)
    random.seed(3)
    a = list(s)
    random.seed(3)
    assert list(s) == a
    assert list(s) != a  # the next epoch differs


def test_identity_errors():
    data = _data(num_ids=3)
    with pytest.raises(ValueError, match="at least num_instances"):
        RandomIdentitySampler(data, 2, 4)
    with pytest.raises(ValueError, match="multiple of num_instances"):
        RandomIdentitySampler(data, 10, 4)
    with pytest.raises(ValueError, match=r"needs at least P = .* 4 identities, but the training set has 3"):
        RandomIdentitySampler(data, 16, 4)


def test_identity_distributed_ranks_disjoint_and_seeded():
    data = _data(num_ids=24)
    world, bs, k = 2, 16, 4
    samplers = [build_train_sampler(data, "RandomIdentitySampler", batch_size=bs, num_instances=k,
                                    num_replicas=world, rank=r, seed=7) for r in range(world)]  # fmt: skip
    for epoch in range(3):
        per_rank = []
        for s in samplers:
            s.set_epoch(epoch)
            per_rank.append(s.batches())
        assert len(per_rank[0]) == len(per_rank[1]) > 0
        for b0, b1 in zip(*per_rank):
            assert len(b0) == len(b1) == bs // world
            for b in (b0, b1):  # each rank's batch is (P / world) ids x K
                counts = Counter(data[i][1] for i in b)
                assert len(counts) == bs // k // world and set(counts.values()) == {k}
            # the two halves of one global batch hold different identities
            assert not {data[i][1] for i in b0} & {data[i][1] for i in b1}
        # same epoch + seed → same schedule (a fresh sampler agrees)
        fresh = RandomIdentitySampler(data, bs, k, num_replicas=world, rank=0, seed=7)
        fresh.set_epoch(epoch)
        assert fresh.batches() == per_rank[0]
    s = samplers[0]
    s.set_epoch(0)
    e0 = list(s)
    s.set_epoch(1)
    assert list(s) != e0
    assert len(s) == len(samplers[1])


def test_identity_distributed_batch_not_splittable():
    with pytest.raises(ValueError, match=r"train\.batch_size = 36.*world size 2.*multiple of .* 8"):
        RandomIdentitySampler(_data(), 36, 4, num_replicas=2, rank=0)


def test_random_and_sequential_distributed():
    data = _data()
    shards = [build_train_sampler(data, "RandomSampler", num_replicas=2, rank=r, seed=1) for r in range(2)]
    assert all(isinstance(s, DistributedSampler) for s in shards)
    a, b = (list(s) for s in shards)
    assert len(a) == len(b) and set(a) | set(b) == set(range(len(data)))
    seq = [list(build_train_sampler(data, "SequentialSampler", num_replicas=2, rank=r)) for r in range(2)]
    assert seq[0][:3] == [0, 2, 4] and seq[1][:3] == [1, 3, 5]


def test_bad_rank():
    with pytest.raises(ValueError, match="rank 2 is outside"):
        RandomIdentitySampler(_data(), 16, 4, num_replicas=2, rank=2)


def test_domain_sampler_batch_composition():
    data = _data(num_ids=40, num_cams=4)
    bs, n = 12, 3
    sampler = build_train_sampler(data, "RandomDomainSampler", batch_size=bs, num_cams=n)
    assert isinstance(sampler, RandomDomainSampler)
    random.seed(0)
    idx = list(sampler)
    assert len(idx) > 0 and len(idx) % bs == 0 and len(set(idx)) == len(idx)  # no image twice in an epoch
    for batch in _batches(idx, bs):
        counts = Counter(data[i][2] for i in batch)
        assert len(counts) == n and set(counts.values()) == {bs // n}


def test_dataset_sampler_batch_composition():
    data = _data(num_ids=30, num_dsets=3)
    bs = 12
    sampler = build_train_sampler(data, "RandomDatasetSampler", batch_size=bs, num_datasets=2)
    assert isinstance(sampler, RandomDatasetSampler)
    idx = list(sampler)
    assert len(idx) > 0
    for batch in _batches(idx, bs):
        counts = Counter(data[i][3] for i in batch)
        assert len(counts) == 2 and set(counts.values()) == {6}


def test_domain_sampler_distributed():
    data = _data(num_ids=40, num_cams=4)
    shards = []
    for r in range(2):
        s = RandomDomainSampler(data, 16, 2, num_replicas=2, rank=r, seed=0)
        s.set_epoch(5)
        shards.append(s.batches())
    for b0, b1 in zip(*shards):
        assert len(b0) == len(b1) == 8 and not set(b0) & set(b1)
        # one global batch: 2 cameras x 8 images
        assert set(Counter(data[i][2] for i in b0 + b1).values()) == {8}


def test_domain_sampler_errors():
    data = _data(num_ids=10, num_cams=2)
    with pytest.raises(ValueError, match="divisible by num_cams"):
        RandomDomainSampler(data, 9, 2)
    with pytest.raises(ValueError, match="num_cams=3 but the training set has only 2 cameras"):
        RandomDomainSampler(data, 12, 3)
    with pytest.raises(ValueError, match="num_datasets=2 but the training set has only 1 dataset"):
        RandomDatasetSampler(data, 12, 2)
    with pytest.raises(ValueError, match="fewer images"):
        RandomDomainSampler(data, 200, 2)


def test_loader_with_identity_sampler_yields_p_by_k():
    data = _data(num_ids=12)
    ds = [{"pid": r[1]} for r in data]
    sampler = RandomIdentitySampler(data, 8, 4)
    loader = torch.utils.data.DataLoader(ds, batch_size=8, sampler=sampler, drop_last=True)
    for batch in loader:
        assert sorted(Counter(batch["pid"].tolist()).values()) == [4, 4]


# ------------------------------------------------------------------------------------------------ samplers


def _records(num_ids=6, num_cams=3, per_cam=2):
    return [
        (f"{p}_{c}_{k}.jpg", p, c, 0) for p in range(num_ids) for c in range(num_cams) for k in range(per_cam)
    ]


def test_domain_sampler_with_non_positive_num_cams_uses_every_camera():
    from collections import Counter

    from torchreid.data.samplers import build_train_sampler

    data = _records()
    sampler = build_train_sampler(data, "RandomDomainSampler", batch_size=6, num_cams=0)
    assert sampler.n_domain == 3 and sampler.domains == [0, 1, 2]
    idx = list(sampler)
    assert idx and len(idx) % 6 == 0
    for i in range(0, len(idx), 6):
        assert Counter(data[j][2] for j in idx[i : i + 6]) == {0: 2, 1: 2, 2: 2}


def test_sampler_argument_guards():
    from torchreid.data.samplers import RandomDomainSampler, RandomIdentitySampler

    data = _records()
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        RandomDomainSampler(data, 0, 1)
    with pytest.raises(ValueError, match=r"num_replicas \(world size\) must be >= 1, got 0"):
        RandomDomainSampler(data, 6, 1, num_replicas=0, rank=0)
    with pytest.raises(ValueError, match="num_instances must be >= 1, got 0"):
        RandomIdentitySampler(data, 8, 0)
