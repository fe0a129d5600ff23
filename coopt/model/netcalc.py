"""Layer profiles of chain DNNs computed from an architecture description.

A network is described as an input shape and a sequence of **rows**; each row is one
layer ``i`` of docs/model.md section 2 (a candidate split point: exactly one tensor leaves
it) and holds one or more **layer specs** (small frozen dataclasses). The calculator
propagates the tensor shape through the specs and returns a
:class:`coopt.model.profiles.Profile` with, per row, ``macs_i``, ``out_i`` (elements of the
row's output tensor) and ``params_i``. Row 0 is the input: ``out_0`` is the number
of input elements, ``macs_0 = params_0 = 0``.

Tensor shapes (batch 1, the batch axis omitted)
    ``(C, H, W)`` an image, ``(T, D)`` a token sequence, ``(F,)`` a vector.

MAC conventions (one multiply-accumulate = one multiplication and one addition)
    * ``Conv2d``: ``C_out H_out W_out (C_in / groups) k_h k_w``; taps that fall on
      zero padding are counted, as a dense implementation computes them.
    * ``Linear`` with ``u -> v`` on an input with ``m`` rows (1 for a vector,
      ``T`` for tokens): ``m u v``.
    * Attention on ``T`` tokens of width ``D``: the ``Q, K, V`` and output
      projections are ``Linear`` layers (``4 T D^2``), and the two matrix products
      ``Q K^T`` and ``A V`` count ``T^2 D`` each, summed over the heads.
    * Batch norm, layer norm, activations, softmax, pooling, residual additions,
      class token and position embedding cost **0 MACs**. This is fvcore-style
      counting of convolution, linear and matmul only, the convention behind
      torchvision's published GFLOPS (which are MAC counts); it reproduces them to
      within 0.6% for every shipped network, whereas charging one MAC per batch-norm
      element would move MobileNetV2 from +0.3% to +2.5%.
    * Biases cost no MACs (the addition is folded into the accumulation).

Parameter conventions
    Trainable parameters only, as ``sum(p.numel() for p in model.parameters())``
    counts them: weights and biases; batch and layer norm contribute their scale and
    shift (``2 C``), not their running statistics; the class token ``D`` and the
    position embedding ``T D``. Dropout is the identity at inference and is omitted.

Split granularity of the shipped profiles
    Residual and transformer blocks are one row each (a split inside a block would
    send two tensors). Batch norm and activations are folded into the row of the
    preceding convolution or linear layer; flattening is folded into the pooling row
    before it. Stem and head layers are rows of their own.

``python -m coopt.model.netcalc [--out DIR]`` regenerates the shipped CSV profiles.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coopt.errors import ProfileError
from coopt.model.profiles import Profile

Shape = tuple[int, ...]
Pair = int | tuple[int, int]


def _fmt(shape: Shape) -> str:
    return "x".join(str(s) for s in shape)


def _pair(value: Pair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _check_ints(spec: object, low: int, **values: Pair | None) -> None:
    """Reject a spec field below ``low`` when the spec is built, not when it is applied."""
    for key, value in values.items():
        if value is None:
            continue
        items = (value,) if isinstance(value, int) else tuple(value)
        if len(items) not in (1, 2) or any(
            not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low for v in items
        ):
            raise ProfileError(
                f"{type(spec).__name__}.{key} = {value!r}: must be an integer >= {low} (or a pair of them)"
            )


@dataclass(frozen=True)
class LayerCost:
    """Output shape, MACs and parameters of a spec applied to an input shape."""

    shape: Shape
    macs: int = 0
    params: int = 0


class Layer:
    """Base of the layer specs: :meth:`apply` maps an input shape to a :class:`LayerCost`."""

    def apply(self, shape: Shape, where: str) -> LayerCost:
        """Propagate ``shape``; ``where`` names the layer in error messages."""
        raise NotImplementedError

    def _fail(self, where: str, shape: Shape, problem: str) -> ProfileError:
        return ProfileError(f"layer {where} ({self!r}): input {_fmt(shape)}: {problem}")

    def _need(self, shape: Shape, ndim: int, where: str) -> None:
        kinds = {1: "a vector (F,)", 2: "tokens (T, D)", 3: "an image (C, H, W)"}
        if len(shape) != ndim:
            raise self._fail(where, shape, f"expects {kinds[ndim]}, got {len(shape)} dimension(s)")


def _window_out(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool) -> int | None:
    """Output length of a sliding window (PyTorch's formula); ``None`` if it does not fit."""
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        return None
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    # A last window that starts in the right padding is dropped (PyTorch's ceil_mode rule).
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _windows(
    layer: Layer,
    shape: Shape,
    where: str,
    kernel: Pair,
    stride: Pair,
    padding: Pair,
    dilation: Pair,
    ceil_mode: bool = False,
) -> tuple[int, int]:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel, stride, padding, dilation))
    _, h, w = shape
    oh = _window_out(h, kh, sh, ph, dh, ceil_mode)
    ow = _window_out(w, kw, sw, pw, dw, ceil_mode)
    if oh is None or ow is None:
        raise layer._fail(
            where,
            shape,
            f"padded input {h + 2 * ph}x{w + 2 * pw} is smaller than the dilated kernel "
            f"{dh * (kh - 1) + 1}x{dw * (kw - 1) + 1}",
        )
    return oh, ow


