"""Tests of coopt.model.netcalc (layer profiles from architectures) and the ``coopt profile`` command.

Known answers: torchvision's published parameter counts (exact) and GFLOPS (rounded,
so compared with a tolerance); hand-computed MACs, shapes and parameters of small
layers; the shipped CSV files against the calculator's output, byte for byte.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from coopt.cli.profile import add_profile_parser, run_profile
from coopt.errors import InstanceError, ProfileError
from coopt.model.netcalc import (
    ARCHITECTURES,
    Activation,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BasicBlock,
    BatchNorm2d,
    Bottleneck,
    ClassToken,
    Conv2d,
    EncoderBlock,
    Flatten,
    InvertedResidual,
    Layer,
    LayerCost,
    LayerNorm,
    Linear,
    MaxPool2d,
    MultiHeadAttention,
    Network,
    PatchEmbed,
    PositionEmbedding,
    Residual,
    Row,
    SelectToken,
    compute_profile,
    shipped_csv_text,
    write_shipped_profiles,
)
from coopt.model.profiles import list_profiles, load_profile, mlp_profile, read_profile_csv
from tests.support.instances import MODELS as MODELS_DIR

# torchvision's model docs (IMAGENET1K_V1 weights): num_params, and GFLOPS, which are MAC counts.
PUBLISHED = {
    "alexnet": (61_100_840, 0.71),
    "vgg16": (138_357_544, 15.47),
    "resnet18": (11_689_512, 1.81),
    "resnet50": (25_557_032, 4.09),
    "mobilenet_v2": (3_504_872, 0.30),
    "vit_b_16": (86_567_656, 17.56),
}
RTOL_PUBLISHED_MACS = 0.03  # the published GFLOPS are rounded to 2 decimals and count conv/linear/matmul only


def _profile(name: str):
    return compute_profile(ARCHITECTURES[name]())


# ---------------------------------------------------------------------------------
# Whole networks against published figures and the shipped files
# ---------------------------------------------------------------------------------


def test_registry_is_the_published_set():
    assert set(ARCHITECTURES) == set(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_equals_torchvision(name):
    assert int(_profile(name).params.sum()) == PUBLISHED[name][0]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_mac_total_near_torchvision_gflops(name):
    total = int(_profile(name).macs.sum())
    assert total == pytest.approx(PUBLISHED[name][1] * 1e9, rel=RTOL_PUBLISHED_MACS)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_csv_equals_generated(name):
    assert (MODELS_DIR / f"{name}.csv").read_bytes() == shipped_csv_text(name).encode("utf-8")


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_csv_states_provenance(name):
    comments = [ln for ln in (MODELS_DIR / f"{name}.csv").read_text().splitlines() if ln.startswith("#")]
    text = " ".join(comments)
    for fragment in ("torchvision.models.", "Input 3x224x224", "batch 1", "Split granularity", "multiply-accumulates"):
        assert fragment in text


def test_write_shipped_profiles_reproduces_models_dir(tmp_path):
    written = write_shipped_profiles(tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f"{n}.csv" for n in PUBLISHED)
    for path in written:
        assert path.read_bytes() == (MODELS_DIR / path.name).read_bytes()


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_shipped_profile_loads_with_input_row(name):
    profile = load_profile(name)
    assert profile.layer_names[0] == "input"
    assert (profile.macs[0], profile.params[0], profile.out_elems[0]) == (0, 0, 3 * 224 * 224)
    np.testing.assert_array_equal(profile.macs, _profile(name).macs)


@pytest.mark.parametrize("name", list_profiles())
def test_readme_provenance_lists_every_profile(name):
    profile = load_profile(name)
    row = next((ln for ln in (MODELS_DIR / "README.md").read_text().splitlines() if f"`{name}.csv`" in ln), None)
    assert row is not None
    assert f"{int(profile.macs.sum()):,}" in row and f"{int(profile.params.sum()):,}" in row


@pytest.mark.parametrize(
    ("name", "row", "out_elems"),
    [
        ("alexnet", "conv1", 64 * 55 * 55),  # (224 + 4 - 11) // 4 + 1 = 55
        ("alexnet", "pool5", 256 * 6 * 6),
        ("vgg16", "pool5", 512 * 7 * 7),
        ("resnet18", "maxpool", 64 * 56 * 56),
        ("resnet18", "layer4.1", 512 * 7 * 7),
        ("resnet50", "layer1.0", 256 * 56 * 56),
        ("resnet50", "layer4.2", 2048 * 7 * 7),
        ("mobilenet_v2", "features.17", 320 * 7 * 7),
        ("mobilenet_v2", "features.18", 1280 * 7 * 7),
        ("vit_b_16", "embed", 197 * 768),
        ("vit_b_16", "encoder_layer_11", 197 * 768),
        ("vit_b_16", "head", 1000),
    ],
)
def test_known_intermediate_sizes(name, row, out_elems):
    profile = _profile(name)
    assert profile.out_elems[profile.layer_names.index(row)] == out_elems


@pytest.mark.parametrize(
    ("name", "n_blocks", "prefix"),
    [
        ("resnet18", 8, "layer"),
        ("resnet50", 16, "layer"),
        ("mobilenet_v2", 17, "features."),
        ("vit_b_16", 12, "encoder_layer_"),
    ],
)
def test_blocks_are_single_rows(name, n_blocks, prefix):
    names = _profile(name).layer_names
    blocks = [n for n in names if n.startswith(prefix) and n not in ("features.0", "features.18")]
    assert len(blocks) == n_blocks
    assert len(set(names)) == len(names)


def test_vit_block_macs_by_hand():
    t, d, m = 197, 768, 3072
    block = 4 * t * d * d + 2 * t * t * d + 2 * t * d * m  # projections, QK^T and AV, MLP
    profile = _profile("vit_b_16")
    assert profile.macs[profile.layer_names.index("encoder_layer_0")] == block


def test_lenet5_shipped_profile_is_reproduced():
    lenet = Network(
        "lenet5",
        (1, 32, 32),
        (
            Row("conv1", (Conv2d(6, 5), Activation("tanh"))),
            Row("pool1", (AvgPool2d(2),)),
            Row("conv2", (Conv2d(16, 5), Activation("tanh"))),
            Row("pool2", (AvgPool2d(2), Flatten())),
            Row("fc1", (Linear(120),)),
            Row("fc2", (Linear(84),)),
            Row("fc3", (Linear(10),)),
        ),
    )
    ours, shipped = compute_profile(lenet), load_profile("lenet5")
    assert ours.layer_names == shipped.layer_names
    for column in ("macs", "out_elems", "params"):
        np.testing.assert_array_equal(getattr(ours, column), getattr(shipped, column))


# ---------------------------------------------------------------------------------
# Single layers against hand computation
# ---------------------------------------------------------------------------------


def _window_count(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Count window positions by walking them over the padded input (no closed formula)."""
    return sum(
        1 for start in range(0, size + 2 * padding, stride) if start + dilation * (kernel - 1) <= size + 2 * padding - 1
    )


