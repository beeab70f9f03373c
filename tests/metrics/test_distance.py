"""compute_distance_matrix: parity with the original Torchreid and input checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from torchreid.metrics import compute_distance_matrix, cosine_distance, euclidean_squared_distance

PAIRS = ["gauss_20x64_50x64", "relu_7x512_13x512_with_copies", "abs_5x2048_9x2048_large"]


@pytest.fixture(scope="module")
def dist_ref():
    from conftest import REFERENCE

    path = REFERENCE / "distance_cases.npz"
    if not path.exists():
        pytest.skip(f"{path} is not available (reference outputs live in ../shared)")
    return np.load(path)


def _close(ours, ref):
    return np.allclose(ours, ref, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("chunk_size", [None, 1, 3])
@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("pair", PAIRS)
def test_matches_reference(dist_ref, pair, metric, chunk_size):
    a = torch.from_numpy(dist_ref[f"{pair}__input1"])
    b = torch.from_numpy(dist_ref[f"{pair}__input2"])
    out = compute_distance_matrix(a, b, metric, chunk_size=chunk_size)
    assert out.shape == (a.shape[0], b.shape[0]) and out.dtype == torch.float32
    assert _close(out.numpy(), dist_ref[f"{pair}__{metric}"])


def test_exact_values_and_helpers():
    a = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    b = torch.tensor([[3.0, 4.0], [1.0, 2.0], [0.0, 1.0]])
    np.testing.assert_allclose(euclidean_squared_distance(a, b).numpy(), [[25, 5, 1], [8, 0, 2]], atol=1e-6)
    cos = cosine_distance(a[1:], b).numpy()
    expect = 1 - (b.numpy() @ np.array([1.0, 2.0])) / (np.linalg.norm(b.numpy(), axis=1) * np.sqrt(5))
    np.testing.assert_allclose(cos[0], expect, atol=1e-6)
    # NumPy input and float64 are accepted; chunking does not change the result
    x = np.random.RandomState(0).randn(37, 8)
    full = compute_distance_matrix(x, x[:11])
    assert full.dtype == torch.float64
    assert torch.allclose(full, compute_distance_matrix(x, x[:11], chunk_size=4))
    assert compute_distance_matrix(torch.zeros(0, 3), torch.zeros(4, 3)).shape == (0, 4)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_differentiable_like_the_original(metric):
    # the original's compute_distance_matrix could be used inside a loss; the chunked out= path must not break that
    a = torch.randn(4, 8, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, 8, dtype=torch.float64, requires_grad=True)
    out = compute_distance_matrix(a, b, metric)
    assert out.requires_grad
    with torch.no_grad():
        assert torch.allclose(out, compute_distance_matrix(a, b, metric, chunk_size=2))
    fn = lambda x, y: compute_distance_matrix(x, y, metric)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (a, b))


def test_bad_inputs():
    with pytest.raises(ValueError, match="Unknown distance metric"):
        compute_distance_matrix(torch.rand(2, 3), torch.rand(2, 3), "manhattan")
    with pytest.raises(ValueError, match="feature dimensions differ"):
        compute_distance_matrix(torch.rand(2, 3), torch.rand(2, 4))
    with pytest.raises(ValueError, match="2-D"):
        compute_distance_matrix(torch.rand(2, 3, 1), torch.rand(2, 3))
    with pytest.raises(ValueError, match="2-D"):
        compute_distance_matrix(torch.rand(3), torch.rand(2, 3))
    with pytest.raises(ValueError, match="chunk_size"):
        compute_distance_matrix(torch.rand(2, 3), torch.rand(2, 3), chunk_size=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_matches_cpu():
    a, b = torch.randn(50, 64), torch.randn(70, 64)
    for metric in ("euclidean", "cosine"):
        cpu = compute_distance_matrix(a, b, metric)
        gpu = compute_distance_matrix(a.cuda(), b.cuda(), metric)
        assert gpu.is_cuda and _close(gpu.cpu().numpy(), cpu.numpy())


def test_integer_and_mixed_precision_inputs_are_promoted_not_rejected():
    a = torch.tensor([[0, 0], [3, 4]])
    b = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    d = compute_distance_matrix(a, b)
    assert d.dtype == torch.float64 and d.flatten().tolist() == [0.0, 25.0]