@dataclass(frozen=True)
class Conv2d(Layer):
    """2-D convolution ``C_in -> out_channels`` (input channels taken from the shape)."""

    out_channels: int
    kernel_size: Pair
    stride: Pair = 1
    padding: Pair = 0
    dilation: Pair = 1
    groups: int = 1
    bias: bool = True

    def __post_init__(self) -> None:
        _check_ints(
            self,
            1,
            out_channels=self.out_channels,
            kernel_size=self.kernel_size,
            stride=self.stride,
            dilation=self.dilation,
            groups=self.groups,
        )
        _check_ints(self, 0, padding=self.padding)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        c_in = shape[0]
        if c_in % self.groups or self.out_channels % self.groups:
            raise self._fail(
                where,
                shape,
                f"groups = {self.groups} must divide the input channels {c_in} "
                f"and the output channels {self.out_channels}",
            )
        oh, ow = _windows(self, shape, where, self.kernel_size, self.stride, self.padding, self.dilation)
        kh, kw = _pair(self.kernel_size)
        per_output = (c_in // self.groups) * kh * kw
        return LayerCost(
            shape=(self.out_channels, oh, ow),
            macs=self.out_channels * oh * ow * per_output,
            params=self.out_channels * per_output + (self.out_channels if self.bias else 0),
        )


@dataclass(frozen=True)
class Linear(Layer):
    """Fully connected layer on the last axis of a vector or of every token."""

    out_features: int
    bias: bool = True

    def __post_init__(self) -> None:
        _check_ints(self, 1, out_features=self.out_features)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        if len(shape) not in (1, 2):
            raise self._fail(where, shape, "expects a vector (F,) or tokens (T, D); flatten an image first")
        rows, u = (1, shape[0]) if len(shape) == 1 else shape
        v = self.out_features
        return LayerCost(shape=shape[:-1] + (v,), macs=rows * u * v, params=u * v + (v if self.bias else 0))


@dataclass(frozen=True)
class MaxPool2d(Layer):
    """Max pooling; ``stride`` defaults to ``kernel_size`` as in PyTorch."""

    kernel_size: Pair
    stride: Pair | None = None
    padding: Pair = 0
    dilation: Pair = 1
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        _check_ints(self, 1, kernel_size=self.kernel_size, stride=self.stride, dilation=self.dilation)
        _check_ints(self, 0, padding=self.padding)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        _pool_padding(self, shape, where, self.kernel_size, self.padding, self.dilation)
        stride = self.kernel_size if self.stride is None else self.stride
        oh, ow = _windows(self, shape, where, self.kernel_size, stride, self.padding, self.dilation, self.ceil_mode)
        return LayerCost(shape=(shape[0], oh, ow))


@dataclass(frozen=True)
class AvgPool2d(Layer):
    """Average pooling; ``stride`` defaults to ``kernel_size`` as in PyTorch."""

    kernel_size: Pair
    stride: Pair | None = None
    padding: Pair = 0
    ceil_mode: bool = False

    def __post_init__(self) -> None:
        _check_ints(self, 1, kernel_size=self.kernel_size, stride=self.stride)
        _check_ints(self, 0, padding=self.padding)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        _pool_padding(self, shape, where, self.kernel_size, self.padding, 1)
        stride = self.kernel_size if self.stride is None else self.stride
        oh, ow = _windows(self, shape, where, self.kernel_size, stride, self.padding, 1, self.ceil_mode)
        return LayerCost(shape=(shape[0], oh, ow))


def _pool_padding(layer: Layer, shape: Shape, where: str, kernel: Pair, padding: Pair, dilation: Pair) -> None:
    # PyTorch refuses a pad wider than half the window: such windows could see only padding.
    for k, p, d in zip(_pair(kernel), _pair(padding), _pair(dilation)):
        if 2 * p > d * (k - 1) + 1:
            raise layer._fail(where, shape, f"padding {p} exceeds half of the kernel span {d * (k - 1) + 1}")


@dataclass(frozen=True)
class AdaptiveAvgPool2d(Layer):
    """Adaptive average pooling to ``output_size`` (any input size, as in PyTorch)."""

    output_size: Pair

    def __post_init__(self) -> None:
        _check_ints(self, 1, output_size=self.output_size)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        return LayerCost(shape=(shape[0],) + _pair(self.output_size))


@dataclass(frozen=True)
class BatchNorm2d(Layer):
    """Batch norm over the channels of an image: ``2 C`` parameters, no MACs."""

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        return LayerCost(shape=shape, params=2 * shape[0])


@dataclass(frozen=True)
class LayerNorm(Layer):
    """Layer norm over the last axis: ``2 D`` parameters, no MACs."""

    def apply(self, shape: Shape, where: str) -> LayerCost:
        return LayerCost(shape=shape, params=2 * shape[-1])


@dataclass(frozen=True)
class Activation(Layer):
    """Elementwise nonlinearity (``kind`` is documentation only): no MACs, no parameters."""

    kind: str = "relu"

    def apply(self, shape: Shape, where: str) -> LayerCost:
        return LayerCost(shape=shape)


@dataclass(frozen=True)
class Flatten(Layer):
    """Flatten any tensor to a vector."""

    def apply(self, shape: Shape, where: str) -> LayerCost:
        return LayerCost(shape=(math.prod(shape),))


@dataclass(frozen=True)
class PatchEmbed(Layer):
    """ViT patch embedding: a ``patch x patch`` convolution with stride ``patch`` to tokens.

    An image ``(C, H, W)`` becomes ``(H W / patch^2, dim)`` tokens; ``H`` and ``W``
    must be multiples of ``patch`` (torchvision asserts the same).
    """

    dim: int
    patch: int

    def __post_init__(self) -> None:
        _check_ints(self, 1, dim=self.dim, patch=self.patch)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        if shape[1] % self.patch or shape[2] % self.patch:
            raise self._fail(where, shape, f"height and width must be multiples of the patch size {self.patch}")
        conv = Conv2d(self.dim, self.patch, stride=self.patch).apply(shape, where)
        _, oh, ow = conv.shape
        return LayerCost(shape=(oh * ow, self.dim), macs=conv.macs, params=conv.params)


@dataclass(frozen=True)
class ClassToken(Layer):
    """Prepend a learned class token: ``(T, D) -> (T + 1, D)``, ``D`` parameters."""

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 2, where)
        return LayerCost(shape=(shape[0] + 1, shape[1]), params=shape[1])


