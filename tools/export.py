"""Export a trained torchreid model to ONNX (dynamic batch axis) and verify it against PyTorch.

Usage::

    python tools/export.py -m osnet_x1_0 -w log/osnet/model/model.pth.tar-150 -o osnet_x1_0.onnx
    python tools/export.py -m osnet_x0_25 -w weights.pth -o model.onnx --height 256 --width 128 --fp16

The exported graph maps ``images`` (Nx3xHxW, normalised like the training data) to ``features`` (NxD, the
eval-mode output). After export the ONNX file is run with onnxruntime on random inputs of two batch sizes and the
largest absolute difference to PyTorch is reported; the export fails when it exceeds ``--atol``.
Run the file with :class:`torchreid.utils.onnx_extractor.OnnxFeatureExtractor`.
"""

from __future__ import annotations

import argparse
import copy
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # allow running from a checkout without installing
    sys.path.insert(0, str(REPO))

from torchreid.models import build_model  # noqa: E402
from torchreid.utils.checkpoint import load_checkpoint  # noqa: E402

DEFAULT_OPSET = 17


def _state_dict(weights: str | Path) -> dict[str, torch.Tensor]:
    ckpt = load_checkpoint(weights)
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    return {k[7:] if k.startswith("module.") else k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}


def _num_classes(state_dict: dict[str, torch.Tensor]) -> int:
    """The classifier size stored in the checkpoint (only needed so every key loads)."""
    for key in ("classifier.weight", "classifier_global.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return 1


def load_model_for_export(model_name: str, weights: str | Path | None) -> nn.Module:
    """Build ``model_name`` and load ``weights`` strictly for the backbone.

    Raises ``ValueError`` when the checkpoint belongs to another architecture (keys or shapes do not match).
    """
    if weights is None:
        model = build_model(model_name, num_classes=1, pretrained=False)
        return model.eval()
    sd = _state_dict(weights)
    model = build_model(model_name, num_classes=_num_classes(sd), pretrained=False)
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    mismatched = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"{len(missing)} model keys are missing from the file (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} file keys are unknown to the model (e.g. {unexpected[:3]})")
        if mismatched:
            parts.append(f"{len(mismatched)} keys have other shapes (e.g. {mismatched[:3]})")
        raise ValueError(
            f"'{weights}' does not match architecture '{model_name}': {'; '.join(parts)}. "
            "Pass the model name the checkpoint was trained with (-m)."
        )
    model.load_state_dict(sd)
    return model.eval()


def export_onnx(
    model: nn.Module,
    output: str | Path,
    height: int = 256,
    width: int = 128,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
) -> Path:
    """Write ``model`` (eval mode) to ``output`` as ONNX with a dynamic batch axis; return the path."""
    output = Path(output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output folder '{output.parent}': {exc}") from exc
    if output.parent.exists() and not _writable(output.parent):
        raise PermissionError(f"the output folder '{output.parent}' is not writable; choose another -o path")
    model = model.eval()
    dummy = torch.randn(2, 3, height, width)
    if fp16:
        model = model.half()
        dummy = dummy.half()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (dummy,),
            str(output),
            dynamo=False,
            input_names=["images"],
            output_names=["features"],
            dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
            opset_version=opset,
            do_constant_folding=True,
        )
    return output


def _writable(folder: Path) -> bool:
    import os

    return os.access(folder, os.W_OK)


def verify_onnx(
    model: nn.Module,
    onnx_path: str | Path,
    height: int,
    width: int,
    batch_sizes: Sequence[int] = (1, 3),
    fp16: bool = False,
) -> float:
    """Run the ONNX file with onnxruntime and PyTorch on the same random inputs; return the max abs diff."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    model = model.float().eval()
    for bs in batch_sizes:
        x = torch.randn(bs, 3, height, width, generator=gen)
        with torch.no_grad():
            ref = model(x).numpy()
        feed = x.numpy().astype(np.float16 if fp16 else np.float32)
        got = session.run(None, {"images": feed})[0].astype(np.float32)
        if got.shape != ref.shape:
            raise RuntimeError(
                f"ONNX output shape {got.shape} differs from PyTorch {ref.shape} at batch {bs}"
            )
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-m", "--model-name", required=True, help="architecture, e.g. osnet_x1_0")
    parser.add_argument(
        "-w", "--weights", default=None, help="checkpoint or state dict (omit: random weights)"
    )
    parser.add_argument("-o", "--output", required=True, help="output .onnx file")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--fp16", action="store_true", help="export half-precision weights and inputs")
    parser.add_argument(
        "--atol", type=float, default=None, help="max allowed |ONNX - PyTorch| (default 1e-3, fp16 0.05)"
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the onnxruntime comparison")
    args = parser.parse_args(argv)

    try:
        model = load_model_for_export(args.model_name, args.weights)
    except (ValueError, FileNotFoundError, RuntimeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    reference = copy.deepcopy(model)  # fp32 copy with the same weights (random ones too, when no -w)
    path = export_onnx(model, args.output, args.height, args.width, args.opset, args.fp16)
    size_mb = path.stat().st_size / 2**20
    print(f"Exported {args.model_name} to {path} ({size_mb:.1f} MB, opset {args.opset}, dynamic batch axis)")
    if args.no_verify:
        return 0
    diff = verify_onnx(reference, path, args.height, args.width, fp16=args.fp16)
    atol = args.atol if args.atol is not None else (0.05 if args.fp16 else 1e-3)
    print(f"Verified with onnxruntime: max abs diff vs PyTorch = {diff:.3e} (tolerance {atol:g})")
    if diff > atol:
        print(f"error: ONNX output differs from PyTorch by {diff:.3e} > {atol:g}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