@pytest.mark.parametrize(
    ("layer", "shape", "out_shape", "macs", "params"),
    [
        # 3x7x7, 6 filters 3x3, stride 2, pad 1: 4x4 outputs, 6*16*3*9 MACs, 6*27 + 6 parameters
        (Conv2d(6, 3, stride=2, padding=1), (3, 7, 7), (6, 4, 4), 2592, 168),
        # groups 4 with 4 input channels: each filter sees 1 channel
        (Conv2d(8, 3, padding=1, groups=4, bias=False), (4, 5, 5), (8, 5, 5), 8 * 25 * 1 * 9, 8 * 9),
        # depthwise, no padding: 6 - 3 + 1 = 4
        (Conv2d(4, 3, groups=4), (4, 6, 6), (4, 4, 4), 4 * 16 * 9, 4 * 9 + 4),
        # dilation 2 spans 5 pixels: 9 - 5 + 1 = 5
        (Conv2d(2, 3, dilation=2), (1, 9, 9), (2, 5, 5), 2 * 25 * 9, 2 * 9 + 2),
        # stride 3, pad 2, dilation 2: starts 0, 3, 6, 9 in the padded 14 pixels
        (Conv2d(3, 3, stride=3, padding=2, dilation=2), (2, 10, 10), (3, 4, 4), 3 * 16 * 2 * 9, 3 * 18 + 3),
        # rectangular kernel and stride
        (Conv2d(1, (1, 3), stride=(1, 2)), (2, 4, 7), (1, 4, 3), 1 * 12 * 2 * 3, 6 + 1),
    ],
)
def test_conv2d_by_hand(layer, shape, out_shape, macs, params):
    cost = layer.apply(shape, "c")
    assert cost == LayerCost(out_shape, macs, params)
    kh, kw = (layer.kernel_size,) * 2 if isinstance(layer.kernel_size, int) else layer.kernel_size
    sh, sw = (layer.stride,) * 2 if isinstance(layer.stride, int) else layer.stride
    assert cost.shape[1] == _window_count(shape[1], kh, sh, layer.padding, layer.dilation)
    assert cost.shape[2] == _window_count(shape[2], kw, sw, layer.padding, layer.dilation)