@dataclass(frozen=True)
class PositionEmbedding(Layer):
    """Add a learned position embedding: ``T D`` parameters, no MACs."""

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 2, where)
        return LayerCost(shape=shape, params=shape[0] * shape[1])


@dataclass(frozen=True)
class SelectToken(Layer):
    """Keep one token (the class token by default): ``(T, D) -> (D,)``."""

    index: int = 0

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 2, where)
        if not -shape[0] <= self.index < shape[0]:
            raise self._fail(where, shape, f"token index {self.index} is out of range")
        return LayerCost(shape=(shape[1],))


@dataclass(frozen=True)
class MultiHeadAttention(Layer):
    """Self-attention with ``heads`` heads on ``(T, D)`` tokens (``D`` divisible by ``heads``).

    MACs ``4 T D^2`` for the ``Q, K, V`` and output projections plus ``2 T^2 D`` for
    ``Q K^T`` and ``A V``; parameters ``4 D^2`` (``4 D`` more with bias).
    """

    heads: int
    bias: bool = True

    def __post_init__(self) -> None:
        _check_ints(self, 1, heads=self.heads)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 2, where)
        t, d = shape
        if d % self.heads:
            raise self._fail(where, shape, f"width {d} is not divisible by heads = {self.heads}")
        projections = Linear(d, bias=self.bias).apply(shape, where)
        return LayerCost(
            shape=shape,
            macs=4 * projections.macs + 2 * t * t * d,
            params=4 * projections.params,
        )


