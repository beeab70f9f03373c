"""Training-step accelerator: mixed precision, channels_last, ``torch.compile`` and gradient clipping.

:class:`StepAccelerator` bundles the knobs that change *how* a training step runs, not *what* it computes,
so an engine's ``forward_backward`` stays a plain forward / loss / backward / step::

    accel = StepAccelerator(amp="bf16", channels_last=True, compile="max-autotune-no-cudagraphs")
    model = accel.prepare_model(model)
    for imgs, pids in loader:
        imgs = accel.prepare_inputs(imgs)
        with accel.autocast():
            loss = criterion(model(imgs), pids)
        accel.backward_and_step(loss, optimizer, model.parameters())

With the defaults (``amp='off'``, no channels_last, no compile, no clipping) every call is a pass-through and
the step is bit-identical to the original fp32 step.

- ``amp``: ``'off'`` | ``'bf16'`` (autocast, no scaler) | ``'fp16'`` (autocast + ``GradScaler``). fp16 without
  CUDA warns and falls back to fp32; bf16 runs on CPU and on GPUs that support it.
- ``channels_last``: NHWC memory format for the model's weights and the 4-D inputs (tensor cores like it).
- ``compile``: ``''`` (off) or a ``torch.compile`` mode: ``'default'``, ``'reduce-overhead'`` (CUDA-graph
  capture of forward and backward; shapes are static because training loaders drop the last batch),
  ``'max-autotune'``, ``'max-autotune-no-cudagraphs'``. ``True`` means ``'default'``.
- ``clip_grad_norm``: clip the global gradient L2 norm to this value when > 0 (after unscaling under fp16).
- a non-finite loss raises :class:`NonFiniteLossError` before the optimiser step, naming the step and what
  to try, instead of silently training on garbage.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = [
    "AMP_MODES",
    "COMPILE_MODES",
    "NonFiniteLossError",
    "StepAccelerator",
    "normalize_amp",
    "normalize_compile",
]

AMP_MODES = ("off", "bf16", "fp16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

_AMP_ALIASES = {
    "": "off",
    "none": "off",
    "false": "off",
    "fp32": "off",
    "off": "off",
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "half": "fp16",
}


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; training stops instead of corrupting the weights."""


def normalize_amp(amp: Any) -> str:
    if amp is None or amp is False:
        return "off"
    key = str(amp).strip().lower()
    if key not in _AMP_ALIASES:
        raise ValueError(f"train.amp={amp!r} is not valid; choose one of {list(AMP_MODES)}")
    return _AMP_ALIASES[key]


def normalize_compile(mode: Any) -> str:
    """'' (off) or a torch.compile mode. Accepts bools and 'off'/'none'/'false'/'true'."""
    if mode is None or mode is False:
        return ""
    if mode is True:
        return "default"
    key = str(mode).strip().lower()
    if key in ("", "off", "none", "false", "0"):
        return ""
    if key in ("true", "on", "1"):
        return "default"
    if key not in COMPILE_MODES:
        raise ValueError(f"train.compile={mode!r} is not valid; use '' (off) or one of {list(COMPILE_MODES)}")
    return key


def _bf16_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        # the default (including_emulation=True) also says yes on pre-Ampere GPUs (V100, T4), where bf16 is only
        # emulated: no bf16 tensor cores, far slower than fp16 and some cuDNN/cuBLAS kernels are missing
        try:
            return torch.cuda.is_bf16_supported(including_emulation=False)
        except TypeError:  # older PyTorch without the argument
            return torch.cuda.is_bf16_supported()
    return True


def _match_param_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give per-parameter state tensors (e.g. Adam's moments) the strides of their parameter."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            st = optimizer.state.get(p)
            if not st:
                continue
            for k, v in st.items():
                if isinstance(v, torch.Tensor) and v.shape == p.shape and v.stride() != p.stride():
                    st[k] = torch.empty_like(p, dtype=v.dtype, device=v.device).copy_(v)


def _can_fuse(optimizer: torch.optim.Optimizer) -> bool:
    """Adam/AdamW/SGD over CUDA floating-point parameters whose kernels the user did not choose."""
    if not isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW | torch.optim.SGD):
        return False
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if not params or any((not p.is_cuda) or (not p.is_floating_point()) for p in params):
        return False
    return not any(
        g.get("fused") or g.get("foreach") is True or g.get("differentiable") or g.get("capturable")
        for g in optimizer.param_groups
    )