@pytest.mark.parametrize(
    ("layer", "shape", "out_shape"),
    [
        (MaxPool2d(3, 2), (64, 55, 55), (64, 27, 27)),  # AlexNet pool1
        (MaxPool2d(3, 2, padding=1), (64, 112, 112), (64, 56, 56)),  # ResNet stem pool
        (MaxPool2d(2), (1, 5, 5), (1, 2, 2)),  # floor mode drops the last column
        (MaxPool2d(2, ceil_mode=True), (1, 5, 5), (1, 3, 3)),  # ceil mode keeps it
        # ceil mode, pad 1: a 4th window would start at 6, inside the right padding only: dropped
        (MaxPool2d(2, 2, padding=1, ceil_mode=True), (1, 5, 5), (1, 3, 3)),
        (MaxPool2d(2, 1, dilation=2), (1, 5, 5), (1, 3, 3)),
        (AvgPool2d(2), (3, 4, 6), (3, 2, 3)),
        (AvgPool2d(3, 1, padding=1), (3, 4, 6), (3, 4, 6)),
        (AdaptiveAvgPool2d(6), (256, 13, 13), (256, 6, 6)),
        (AdaptiveAvgPool2d((2, 3)), (5, 7, 7), (5, 2, 3)),
        (AdaptiveAvgPool2d(1), (512, 7, 7), (512, 1, 1)),
    ],
)
def test_pooling_by_hand(layer, shape, out_shape):
    assert layer.apply(shape, "p") == LayerCost(out_shape, 0, 0)


@pytest.mark.parametrize(
    ("layer", "shape", "cost"),
    [
        (Linear(4096), (9216,), LayerCost((4096,), 9216 * 4096, 9216 * 4096 + 4096)),
        (Linear(3), (5, 8), LayerCost((5, 3), 5 * 8 * 3, 8 * 3 + 3)),  # per token
        (Linear(3, bias=False), (8,), LayerCost((3,), 24, 24)),
        (BatchNorm2d(), (4, 3, 3), LayerCost((4, 3, 3), 0, 8)),
        (LayerNorm(), (5, 8), LayerCost((5, 8), 0, 16)),
        (Activation("gelu"), (5, 8), LayerCost((5, 8), 0, 0)),
        (Flatten(), (2, 3, 4), LayerCost((24,), 0, 0)),
        # 8x8 image, 4x4 patches: 4 tokens, each 8 outputs of 3*16 MACs; 8*48 + 8 parameters
        (PatchEmbed(8, 4), (3, 8, 8), LayerCost((4, 8), 4 * 8 * 48, 8 * 48 + 8)),
        (ClassToken(), (4, 8), LayerCost((5, 8), 0, 8)),
        (PositionEmbedding(), (5, 8), LayerCost((5, 8), 0, 40)),
        (SelectToken(), (5, 8), LayerCost((8,), 0, 0)),
    ],
)
def test_simple_layers_by_hand(layer, shape, cost):
    assert layer.apply(shape, "x") == cost