def _apply_all(layers: Sequence[Layer], shape: Shape, where: str) -> LayerCost:
    macs = params = 0
    for i, layer in enumerate(layers):
        cost = layer.apply(shape, f"{where}[{i}]" if len(layers) > 1 else where)
        shape, macs, params = cost.shape, macs + cost.macs, params + cost.params
    return LayerCost(shape=shape, macs=macs, params=params)


@dataclass(frozen=True)
class Sequential(Layer):
    """Specs applied one after the other."""

    layers: tuple[Layer, ...]

    def apply(self, shape: Shape, where: str) -> LayerCost:
        return _apply_all(self.layers, shape, where)


@dataclass(frozen=True)
class Residual(Layer):
    """``main(x) + shortcut(x)``; an empty ``shortcut`` is the identity.

    Both branches must produce the same shape; the addition costs no MACs.
    """

    main: tuple[Layer, ...]
    shortcut: tuple[Layer, ...] = ()

    def apply(self, shape: Shape, where: str) -> LayerCost:
        a = _apply_all(self.main, shape, f"{where}.main")
        b = _apply_all(self.shortcut, shape, f"{where}.shortcut")
        if a.shape != b.shape:
            raise ProfileError(
                f"layer {where} (Residual): input {_fmt(shape)}: main branch gives {_fmt(a.shape)} "
                f"but the shortcut gives {_fmt(b.shape)}"
            )
        return LayerCost(shape=a.shape, macs=a.macs + b.macs, params=a.params + b.params)