def _place_steps(optimizer: torch.optim.Optimizer) -> None:
    """Put each ``step`` counter where its group's kernel reads it: fused/capturable kernels want a float32
    tensor on the parameter's device, the others a host tensor (a resumed or switched optimiser may hold
    either)."""
    for g in optimizer.param_groups:
        on_device = bool(g.get("fused") or g.get("capturable"))
        for p in g["params"]:
            st = optimizer.state.get(p)
            if not st or "step" not in st:
                continue
            step = st["step"]
            if on_device:
                if not (
                    isinstance(step, torch.Tensor) and step.device == p.device and step.dtype == torch.float32
                ):
                    st["step"] = torch.as_tensor(step, dtype=torch.float32).to(p.device)
            elif isinstance(step, torch.Tensor) and step.device.type != "cpu":
                st["step"] = step.cpu()


class StepAccelerator:
    """Mixed precision, memory format, compilation and clipping for one training step.

    ``device``: where the step runs (default: CUDA when available, else CPU). The effective precision is in
    :attr:`amp` (after any fallback).
    """

    def __init__(
        self,
        amp: Any = "off",
        channels_last: bool = False,
        compile: Any = "",
        clip_grad_norm: float = 0.0,
        device: torch.device | str | None = None,
        compile_backend: str = "inductor",
        check_finite: bool = True,
    ) -> None:
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        amp = normalize_amp(amp)
        if amp == "fp16" and self.device.type != "cuda":
            warnings.warn(
                "train.amp='fp16' needs a CUDA GPU (the gradient scaler is CUDA-only); falling back to fp32. "
                "Use train.amp='bf16' for mixed precision on CPU.",
                RuntimeWarning,
                stacklevel=2,
            )
            amp = "off"
        if amp == "bf16" and not _bf16_supported(self.device):
            warnings.warn(
                "this GPU does not support bfloat16; using train.amp='fp16' with a gradient scaler instead",
                RuntimeWarning,
                stacklevel=2,
            )
            amp = "fp16"
        self.amp = amp
        self.channels_last = bool(channels_last)
        self.compile_mode = normalize_compile(compile)
        self.compile_backend = compile_backend
        self.clip_grad_norm = float(clip_grad_norm or 0.0)
        if self.clip_grad_norm < 0:
            raise ValueError(f"train.clip_grad_norm must be >= 0, got {clip_grad_norm}")
        self.check_finite = check_finite
        self.scaler: torch.amp.GradScaler | None = (
            torch.amp.GradScaler(self.device.type) if amp == "fp16" else None
        )
        self.step_count = 0
        self.last_grad_norm: float | None = None

    # ------------------------------------------------------------------ set-up
    @property
    def enabled(self) -> bool:
        """True when anything differs from the plain fp32 eager step."""
        return self.amp != "off" or self.channels_last or bool(self.compile_mode) or self.clip_grad_norm > 0

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.amp)

    @property
    def uses_cudagraphs(self) -> bool:
        """True when the compiled model replays CUDA graphs (its outputs are overwritten by the next replay)."""
        return (
            self.device.type == "cuda"
            and self.compile_backend == "inductor"
            and self.compile_mode in ("reduce-overhead", "max-autotune")
        )

    def describe(self) -> str:
        parts = [f"amp={self.amp}", f"channels_last={self.channels_last}"]
        parts.append(f"compile={self.compile_mode or 'off'}")
        if self.clip_grad_norm > 0:
            parts.append(f"clip_grad_norm={self.clip_grad_norm:g}")
        return ", ".join(parts)

    def prepare_model(self, model: nn.Module, compile: bool = True) -> nn.Module:
        """Convert to channels_last (in place) and, when asked, return a compiled wrapper.

        Keep a reference to the original module for ``state_dict``/checkpoints (the compiled wrapper prefixes
        keys with ``_orig_mod.``); :func:`torchreid.utils.distributed.unwrap_model` strips wrappers.
        Compile *after* wrapping with DDP so that DDP's bucketing sees the original parameters.
        """
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        if compile and self.compile_mode:
            model = self.compile(model)
        return model

    def compile(self, fn: Any) -> Any:
        if not self.compile_mode:
            return fn
        if not hasattr(torch, "compile"):
            warnings.warn("torch.compile is unavailable in this PyTorch; running eagerly", stacklevel=2)
            return fn
        kwargs: dict[str, Any] = {"backend": self.compile_backend}
        if self.compile_backend == "inductor":
            kwargs["mode"] = self.compile_mode
        return torch.compile(fn, **kwargs)

    def prepare_optimizer(
        self, optimizer: torch.optim.Optimizer, fused: bool = True
    ) -> torch.optim.Optimizer:
        """Switch Adam/AdamW/SGD to the fused CUDA kernel (one launch per step) when the step runs on CUDA.

        Only applied when the accelerator is enabled (the default path stays bit-identical) and the user
        did not choose ``fused``/``foreach`` explicitly. Existing state (after a resume) is converted:
        state tensors take their parameter's memory layout (a checkpoint written with or without
        ``channels_last`` holds moments of that layout; the fused kernel refuses, and foreach slows down on,
        strides that differ from the parameter's), and ``step`` counters go where the kernel reads them.
        """
        _match_param_layout(optimizer)  # a no-op unless some strides differ; values are copied exactly
        if not (fused and self.enabled and self.device.type == "cuda"):
            # a checkpoint of a fast-path run restores its groups' fused flag with load_state_dict: without the
            # fast path, go back to the kernels the optimiser was built with (the original numerics)
            for g in optimizer.param_groups:
                if g.get("fused") and not optimizer.defaults.get("fused"):
                    g["fused"] = optimizer.defaults.get("fused")
                    g["foreach"] = optimizer.defaults.get("foreach")
        elif _can_fuse(optimizer):
            for g in optimizer.param_groups:
                g["fused"] = True
                g["foreach"] = False
            optimizer._step_supports_amp_scaling = True
        _place_steps(optimizer)
        return optimizer

    def prepare_inputs(self, x: Any) -> Any:
        """Move to the device (non-blocking) and apply channels_last to 4-D image batches."""
        if isinstance(x, torch.Tensor):
            if x.device != self.device and not (self.device.type == "cuda" and x.is_cuda):
                x = x.to(self.device, non_blocking=True)
            if self.channels_last and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            return x
        if isinstance(x, list | tuple):
            return type(x)(self.prepare_inputs(t) for t in x)
        return x

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp == "off":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def mark_step_begin(self) -> None:
        """Tell CUDA-graph trees a new iteration starts (needed by ``reduce-overhead`` in training)."""
        if self.compile_mode in ("reduce-overhead", "max-autotune"):
            mark = getattr(getattr(torch, "compiler", None), "cudagraph_mark_step_begin", None)
            if mark is not None:
                mark()

    def eval_call(self, fn: Any, inputs: Any) -> Any:
        """``fn(inputs)`` for evaluation. With CUDA graphs (compile 'reduce-overhead'/'max-autotune') every call
        is a new graph iteration whose replay overwrites the previous call's outputs, but evaluation keeps each
        batch's features (and video engines each chunk's) until all are concatenated: hand out copies."""
        if not self.uses_cudagraphs:
            return fn(inputs)
        self.mark_step_begin()
        out = fn(inputs)
        if isinstance(out, torch.Tensor):
            return out.clone()
        if isinstance(out, (tuple, list)):
            return type(out)(o.clone() if isinstance(o, torch.Tensor) else o for o in out)
        return out

    # ------------------------------------------------------------------ the step
    def assert_finite(self, loss: torch.Tensor, where: str = "") -> None:
        """Raise :class:`NonFiniteLossError` when ``loss`` is NaN/inf (one device sync)."""
        if not self.check_finite:
            return
        value = float(loss.detach().float().item()) if isinstance(loss, torch.Tensor) else float(loss)
        if math.isfinite(value):
            return
        at = f" at {where}" if where else f" at optimisation step {self.step_count + 1}"
        hints = [
            "lower train.lr (or add train.warmup_epochs)",
            "set train.clip_grad_norm (e.g. 5.0)",
        ]
        if self.amp == "fp16":
            hints.insert(0, "fp16 overflows easily: try train.amp bf16 (or off)")
        hints.append("check the input data (corrupt images, wrong normalisation, labels >= num_classes)")
        raise NonFiniteLossError(
            f"loss is {value}{at}; stopping instead of training on garbage (the weights were not updated by "
            f"this step). Try: {'; '.join(hints)}. Accelerator: {self.describe()}."
        )

    def backward(self, loss: torch.Tensor) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def step(
        self, optimizer: torch.optim.Optimizer, parameters: Iterable[torch.Tensor] | None = None
    ) -> None:
        """Unscale (fp16), clip (when configured), step and update the scaler."""
        if self.clip_grad_norm > 0:
            if parameters is None:
                parameters = [p for g in optimizer.param_groups for p in g["params"]]
            if self.scaler is not None:
                self.scaler.unscale_(optimizer)
            norm = torch.nn.utils.clip_grad_norm_(list(parameters), self.clip_grad_norm)
            self.last_grad_norm = norm  # a tensor: read it only when logging (avoids a sync per step)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()
        self.step_count += 1

    def backward_and_step(
        self,
        loss: torch.Tensor,
        optimizer: torch.optim.Optimizer,
        parameters: Iterable[torch.Tensor] | None = None,
        where: str = "",
        zero_grad: bool = True,
    ) -> None:
        """``zero_grad`` → ``backward`` → finiteness check → (unscale, clip) → ``step``.

        The finiteness check happens before the optimiser step, so a NaN never reaches the weights.
        """
        if zero_grad:
            optimizer.zero_grad()
        self.backward(loss)
        self.assert_finite(loss, where)
        self.step(optimizer, parameters)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {"amp": self.amp, "scaler": self.scaler.state_dict() if self.scaler is not None else None}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state and self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
