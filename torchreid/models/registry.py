"""Model registry (timm-style): a decorator, per-model metadata and one factory.

Each architecture module registers factory functions::

    @register_model(pretrained_key="osnet_x1_0", feature_dim=512, weights="osnet_x1_0_imagenet.pth", source="...")
    def osnet_x1_0(num_classes, loss="softmax", pretrained=True, **kwargs):
        return OSNet(...)  # the architecture only

The metadata declares each model's ImageNet weights once; the registered wrapper loads them for
``pretrained=True`` (for ``build_model`` and direct calls alike) and drops the legacy ``use_gpu`` argument.

Model modules in this package are imported on the first registry query, so ``import torchreid`` stays cheap.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import inspect
import logging
import pkgutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from ..utils.registry import Registry

__all__ = [
    "MODELS",
    "ModelInfo",
    "build_model",
    "get_model_info",
    "is_model",
    "list_models",
    "model_factory",
    "register_model",
    "show_avai_models",
]

from ..data.constants import IMAGENET_MEAN, IMAGENET_STD  # the one definition

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of one registered model name."""

    name: str
    fn: Callable[..., nn.Module]
    input_size: tuple[int, int, int] = (3, 256, 128)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    feature_dim: int | None = None
    weights: str | None = None  # file name of the ImageNet-pretrained weights in the cache
    sha256: str | None = None
    url: str | None = None
    source: str | None = None  # where the weights come from (torchvision, Google Drive, ...)
    license: str | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    # How ``pretrained=True`` loads ImageNet weights: ``pretrained_key`` names them for
    # :mod:`torchreid.models.pretrained` (``'osnet_x1_0'``, ``'torchvision:ResNet50_Weights.IMAGENET1K_V1'``);
    # ``weights_loader(model, key)`` replaces the standard loader (e.g. DenseNet's old key names);
    # ``missing_weights='warn'`` keeps the random initialisation with a warning when none exist or a manual download
    # is not in the cache (as the original), ``'error'`` raises.
    pretrained_key: str | None = None
    weights_loader: Callable[[nn.Module, str], Any] | None = None
    missing_weights: str = "error"

    @property
    def has_pretrained(self) -> bool:
        return bool(self.weights or self.url or self.source == "torchvision")


def load_registered_weights(model: nn.Module, info: ModelInfo) -> nn.Module:
    """Load the ImageNet weights ``info`` declares into ``model`` (the one place factories' weights are loaded)."""
    if info.pretrained_key is None:
        if info.missing_weights == "warn":
            warnings.warn(
                f"ImageNet-pretrained weights are not available for {info.name}; it is randomly initialised",
                stacklevel=3,
            )
        return model
    from .pretrained import WeightsNotFoundError, load_imagenet_weights

    loader = info.weights_loader or load_imagenet_weights
    try:
        loader(model, info.pretrained_key)
    except WeightsNotFoundError as exc:
        if info.missing_weights != "warn":
            raise
        warnings.warn(f"{info.name} is randomly initialised: {exc}", stacklevel=3)
    return model


MODELS: Registry[ModelInfo] = Registry("model")

# The original factory's order (``show_avai_models`` printed it); names registered later follow in registration
# order.
ORIGINAL_ORDER: tuple[str, ...] = (
    "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "resnext101_32x8d",
    "resnet50_fc512", "se_resnet50", "se_resnet50_fc512", "se_resnet101", "se_resnext50_32x4d",
    "se_resnext101_32x4d", "densenet121", "densenet169", "densenet201", "densenet161", "densenet121_fc512",
    "inceptionresnetv2", "inceptionv4", "xception", "resnet50_ibn_a", "resnet50_ibn_b", "nasnsetmobile",
    "mobilenetv2_x1_0", "mobilenetv2_x1_4", "shufflenet", "squeezenet1_0", "squeezenet1_0_fc512",
    "squeezenet1_1", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "mudeep", "resnet50mid", "hacnn", "pcb_p6", "pcb_p4", "mlfn", "osnet_x1_0", "osnet_x0_75", "osnet_x0_5",
    "osnet_x0_25", "osnet_ibn_x1_0", "osnet_ain_x1_0", "osnet_ain_x0_75", "osnet_ain_x0_5", "osnet_ain_x0_25",
)  # fmt: skip
_ORDER_INDEX = {n: i for i, n in enumerate(ORIGINAL_ORDER)}
_MODULES_LOADED = False

# Modules of this package that are not architectures.
_NON_MODEL_MODULES = {"registry", "heads", "pretrained", "common"}


def _load_all() -> None:
    """Import every architecture module of the package once, so that their decorators run."""
    global _MODULES_LOADED
    if _MODULES_LOADED:
        return
    _MODULES_LOADED = True
    from . import __path__ as pkg_path

    for mod in sorted(pkgutil.iter_modules(pkg_path), key=lambda m: m.name):
        if mod.name not in _NON_MODEL_MODULES and not mod.name.startswith("_"):
            importlib.import_module(f"{__package__}.{mod.name}")