def _conv_bn(out: int, kernel: int, stride: int = 1, groups: int = 1, act: str | None = "relu") -> tuple[Layer, ...]:
    conv = Conv2d(out, kernel, stride=stride, padding=(kernel - 1) // 2, groups=groups, bias=False)
    return (conv, BatchNorm2d()) + ((Activation(act),) if act else ())


@dataclass(frozen=True)
class BasicBlock(Layer):
    """ResNet basic block: two 3x3 conv-BN, projection shortcut (1x1 conv-BN) when the shape changes."""

    planes: int
    stride: int = 1

    def __post_init__(self) -> None:
        _check_ints(self, 1, planes=self.planes, stride=self.stride)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        main = _conv_bn(self.planes, 3, self.stride) + _conv_bn(self.planes, 3, act=None)
        shortcut = (
            _conv_bn(self.planes, 1, self.stride, act=None) if self.stride != 1 or shape[0] != self.planes else ()
        )
        return Sequential((Residual(main, shortcut), Activation("relu"))).apply(shape, where)


@dataclass(frozen=True)
class Bottleneck(Layer):
    """ResNet v1.5 bottleneck (stride on the 3x3 conv, as torchvision): 1x1, 3x3, 1x1 conv-BN.

    The inner width is ``planes * width_per_group / 64 * groups`` (ResNeXt-ready), the
    output ``planes * expansion`` channels.
    """

    planes: int
    stride: int = 1
    groups: int = 1
    width_per_group: int = 64
    expansion: int = 4

    def __post_init__(self) -> None:
        _check_ints(
            self,
            1,
            planes=self.planes,
            stride=self.stride,
            groups=self.groups,
            width_per_group=self.width_per_group,
            expansion=self.expansion,
        )

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        width = self.planes * self.width_per_group // 64 * self.groups
        out = self.planes * self.expansion
        main = _conv_bn(width, 1) + _conv_bn(width, 3, self.stride, self.groups) + _conv_bn(out, 1, act=None)
        shortcut = _conv_bn(out, 1, self.stride, act=None) if self.stride != 1 or shape[0] != out else ()
        return Sequential((Residual(main, shortcut), Activation("relu"))).apply(shape, where)


@dataclass(frozen=True)
class InvertedResidual(Layer):
    """MobileNetV2 block: 1x1 expansion (skipped when ``expand_ratio == 1``), 3x3 depthwise, 1x1 linear.

    The hidden width is ``round(C_in * expand_ratio)``; the identity shortcut is used
    when ``stride == 1`` and the channels are unchanged (torchvision's rule).
    """

    out_channels: int
    stride: int
    expand_ratio: int

    def __post_init__(self) -> None:
        _check_ints(self, 1, out_channels=self.out_channels, stride=self.stride, expand_ratio=self.expand_ratio)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 3, where)
        hidden = round(shape[0] * self.expand_ratio)
        expand = _conv_bn(hidden, 1, act="relu6") if self.expand_ratio != 1 else ()
        main = (
            expand
            + _conv_bn(hidden, 3, self.stride, groups=hidden, act="relu6")
            + _conv_bn(self.out_channels, 1, act=None)
        )
        if self.stride == 1 and shape[0] == self.out_channels:
            return Residual(main).apply(shape, where)
        return Sequential(main).apply(shape, where)


@dataclass(frozen=True)
class EncoderBlock(Layer):
    """Pre-norm transformer encoder block (torchvision ViT).

    ``x + MHA(LN(x))`` then ``x + MLP(LN(x))`` with ``MLP = Linear(mlp_dim), GELU,
    Linear(D)``.
    """

    heads: int
    mlp_dim: int

    def __post_init__(self) -> None:
        _check_ints(self, 1, heads=self.heads, mlp_dim=self.mlp_dim)

    def apply(self, shape: Shape, where: str) -> LayerCost:
        self._need(shape, 2, where)
        attention = Residual((LayerNorm(), MultiHeadAttention(self.heads)))
        mlp = Residual((LayerNorm(), Linear(self.mlp_dim), Activation("gelu"), Linear(shape[1])))
        return Sequential((attention, mlp)).apply(shape, where)


@dataclass(frozen=True)
class Row:
    """One profile row (a candidate split point): a name and the specs it runs."""

    name: str
    layers: tuple[Layer, ...]


@dataclass(frozen=True)
class Network:
    """An architecture: input shape, rows, and the provenance written into the CSV header."""

    name: str
    input_shape: Shape
    rows: tuple[Row, ...]
    source: str = ""
    granularity: str = ""
    reference: str = ""
    notes: tuple[str, ...] = ()