T, D, HEADS, MLP = 5, 8, 2, 16


def test_attention_by_hand():
    # Q, K, V, output projections: 4 T D^2; scores and weighted sum: per head T^2 (D/H), twice
    macs = 4 * T * D * D + 2 * HEADS * T * T * (D // HEADS)
    params = 4 * (D * D + D)
    assert MultiHeadAttention(HEADS).apply((T, D), "a") == LayerCost((T, D), macs, params)
    assert macs == 1680


def test_encoder_block_by_hand():
    attention_macs = 4 * T * D * D + 2 * T * T * D
    mlp_macs = T * D * MLP + T * MLP * D
    params = 2 * D + 4 * (D * D + D) + 2 * D + (D * MLP + MLP) + (MLP * D + D)
    assert EncoderBlock(HEADS, MLP).apply((T, D), "e") == LayerCost((T, D), attention_macs + mlp_macs, params)
    assert (attention_macs + mlp_macs, params) == (2960, 600)


@pytest.mark.parametrize(
    ("block", "shape", "cost"),
    [
        # 4->8 channels, stride 2: conv3x3 s2 (8*16*4*9), conv3x3 (8*16*8*9), 1x1 s2 projection (8*16*4);
        # params 288 + 576 + 32 weights and three BN of 16
        (BasicBlock(8, 2), (4, 8, 8), LayerCost((8, 4, 4), 4608 + 9216 + 512, 288 + 576 + 32 + 3 * 16)),
        # identity shortcut: two 3x3 convs 4->4 on 8x8
        (BasicBlock(4), (4, 8, 8), LayerCost((4, 8, 8), 2 * 4 * 64 * 4 * 9, 2 * (144 + 8))),
        # bottleneck 8 -> 2 -> 2 -> 8 on 4x4, identity shortcut
        (
            Bottleneck(2),
            (8, 4, 4),
            LayerCost((8, 4, 4), 2 * 16 * 8 + 2 * 16 * 2 * 9 + 8 * 16 * 2, (16 + 4) + (36 + 4) + (16 + 16)),
        ),
        # bottleneck from 4 channels: projection 1x1 4->8 with BN
        (
            Bottleneck(2),
            (4, 4, 4),
            LayerCost(
                (8, 4, 4),
                2 * 16 * 4 + 2 * 16 * 2 * 9 + 8 * 16 * 2 + 8 * 16 * 4,
                (8 + 4) + (36 + 4) + (16 + 16) + (32 + 16),
            ),
        ),
        # expansion 6: 4 -> 24 (1x1), depthwise 3x3, 24 -> 4 (1x1), identity shortcut
        (
            InvertedResidual(4, 1, 6),
            (4, 5, 5),
            LayerCost((4, 5, 5), 24 * 25 * 4 + 24 * 25 * 9 + 4 * 25 * 24, (96 + 48) + (216 + 48) + (96 + 8)),
        ),
        # MobileNetV2 features.1: no expansion; depthwise 32 on 112x112, then 32 -> 16
        (
            InvertedResidual(16, 1, 1),
            (32, 112, 112),
            LayerCost((16, 112, 112), 32 * 12544 * 9 + 16 * 12544 * 32, (288 + 64) + (512 + 32)),
        ),
    ],
)
def test_blocks_by_hand(block, shape, cost):
    assert block.apply(shape, "b") == cost


# ---------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "shape", "fragments"),
    [
        (Conv2d(4, 11), (3, 5, 5), ("3x5x5", "11x11")),
        (Conv2d(4, 3, dilation=3), (1, 6, 6), ("1x6x6", "7x7")),
        (Conv2d(4, 3, groups=2), (3, 8, 8), ("3x8x8", "groups = 2")),
        (Conv2d(4, 3), (5, 8), ("5x8", "image")),
        (Linear(10), (3, 4, 4), ("3x4x4", "flatten")),
        (MaxPool2d(3, 2), (8, 2, 2), ("8x2x2", "3x3")),
        (MaxPool2d(2, padding=2), (8, 6, 6), ("8x6x6", "padding 2")),
        (AvgPool2d(5), (2, 4, 9), ("2x4x9", "5x5")),
        (MultiHeadAttention(3), (5, 8), ("5x8", "heads = 3")),
        (EncoderBlock(2, 16), (3, 8, 8), ("3x8x8", "tokens")),
        (PatchEmbed(8, 16), (3, 24, 24), ("3x24x24", "patch size 16")),
        (BasicBlock(8), (4, 8), ("4x8", "image")),
        (Residual((Conv2d(4, 1, stride=2),)), (4, 4, 4), ("4x4x4", "4x2x2")),
    ],
)
def test_bad_shape_names_layer_and_shapes(layer, shape, fragments):
    network = Network("bad", shape, (Row("stem", (Activation(),)), Row("block7", (layer,))))
    with pytest.raises(ProfileError) as info:
        compute_profile(network)
    message = str(info.value)
    assert "\n" not in message
    assert "block7" in message
    for fragment in fragments:
        assert fragment in message


