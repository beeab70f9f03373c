"""Self-describing exports: ONNX (dynamic batch) and OpenVINO IR, verified against PyTorch.

Usage (``tools/export.py`` and ``torchreid export`` are this module's :func:`main`)::

    torchreid export -w log/osnet/model/model.pth.tar-150 -o osnet.onnx       # model name and size from the file
    torchreid export -m osnet_x0_25 -w osnet_x0_25_msmt17 -o osnet.onnx --format all --images market/*.jpg
    torchreid export -m osnet_x1_0 -w weights.pth -o model.onnx --height 256 --width 128 --fp16

The graph maps ``images`` (Nx3xHxW, normalised like the training data) to ``features`` (NxD, the eval-mode output;
L2-normalised inside the graph with ``--normalize``). Every file carries its metadata — model name, input size,
mean, std, colour order, feature dimension, normalisation, source checkpoint — in ONNX ``metadata_props`` /
OpenVINO ``rt_info`` (keys ``torchreid.*``), which :class:`~torchreid.inference.OnnxFeatureExtractor` and
:class:`~torchreid.inference.OpenVINOFeatureExtractor` read. After export each format is run on images (``--images``
or generated ones) through those extractors and compared with PyTorch; the export fails when the largest
difference exceeds ``--atol``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

__all__ = [
    "ExportError",
    "add_arguments",
    "export_onnx",
    "export_openvino",
    "load_model_for_export",
    "main",
    "run",
    "verify_exported",
    "verify_onnx",
]

logger = logging.getLogger(__name__)

DEFAULT_OPSET = 17
FORMATS = ("onnx", "openvino", "all")


class ExportError(RuntimeError):
    """An export cannot be done (bad checkpoint, unsupported model, missing package); the message says why."""


def _require(package: str, what: str) -> Any:
    from .onnx_extractor import import_optional

    return import_optional(package, what, ExportError)


def _load(weights: str | os.PathLike) -> tuple[Any, Path]:
    from ..models.zoo import resolve_weights
    from ..utils.checkpoint import load_checkpoint

    path = resolve_weights(weights)
    try:
        return load_checkpoint(path), path
    except (FileNotFoundError, ExportError):
        raise
    except Exception as exc:
        raise ExportError(f"'{weights}' is not a readable PyTorch checkpoint: {exc}") from exc


def _state_dict(ckpt: Any, weights: str | os.PathLike) -> dict[str, torch.Tensor]:
    sd = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(sd, dict):
        raise ExportError(
            f"'{weights}' holds a {type(sd).__name__}, not a checkpoint or a state dict; pass a file written by "
            "torchreid (model.pth.tar-N) or torch.save(model.state_dict(), path)"
        )
    tensors = {
        k[7:] if k.startswith("module.") else k: v for k, v in sd.items() if isinstance(v, torch.Tensor)
    }
    if not tensors:
        raise ExportError(f"'{weights}' contains no weight tensors")
    return tensors


def _num_classes(state_dict: dict[str, torch.Tensor]) -> int:
    """The classifier size stored in the checkpoint (only needed so every key loads)."""
    for key in ("classifier.weight", "classifier_global.weight"):
        if key in state_dict:
            return int(state_dict[key].shape[0])
    return 1


def _build_strict(model_name: str, sd: dict[str, torch.Tensor], weights: Any) -> nn.Module:
    from ..models import build_model

    model = build_model(model_name, num_classes=_num_classes(sd), pretrained=False, use_gpu=False)
    own = model.state_dict()
    problems = {
        "model keys are missing from the file": [k for k in own if k not in sd],
        "file keys are unknown to the model": [k for k in sd if k not in own],
        "keys have other shapes": [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)],
    }
    parts = [f"{len(keys)} {what} (e.g. {keys[:3]})" for what, keys in problems.items() if keys]
    if parts:
        raise ValueError(
            f"'{weights}' does not match architecture '{model_name}': {'; '.join(parts)}. "
            "Pass the model name the checkpoint was trained with (-m)."
        )
    model.load_state_dict(sd)
    return model.eval()


def load_model_for_export(model_name: str, weights: str | Path | None) -> nn.Module:
    """Build ``model_name`` and load ``weights`` (a path or a zoo name) strictly for the backbone.

    Raises ``ValueError`` when the checkpoint belongs to another architecture (keys or shapes do not match) and
    :class:`ExportError` when the file is not a checkpoint.
    """
    from ..models import build_model

    if weights is None:
        return build_model(model_name, num_classes=1, pretrained=False, use_gpu=False).eval()
    ckpt, _ = _load(weights)
    return _build_strict(model_name, _state_dict(ckpt, weights), weights)


class _L2Normalized(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.model(x), dim=1)


def _writable_output(output: Path) -> None:
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"cannot create the output folder '{output.parent}': {exc}") from exc
    if not os.access(output.parent, os.W_OK):
        raise PermissionError(f"the output folder '{output.parent}' is not writable; choose another -o path")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = (text[0] if text else "").split("  [Caused by")[0]
    return f"{type(exc).__name__}: {first}"[:400]


def export_onnx(
    model: nn.Module,
    output: str | Path,
    height: int = 256,
    width: int = 128,
    opset: int = DEFAULT_OPSET,
    fp16: bool = False,
    metadata: dict[str, Any] | None = None,
    model_name: str = "",
) -> Path:
    """Write ``model`` (eval mode) to ``output`` as ONNX with a dynamic batch axis and metadata; return the path.

    The file is written to a temporary name and renamed into place only when complete.
    """
    from ..utils.tools import atomic_output

    output = Path(output)
    _writable_output(output)
    model = model.eval()
    dummy = torch.randn(2, 3, height, width)
    if fp16:
        model = model.half()
        dummy = dummy.half()
    with atomic_output(output, suffix=".part") as tmp:
        try:
            # the exporter prints the whole traced graph to stdout when it fails: keep the terminal readable
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model,
                    (dummy,),
                    str(tmp),
                    dynamo=False,
                    input_names=["images"],
                    output_names=["features"],
                    dynamic_axes={"images": {0: "batch"}, "features": {0: "batch"}},
                    opset_version=opset,
                    do_constant_folding=True,
                )
        except Exception as exc:
            name = model_name or type(model).__name__
            raise ExportError(
                f"cannot export '{name}' to ONNX (opset {opset}, input {height}x{width}): {_short(exc)}. "
                "This architecture uses an operation the ONNX exporter does not support at this size; use the "
                "PyTorch FeatureExtractor for it, or try another --opset / input size."
            ) from exc
        if metadata:
            _write_onnx_metadata(tmp, metadata)
    return output


def _write_onnx_metadata(path: Path, metadata: dict[str, Any]) -> None:
    from .metadata import encode_metadata

    onnx = _require("onnx", "Writing ONNX metadata")
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for key, value in encode_metadata(metadata).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))


def export_openvino(
    onnx_path: str | Path, output: str | Path, metadata: dict[str, Any] | None = None
) -> Path:
    """Convert an ONNX file to OpenVINO IR (``output`` ``.xml`` + ``.bin``) with the metadata in ``rt_info``."""
    from .metadata import encode_metadata
    from .openvino_extractor import RT_INFO_SECTION

    ov = _require("openvino", "OpenVINO export")
    output = Path(output).with_suffix(".xml")
    _writable_output(output)
    model = ov.convert_model(str(onnx_path))
    for key, value in encode_metadata(metadata or {}).items():
        model.set_rt_info(value, [RT_INFO_SECTION, key.split(".", 1)[1]])
    ov.save_model(model, str(output), compress_to_fp16=False)
    return output


def verify_onnx(
    model: nn.Module,
    onnx_path: str | Path,
    height: int,
    width: int,
    batch_sizes: Sequence[int] = (1, 3),
    fp16: bool = False,
) -> float:
    """Run the ONNX file with onnxruntime and PyTorch on the same random inputs; return the max abs diff."""
    ort = _require("onnxruntime", "Verifying the ONNX export")
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


def _verification_images(images: Sequence[str | os.PathLike] | None, n: int = 8) -> list[Any]:
    """Image files (folders expanded, first ``n``) or generated smooth RGB images when none are given."""
    if images:
        files: list[Path] = []
        for item in images:
            p = Path(item)
            if p.is_dir():
                files += sorted(
                    f for f in p.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp")
                )
            elif p.is_file():
                files.append(p)
            else:
                raise FileNotFoundError(f"verification image '{p}' does not exist")
        if not files:
            raise FileNotFoundError(f"no images found in {list(map(str, images))}")
        return [str(f) for f in files[:n]]
    rng = np.random.default_rng(0)
    out = []
    for _ in range(min(n, 4)):
        small = rng.integers(0, 256, size=(8, 4, 3), dtype=np.uint8)  # upsampled: natural-ish smooth content
        out.append(np.kron(small, np.ones((16, 16, 1), dtype=np.uint8)))
    return out


def verify_exported(
    model: nn.Module,
    extractor: Any,
    images: list[Any],
) -> tuple[float, float]:
    """Features of ``images`` from PyTorch vs an exported-model extractor: (max abs diff, min cosine)."""
    batch = extractor.images(images)
    with torch.no_grad():
        ref = model.float().eval()(batch)
    got = extractor(batch)
    if got.shape != ref.shape:
        raise RuntimeError(
            f"exported output shape {tuple(got.shape)} differs from PyTorch {tuple(ref.shape)}"
        )
    diff = float((got - ref).abs().max())
    cos = float(nn.functional.cosine_similarity(got, ref).min())
    return diff, cos


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The export options (shared by ``tools/export.py`` and ``torchreid export``)."""
    parser.add_argument(
        "-m", "--model-name", default=None, help="architecture (default: read from the checkpoint)"
    )
    parser.add_argument(
        "-w", "--weights", default=None, help="checkpoint, state dict or zoo name (omit: random weights)"
    )
    parser.add_argument(
        "-o", "--output", required=True, help="output file (.onnx; OpenVINO writes .xml/.bin)"
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="onnx", help="onnx, openvino or all (default onnx)"
    )
    parser.add_argument(
        "--height", type=int, default=None, help="input height (default: checkpoint, zoo, model)"
    )
    parser.add_argument(
        "--width", type=int, default=None, help="input width (default: checkpoint, zoo, model)"
    )
    parser.add_argument(
        "--color-order",
        choices=("rgb", "bgr"),
        default="rgb",
        help="channel order recorded for the extractors",
    )
    parser.add_argument("--normalize", action="store_true", help="L2-normalise the features inside the graph")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET)
    parser.add_argument("--fp16", action="store_true", help="export half-precision weights and inputs (ONNX)")
    parser.add_argument(
        "--atol", type=float, default=None, help="max allowed |export - PyTorch| (default 1e-3, fp16 0.05)"
    )
    parser.add_argument("--images", nargs="+", default=None, help="images or folders to verify on")
    parser.add_argument("--no-verify", action="store_true", help="skip the comparison with PyTorch")