def compute_profile(network: Network) -> Profile:
    """Propagate the input shape through ``network`` and tabulate every row.

    Returns
    -------
    Profile
        ``N + 1`` entries (``N = len(network.rows)``); entry 0 is the input.

    Raises
    ------
    ProfileError
        A spec does not fit the shape it receives; the message names the row, the
        spec and the shape.
    """
    if not network.input_shape or any(not isinstance(s, int) or s < 1 for s in network.input_shape):
        raise ProfileError(f"network {network.name}: input shape {network.input_shape!r}: must be positive integers")
    if not network.rows:
        raise ProfileError(f"network {network.name}: needs at least one row")
    shape = tuple(network.input_shape)
    names, macs, out, params = ["input"], [0], [math.prod(shape)], [0]
    for row in network.rows:
        cost = _apply_all(row.layers, shape, row.name)
        shape = cost.shape
        names.append(row.name)
        macs.append(cost.macs)
        out.append(math.prod(shape))
        params.append(cost.params)
    return Profile(
        name=network.name,
        layer_names=tuple(names),
        macs=np.asarray(macs, dtype=np.int64),
        out_elems=np.asarray(out, dtype=np.int64),
        params=np.asarray(params, dtype=np.int64),
    )


# ----------------------------------------------------------------------------------
# The shipped architectures (torchvision definitions, inference mode)
# ----------------------------------------------------------------------------------

_CONVENTION = (
    "Unit of macs: multiply-accumulates; only convolution, linear and attention matmuls count "
    "(norms, activations, pooling, additions: 0). params: trainable parameters (norms: scale and shift)."
)


def _image(size: int) -> Shape:
    return (3, size, size)


def alexnet(image_size: int = 224, num_classes: int = 1000) -> Network:
    """AlexNet as in torchvision (one-GPU variant with 64/192/384/256/256 channels)."""
    rows = (
        Row("conv1", (Conv2d(64, 11, stride=4, padding=2), Activation())),
        Row("pool1", (MaxPool2d(3, 2),)),
        Row("conv2", (Conv2d(192, 5, padding=2), Activation())),
        Row("pool2", (MaxPool2d(3, 2),)),
        Row("conv3", (Conv2d(384, 3, padding=1), Activation())),
        Row("conv4", (Conv2d(256, 3, padding=1), Activation())),
        Row("conv5", (Conv2d(256, 3, padding=1), Activation())),
        Row("pool5", (MaxPool2d(3, 2),)),
        Row("avgpool", (AdaptiveAvgPool2d(6), Flatten())),
        Row("fc6", (Linear(4096), Activation())),
        Row("fc7", (Linear(4096), Activation())),
        Row("fc8", (Linear(num_classes),)),
    )
    return Network(
        name="alexnet",
        input_shape=_image(image_size),
        rows=rows,
        source="AlexNet (Krizhevsky et al., 2012) as torchvision.models.alexnet: one-tower variant, "
        "conv 64-192-384-256-256, AdaptiveAvgPool2d(6x6), fc 9216-4096-4096-1000.",
        granularity="every conv and fc layer (ReLU folded in), every max pool, the adaptive avg pool (flatten folded in).",
        reference="torchvision reference: 61,100,840 parameters, 0.71 GFLOPS (a MAC count).",
    )