def test_error_inside_a_block_names_row_and_branch():
    # a 1x1 input survives the padded 3x3 conv but not an unpadded 2x2 pool after it
    network = Network("bad", (4, 1, 1), (Row("layer3.1", (BasicBlock(4), MaxPool2d(2))),))
    with pytest.raises(ProfileError, match=r"layer layer3\.1\[1\] .*input 4x1x1"):
        compute_profile(network)
    network = Network("bad", (4, 8, 8), (Row("layer3.1", (Residual((Conv2d(4, 9),)),)),))
    with pytest.raises(ProfileError, match=r"layer layer3\.1\.main .*input 4x8x8.*9x9"):
        compute_profile(network)


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: Conv2d(0, 3), "Conv2d.out_channels = 0"),
        (lambda: Conv2d(4, 3, padding=-1), "Conv2d.padding = -1"),
        (lambda: Conv2d(4, (3, 0)), "Conv2d.kernel_size = (3, 0)"),
        (lambda: MaxPool2d(2, stride=0), "MaxPool2d.stride = 0"),
        (lambda: MultiHeadAttention(True), "MultiHeadAttention.heads = True"),
        (lambda: Network("n", (3, 0, 4), (Row("r", (Flatten(),)),)), "input shape"),
        (lambda: Network("n", (3,), ()), "at least one row"),
    ],
)
def test_bad_spec_values(make, fragment):
    with pytest.raises(ProfileError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        obj = make()
        if isinstance(obj, Network):
            compute_profile(obj)


def test_layer_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        Layer().apply((1,), "x")


# ---------------------------------------------------------------------------------
# The `coopt profile` command
# ---------------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="coopt")
    add_profile_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["profile", *argv])


def _table_rows(out: str) -> list[list[str]]:
    """Data rows of the printed table (after the title and column header)."""
    return [line.split() for line in out.strip().splitlines()[2:]]


def test_cli_list(capsys):
    assert run_profile(_args("--list")) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert set(lines) == set(list_profiles()) | {"mlp"}
    assert "61,100,840" in lines["alexnet"]
    assert "17.564" in lines["vit_b_16"]