def _settings(args: argparse.Namespace) -> tuple[nn.Module, dict[str, Any]]:
    """The model to export and its metadata, from the arguments, the checkpoint, the zoo and the model registry."""
    from ..models import get_model_info, is_model
    from ..models.zoo import ZOO
    from .metadata import checkpoint_metadata

    stored: dict[str, Any] = {}
    source = None
    model_name = args.model_name
    if args.weights is not None:
        ckpt, _path = _load(args.weights)
        stored = checkpoint_metadata(ckpt)
        source = str(args.weights)
        zoo = ZOO.get(str(args.weights))
        if zoo is not None:
            stored.setdefault("model_name", zoo.arch)
            stored.setdefault("image_size", zoo.input_size)
        model_name = model_name or stored.get("model_name")
        if not model_name:
            raise ExportError(f"'{args.weights}' does not record its architecture; pass it with -m")
        if not is_model(model_name):
            raise ExportError(f"unknown model '{model_name}' (see `torchreid.models.list_models()`)")
        if stored.get("model_name") and stored["model_name"] != model_name:
            logger.warning(f"-m {model_name} differs from the checkpoint's model '{stored['model_name']}'")
        model = _build_strict(model_name, _state_dict(ckpt, args.weights), args.weights)
    else:
        if not model_name:
            raise ExportError("pass the architecture with -m (and usually the weights with -w)")
        if not is_model(model_name):
            raise ExportError(f"unknown model '{model_name}' (see `torchreid.models.list_models()`)")
        model = load_model_for_export(model_name, None)
    info = get_model_info(model_name)
    height, width = stored.get("image_size", tuple(info.input_size[1:]))
    if args.height is not None or args.width is not None:
        given = (args.height or height, args.width or width)
        if "image_size" in stored and tuple(stored["image_size"]) != given:
            logger.warning(
                f"input size {given} differs from the {tuple(stored['image_size'])} stored in {source}"
            )
        height, width = given
    meta = {
        "model_name": model_name,
        "image_size": (int(height), int(width)),
        "pixel_mean": tuple(stored.get("pixel_mean", info.mean)),
        "pixel_std": tuple(stored.get("pixel_std", info.std)),
        "color_order": args.color_order,
        "normalized": bool(args.normalize),
        "source_checkpoint": os.path.basename(source) if source else None,
    }
    return model, meta