def vgg16(image_size: int = 224, num_classes: int = 1000) -> Network:
    """VGG-16 (configuration D, no batch norm) as in torchvision."""
    rows: list[Row] = []
    for stage, (channels, convs) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3)), start=1):
        rows += [Row(f"conv{stage}_{j}", (Conv2d(channels, 3, padding=1), Activation())) for j in range(1, convs + 1)]
        rows.append(Row(f"pool{stage}", (MaxPool2d(2, 2),)))
    rows += [
        Row("avgpool", (AdaptiveAvgPool2d(7), Flatten())),
        Row("fc6", (Linear(4096), Activation())),
        Row("fc7", (Linear(4096), Activation())),
        Row("fc8", (Linear(num_classes),)),
    ]
    return Network(
        name="vgg16",
        input_shape=_image(image_size),
        rows=tuple(rows),
        source="VGG-16 (Simonyan and Zisserman, 2015, configuration D) as torchvision.models.vgg16: "
        "13 conv 3x3 in 5 stages, AdaptiveAvgPool2d(7x7), fc 25088-4096-4096-1000.",
        granularity="every conv and fc layer (ReLU folded in), every max pool, the adaptive avg pool (flatten folded in).",
        reference="torchvision reference: 138,357,544 parameters, 15.47 GFLOPS (a MAC count).",
    )


def _resnet(
    name: str,
    block: Callable[[int, int], Layer],
    depths: tuple[int, ...],
    image_size: int,
    num_classes: int,
    source: str,
    reference: str,
) -> Network:
    rows = [
        Row("conv1", _conv_bn(64, 7, 2)),
        Row("maxpool", (MaxPool2d(3, 2, padding=1),)),
    ]
    for stage, (planes, depth) in enumerate(zip((64, 128, 256, 512), depths), start=1):
        rows += [Row(f"layer{stage}.{j}", (block(planes, 2 if stage > 1 and j == 0 else 1),)) for j in range(depth)]
    rows += [Row("avgpool", (AdaptiveAvgPool2d(1), Flatten())), Row("fc", (Linear(num_classes),))]
    return Network(
        name=name,
        input_shape=_image(image_size),
        rows=tuple(rows),
        source=source,
        granularity="stem conv (BN and ReLU folded in), max pool, one row per residual block "
        "(named as torchvision's modules), global avg pool (flatten folded in), fc.",
        reference=reference,
    )


def resnet18(image_size: int = 224, num_classes: int = 1000) -> Network:
    """ResNet-18 as in torchvision (basic blocks 2-2-2-2)."""
    return _resnet(
        "resnet18",
        lambda planes, stride: BasicBlock(planes, stride),
        (2, 2, 2, 2),
        image_size,
        num_classes,
        source="ResNet-18 (He et al., 2016) as torchvision.models.resnet18: basic blocks [2, 2, 2, 2], "
        "1x1 conv-BN projection shortcuts.",
        reference="torchvision reference: 11,689,512 parameters, 1.81 GFLOPS (a MAC count).",
    )


def resnet50(image_size: int = 224, num_classes: int = 1000) -> Network:
    """ResNet-50 v1.5 as in torchvision (bottleneck blocks 3-4-6-3, stride on the 3x3 conv)."""
    return _resnet(
        "resnet50",
        lambda planes, stride: Bottleneck(planes, stride),
        (3, 4, 6, 3),
        image_size,
        num_classes,
        source="ResNet-50 v1.5 (He et al., 2016) as torchvision.models.resnet50: bottleneck blocks [3, 4, 6, 3], "
        "stride on the 3x3 conv, 1x1 conv-BN projection shortcuts.",
        reference="torchvision reference: 25,557,032 parameters, 4.09 GFLOPS (a MAC count).",
    )


def mobilenet_v2(image_size: int = 224, num_classes: int = 1000) -> Network:
    """MobileNetV2 (width multiplier 1.0) as in torchvision."""
    rows = [Row("features.0", _conv_bn(32, 3, 2, act="relu6"))]
    settings = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )
    for t, c, n, s in settings:
        for i in range(n):
            rows.append(Row(f"features.{len(rows)}", (InvertedResidual(c, s if i == 0 else 1, t),)))
    rows += [
        Row(f"features.{len(rows)}", _conv_bn(1280, 1, act="relu6")),
        Row("avgpool", (AdaptiveAvgPool2d(1), Flatten())),
        Row("classifier", (Linear(num_classes),)),
    ]
    return Network(
        name="mobilenet_v2",
        input_shape=_image(image_size),
        rows=tuple(rows),
        source="MobileNetV2 (Sandler et al., 2018) as torchvision.models.mobilenet_v2, width 1.0: "
        "stem conv 3x3/2, 17 inverted-residual blocks, 1x1 conv to 1280, fc 1280-1000.",
        granularity="stem conv, one row per inverted-residual block, last 1x1 conv (BN and ReLU6 folded in), "
        "global avg pool (flatten folded in), classifier; names as torchvision's modules.",
        reference="torchvision reference: 3,504,872 parameters, 0.30 GFLOPS (a MAC count).",
    )