@pytest.mark.parametrize(("bits", "input_kb"), [(32, "602.112"), (8, "150.528"), (1, "18.816")])
def test_cli_table(capsys, bits, input_kb):
    assert run_profile(_args("resnet18", "--feature-bits", str(bits))) == 0
    rows = _table_rows(capsys.readouterr().out)
    profile = load_profile("resnet18")
    assert [r[0] for r in rows] == list(profile.layer_names)
    assert rows[0][3] == input_kb  # 150528 elements * bits / 8 bits per byte / 1000 bytes per kB
    numbers = np.array([[int(c.replace(",", "")) for c in (r[1], r[2], r[4], r[5], r[6])] for r in rows])
    np.testing.assert_array_equal(numbers[:, 0], profile.macs)
    np.testing.assert_array_equal(numbers[:, 1], profile.out_elems)
    np.testing.assert_array_equal(numbers[:, 2], profile.params)
    np.testing.assert_array_equal(numbers[:, 3], np.cumsum(profile.macs))
    assert numbers[-1, 4] == PUBLISHED["resnet18"][0]


@pytest.mark.parametrize("name", sorted(set(list_profiles())))
def test_cli_csv_export_equals_shipped_file(tmp_path, capsys, name):
    target = tmp_path / f"{name}.csv"
    assert run_profile(_args(name, "--csv", str(target))) == 0
    assert str(target) in capsys.readouterr().out
    assert target.read_bytes() == (MODELS_DIR / f"{name}.csv").read_bytes()


def test_cli_reads_csv_path(tmp_path, capsys):
    path = tmp_path / "tiny.csv"
    path.write_text("# tiny\nname,macs,out_elems,params\ninput,0,10,0\nfc,30,3,33\n", encoding="utf-8")
    assert run_profile(_args(str(path))) == 0
    rows = _table_rows(capsys.readouterr().out)
    assert rows[-1] == ["fc", "30", "3", "0.012", "33", "30", "33"]


def test_cli_mlp_table(capsys):
    assert run_profile(_args("mlp", "--depth", "2", "--width", "4", "--input", "3", "--classes", "2")) == 0
    rows = _table_rows(capsys.readouterr().out)
    # 3 -> 4 -> 4 -> 2: MACs 12, 16, 8; params 16, 20, 10
    assert [(r[0], r[1], r[4]) for r in rows] == [
        ("input", "0", "0"),
        ("fc1", "12", "16"),
        ("fc2", "16", "20"),
        ("output", "8", "10"),
    ]


def test_cli_mlp_csv_matches_shipped_mlp(tmp_path, capsys):
    target = tmp_path / "m.csv"
    run_profile(
        _args("mlp", "--depth", "8", "--width", "512", "--input", "784", "--classes", "10", "--csv", str(target))
    )
    capsys.readouterr()
    ours, shipped = read_profile_csv(target.read_text()), load_profile("mlp8x512")
    assert ours.layer_names == shipped.layer_names
    for column in ("macs", "out_elems", "params"):
        np.testing.assert_array_equal(getattr(ours, column), getattr(shipped, column))
    np.testing.assert_array_equal(ours.params, mlp_profile(8, 512, 784, 10).params)


def test_cli_unknown_name_lists_valid_names():
    with pytest.raises(ProfileError) as info:
        run_profile(_args("resnet1000"))
    message = str(info.value)
    assert "resnet1000" in message
    for name in list_profiles() + ["mlp"]:
        assert name in message


@pytest.mark.parametrize(
    ("argv", "error", "fragment"),
    [
        (("mlp", "--depth", "2", "--width", "4"), InstanceError, "missing --input, --classes"),
        (("alexnet", "--depth", "2"), InstanceError, "--depth: only for NAME = mlp"),
        (("alexnet", "--feature-bits", "0"), InstanceError, "--feature-bits = 0"),
        (("--list", "alexnet"), InstanceError, "--list takes neither"),
        ((), ProfileError, "give a NAME or --list"),
        (("mlp", "--depth", "0", "--width", "4", "--input", "3", "--classes", "2"), ProfileError, "mlp.depth = 0"),
    ],
)
def test_cli_bad_arguments(argv, error, fragment):
    with pytest.raises(error, match=fragment):
        run_profile(_args(*argv))


def test_cli_unwritable_csv_path(tmp_path):
    with pytest.raises(InstanceError, match="cannot write"):
        run_profile(_args("lenet5", "--csv", str(tmp_path / "no" / "such" / "dir.csv")))