def run(args: argparse.Namespace) -> int:
    """Export as ``args`` say; print what was written and how it verified; return an exit code."""
    from .. import __version__

    model, meta = _settings(args)
    height, width = meta["image_size"]
    to_export: nn.Module = _L2Normalized(model).eval() if args.normalize else model
    reference = copy.deepcopy(to_export)  # fp32 copy with the same weights (random ones too, when no -w)
    with torch.no_grad():
        meta["feature_dim"] = int(reference(torch.zeros(1, 3, height, width)).shape[1])
    meta["torchreid_version"] = __version__
    output = Path(args.output)
    written: list[tuple[str, Path]] = []
    with tempfile.TemporaryDirectory() as tmpdir:
        onnx_path = output if args.format in ("onnx", "all") else Path(tmpdir) / "model.onnx"
        if args.format in ("onnx", "all"):
            _require("onnx", "ONNX export")
        path = export_onnx(
            to_export, onnx_path, height, width, args.opset, args.fp16, meta, meta["model_name"]
        )
        if args.format in ("onnx", "all"):
            written.append(("onnx", path))
            print(
                f"Exported {meta['model_name']} to {path} ({path.stat().st_size / 2**20:.1f} MB, opset {args.opset}, "
                f"dynamic batch axis, input {height}x{width}, {meta['feature_dim']}-d features)"
            )
        if args.format in ("openvino", "all"):
            xml = export_openvino(path, output.with_suffix(".xml"), meta)
            written.append(("openvino", xml))
            print(f"Exported {meta['model_name']} to {xml} (+ {xml.with_suffix('.bin').name}, OpenVINO IR)")
    if args.no_verify:
        return 0
    from .onnx_extractor import OnnxFeatureExtractor
    from .openvino_extractor import OpenVINOFeatureExtractor

    images = _verification_images(args.images)
    atol = args.atol if args.atol is not None else (0.05 if args.fp16 else 1e-3)
    what = "images" if args.images else "generated images"
    status = 0
    for fmt, path in written:
        if fmt == "onnx":
            _require("onnxruntime", "Verifying the ONNX export")
            extractor: Any = OnnxFeatureExtractor(path)
            runtime = "onnxruntime"
        else:
            extractor = OpenVINOFeatureExtractor(path)
            runtime = "OpenVINO"
        diff, cos = verify_exported(reference, extractor, images)
        # batch sizes 1 and 3 on random inputs as well: the batch axis must really be dynamic
        if fmt == "onnx":
            diff = max(diff, verify_onnx(reference, path, height, width, fp16=args.fp16))
        print(
            f"Verified with {runtime} on {len(images)} {what}: max abs diff vs PyTorch = {diff:.3e}, "
            f"min cosine {cos:.6f} (tolerance {atol:g})"
        )
        if diff > atol:
            print(f"error: {fmt} output differs from PyTorch by {diff:.3e} > {atol:g}", file=sys.stderr)
            status = 1
    return status


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; errors are one line on stderr and exit code 2."""
    parser = argparse.ArgumentParser(
        prog="export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_safely(args)


def run_safely(args: argparse.Namespace) -> int:
    """:func:`run`, turning expected failures into a one-line error and exit code 2."""
    try:
        return run(args)
    except (ExportError, ValueError, FileNotFoundError, PermissionError, RuntimeError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