def register_model(
    fn: Callable[..., nn.Module] | None = None,
    *,
    name: str | None = None,
    aliases: tuple[str, ...] = (),
    **metadata: Any,
) -> Any:
    """Register a model factory; usable as ``@register_model`` or ``@register_model(feature_dim=512, ...)``.

    The factory builds the architecture only. The decorator returns (and registers) a wrapper with the same
    signature that drops the legacy ``use_gpu`` argument and, for ``pretrained=True``, loads the weights the
    metadata declares (``pretrained_key``, see :class:`ModelInfo`), so each model states its weights once and
    ``build_model`` and direct factory calls load them the same way.
    """

    def _wrap(f: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        key = name or f.__name__
        signature = inspect.signature(f)

        @functools.wraps(f)
        def factory(*args: Any, **kwargs: Any) -> nn.Module:
            kwargs.pop("use_gpu", None)  # accepted for compatibility; models are built on the CPU
            bound = signature.bind_partial(*args, **kwargs)
            pretrained = bound.arguments.get("pretrained", _default(signature, "pretrained", True))
            model = f(*args, **kwargs)
            return load_registered_weights(model, MODELS.get(key)) if pretrained else model

        MODELS.register(
            key, ModelInfo(name=key, fn=factory, aliases=tuple(aliases), **metadata), aliases=aliases
        )
        return factory

    if fn is not None:
        return _wrap(fn)
    return _wrap


def _default(signature: inspect.Signature, parameter: str, fallback: Any) -> Any:
    p = signature.parameters.get(parameter)
    return fallback if p is None or p.default is inspect.Parameter.empty else p.default


def get_model_info(name: str) -> ModelInfo:
    _load_all()
    return MODELS.get(name)


def is_model(name: str) -> bool:
    _load_all()
    return name in MODELS


def list_models(pattern: str = "*", pretrained: bool = False) -> list[str]:
    """Registered model names matching the shell-style ``pattern`` (the original's order first, then the rest
    in registration order).

    With ``pretrained=True`` only those that have known pretrained weights.
    """
    _load_all()
    registered = MODELS.names()
    names = sorted(registered, key=lambda n: (_ORDER_INDEX.get(n, len(_ORDER_INDEX)), registered.index(n)))
    names = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if pretrained:
        names = [n for n in names if MODELS.get(n).has_pretrained]
    return names


def show_avai_models() -> None:
    """Show the available model names (as the original did; through the ``torchreid`` logger)."""
    logger.info(str(list_models()))


def build_model(
    name: str,
    num_classes: int,
    loss: str = "softmax",
    pretrained: bool = True,
    use_gpu: bool = True,
    head: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build model ``name`` with a ``num_classes``-way classifier.

    ``loss`` selects the training-mode output ('softmax' → logits, 'triplet' → (logits, features)).
    ``pretrained`` loads ImageNet weights where the model has them (cache first, see
    :mod:`torchreid.models.pretrained`). ``use_gpu`` is accepted for compatibility; models are always built on
    the CPU (move them with ``.to(device)``), so nothing touches CUDA on a machine without one.

    ``head='bnneck'`` replaces the model's pooling/fc/classifier with the BoT BNNeck head
    (:mod:`torchreid.models.heads`); ``pooling='avg'|'max'|'gem'`` and ``neck_feat='after'|'before'`` configure
    it, other keyword arguments (e.g. ``last_stride=1``) go to the backbone. Without ``head`` the model is
    exactly the original architecture.
    """
    del use_gpu  # accepted for compatibility only: the device is decided by the caller (``model.to(device)``)
    _load_all()
    info = MODELS.get(name)
    if head is None:
        return info.fn(num_classes=num_classes, loss=loss, pretrained=pretrained, **kwargs)
    from .heads import attach_head

    head_kwargs = {k: kwargs.pop(k) for k in ("pooling", "neck_feat", "feature_channels", "p") if k in kwargs}
    backbone = info.fn(num_classes=num_classes, loss=loss, pretrained=pretrained, **kwargs)
    return attach_head(backbone, head, num_classes, loss=loss, input_size=info.input_size, **head_kwargs)


class _ModelFactoryView(Mapping[str, Callable[..., nn.Module]]):
    """Read-only ``name → factory`` mapping, like the original's ``torchreid.models.__model_factory``."""

    def __getitem__(self, name: str) -> Callable[..., nn.Module]:
        _load_all()
        return MODELS.get(name).fn

    def __iter__(self) -> Iterator[str]:
        _load_all()
        return iter(MODELS.names())

    def __len__(self) -> int:
        _load_all()
        return len(MODELS.names())

    def __contains__(self, name: object) -> bool:
        _load_all()
        return isinstance(name, str) and name in MODELS


model_factory: Mapping[str, Callable[..., nn.Module]] = _ModelFactoryView()