def vit_b_16(image_size: int = 224, num_classes: int = 1000) -> Network:
    """ViT-B/16 as in torchvision: 12 encoder blocks, width 768, 12 heads, MLP 3072."""
    rows = [Row("embed", (PatchEmbed(768, 16), ClassToken(), PositionEmbedding()))]
    rows += [Row(f"encoder_layer_{i}", (EncoderBlock(12, 3072),)) for i in range(12)]
    rows.append(Row("head", (LayerNorm(), SelectToken(0), Linear(num_classes))))
    return Network(
        name="vit_b_16",
        input_shape=_image(image_size),
        rows=tuple(rows),
        source="ViT-B/16 (Dosovitskiy et al., 2021) as torchvision.models.vit_b_16: 16x16 patches, "
        "class token, 12 pre-norm encoder blocks (D 768, 12 heads, MLP 3072), fc 768-1000.",
        granularity="patch embedding with class token and position embedding, one row per encoder block, "
        "head (final layer norm, class token, fc).",
        reference="torchvision reference: 86,567,656 parameters, 17.56 GFLOPS (a MAC count).",
        notes=("Attention MACs include Q K^T and A V (2 T^2 D per block, T = 197 tokens).",),
    )


ARCHITECTURES: dict[str, Callable[[], Network]] = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "mobilenet_v2": mobilenet_v2,
    "vit_b_16": vit_b_16,
}
"""The networks whose profiles ship in ``models/``, by file stem."""


def csv_comments(network: Network, profile: Profile) -> tuple[str, ...]:
    """Header comment lines of a generated CSV: provenance, input, granularity, unit, totals."""
    shape = network.input_shape
    shape_text = f"{shape[0]}x{shape[1]}x{shape[2]} (CxHxW)" if len(shape) == 3 else _fmt(shape)
    return (
        network.source,
        f"Input {shape_text}, batch 1. Split granularity: {network.granularity}",
        _CONVENTION,
        *network.notes,
        f"Totals: {int(profile.macs.sum()):,} MACs, {int(profile.params.sum()):,} parameters; {network.reference}",
        "Generated by coopt.model.netcalc; regenerate with `python -m coopt.model.netcalc`, do not edit by hand.",
    )


def shipped_csv_text(name: str) -> str:
    """The CSV text of a shipped architecture profile, exactly as in ``models/``."""
    if name not in ARCHITECTURES:
        raise ProfileError(f"architecture {name!r}: unknown; valid names: {', '.join(ARCHITECTURES)}")
    network = ARCHITECTURES[name]()
    profile = compute_profile(network)
    return profile.to_csv(csv_comments(network, profile))


def write_shipped_profiles(directory: Path | str) -> list[Path]:
    """Write ``<name>.csv`` for every network in :data:`ARCHITECTURES` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in ARCHITECTURES:
        path = directory / f"{name}.csv"
        # newline="" keeps "\n" line ends on every platform, so the files compare byte for byte.
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(shipped_csv_text(name))
        paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m coopt.model.netcalc [--out DIR]``: regenerate the shipped profiles."""
    parser = argparse.ArgumentParser(prog="python -m coopt.model.netcalc", description=main.__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "models",
        help="directory to write into (default: the repository's models/)",
    )
    args = parser.parse_args(argv)
    for path in write_shipped_profiles(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
