"""Each image architecture against the reference's layer tables (docs/paper-vs-code.md §3): shapes, parameters,
where BN, biases and dropout are, init, and what one training step changes."""

import pytest
import torch
from torch import nn

from ali_bench.nets import image_architecture
from ali_bench.nets.image import BN_EPS, BN_MOMENTUM, ChannelMaxout, ImageALI, UntiedBias
from ali_bench.training import adversarial_step

# (kernel, stride, out_channels, bias, bn, expected output spatial size), transcribed from docs/paper-vs-code.md §3.
TABLES = {
    "svhn": {
        "latent": 256,
        "size": 32,
        "leak": 0.01,
        "encoder": [
            (5, 1, 32, 0, 1, 28),
            (4, 2, 64, 0, 1, 13),
            (4, 1, 128, 0, 1, 10),
            (4, 2, 256, 0, 1, 4),
            (4, 1, 512, 0, 1, 1),
            (1, 1, 512, 0, 1, 1),
            (1, 1, 512, 1, 0, 1),
        ],
        "decoder": [
            (4, 1, 256, 0, 1, 4),
            (4, 2, 128, 0, 1, 10),
            (4, 1, 64, 0, 1, 13),
            (4, 2, 32, 0, 1, 28),
            (5, 1, 32, 0, 1, 32),
            (1, 1, 32, 0, 1, 32),
            (1, 1, 3, 0, 0, 32),
        ],
        "dx": [
            (5, 1, 32, 1, 0, 28),
            (4, 2, 64, 0, 1, 13),
            (4, 1, 128, 0, 1, 10),
            (4, 2, 256, 0, 1, 4),
            (4, 1, 512, 0, 1, 1),
        ],
        "dz": [(1, 1, 512, 0, 0, 1), (1, 1, 512, 0, 0, 1)],
        "joint": [(1, 1, 1024, 1, 0, 1), (1, 1, 1024, 1, 0, 1), (1, 1, 1, 1, 0, 1)],
        "joint_in": 1024,
        "dropout": {"dx": [0.2] * 5, "dz": [0.2] * 2, "joint": [0.2] * 3},
    },
    "cifar10": {
        "latent": 64,
        "size": 32,
        "leak": 0.1,
        "pieces": 2,
        "encoder": [
            (5, 1, 32, 0, 1, 28),
            (4, 2, 64, 0, 1, 13),
            (4, 1, 128, 0, 1, 10),
            (4, 2, 256, 0, 1, 4),
            (4, 1, 512, 0, 1, 1),
            (1, 1, 512, 0, 1, 1),
            (1, 1, 128, 1, 0, 1),
        ],
        "decoder": [
            (4, 1, 256, 0, 1, 4),
            (4, 2, 128, 0, 1, 10),
            (4, 1, 64, 0, 1, 13),
            (4, 2, 32, 0, 1, 28),
            (5, 1, 32, 0, 1, 32),
            (1, 1, 32, 0, 1, 32),
            (1, 1, 3, 0, 0, 32),
        ],
        "dx": [
            (5, 1, 32, 1, 0, 28),
            (4, 2, 64, 1, 0, 13),
            (4, 1, 128, 1, 0, 10),
            (4, 2, 256, 1, 0, 4),
            (4, 1, 512, 1, 0, 1),
        ],
        "dz": [(1, 1, 512, 0, 0, 1), (1, 1, 512, 0, 0, 1)],
        "joint": [(1, 1, 1024, 1, 0, 1), (1, 1, 1024, 1, 0, 1), (1, 1, 1, 1, 0, 1)],
        "joint_in": 512,  # 256 + 256 after maxout (the paper's table says 1024, pre-maxout)
        # released code: layers[2::3] -> conv2 input, conv3's pre-maxout output, conv5 input
        "dropout": {
            "dx": [0.2, 0.5, 0.0, 0.0, 0.5],
            "dx_before_maxout": [0, 0, 0.5, 0, 0],
            "dz": [0.2, 0.5],
            "joint": [0.5] * 3,
        },
    },
    "celeba": {
        "latent": 256,
        "size": 64,
        "leak": 0.02,
        "encoder": [
            (2, 1, 64, 0, 1, 63),
            (7, 2, 128, 0, 1, 29),
            (5, 2, 256, 0, 1, 13),
            (7, 2, 256, 0, 1, 4),
            (4, 1, 512, 0, 1, 1),
            (1, 1, 512, 1, 0, 1),
        ],
        "decoder": [
            (4, 1, 512, 0, 1, 4),
            (7, 2, 256, 0, 1, 13),
            (5, 2, 256, 0, 1, 29),
            (7, 2, 128, 0, 1, 63),
            (2, 1, 64, 0, 1, 64),
            (1, 1, 3, 0, 0, 64),
        ],
        "dx": [
            (2, 1, 64, 1, 0, 63),
            (7, 2, 128, 0, 1, 29),
            (5, 2, 256, 0, 1, 13),
            (7, 2, 256, 0, 1, 4),
            (4, 1, 512, 0, 1, 1),
        ],
        "dz": [(1, 1, 1024, 0, 0, 1), (1, 1, 1024, 0, 0, 1)],
        "joint": [(1, 1, 2048, 1, 0, 1), (1, 1, 2048, 1, 0, 1), (1, 1, 1, 1, 0, 1)],
        "joint_in": 1536,
        "dropout": {"dx": [0.2] * 5, "dz": [0.2] * 2, "joint": [0.2] * 3},
    },
    "tiny_imagenet": {
        "latent": 256,
        "size": 64,
        "leak": 0.01,
        "encoder": [
            (4, 2, 64, 0, 1, 31),
            (4, 1, 64, 0, 1, 28),
            (4, 2, 128, 0, 1, 13),
            (4, 1, 128, 0, 1, 10),
            (4, 2, 256, 0, 1, 4),
            (4, 1, 256, 0, 1, 1),
            (1, 1, 2048, 0, 1, 1),
            (1, 1, 2048, 0, 1, 1),
            (1, 1, 512, 1, 0, 1),
        ],
        "decoder": [
            (1, 1, 2048, 0, 1, 1),
            (1, 1, 256, 0, 1, 1),
            (4, 1, 256, 0, 1, 4),
            (4, 2, 128, 0, 1, 10),
            (4, 1, 128, 0, 1, 13),
            (4, 2, 64, 0, 1, 28),
            (4, 1, 64, 0, 1, 31),
            (4, 2, 64, 0, 1, 64),
            (1, 1, 3, 0, 0, 64),
        ],
        "dx": [
            (4, 2, 64, 1, 0, 31),
            (4, 1, 64, 0, 1, 28),
            (4, 2, 128, 0, 1, 13),
            (4, 1, 128, 0, 1, 10),
            (4, 2, 256, 0, 1, 4),
            (4, 1, 256, 0, 1, 1),
        ],
        "dz": [(1, 1, 2048, 1, 0, 1), (1, 1, 2048, 1, 0, 1)],
        "joint": [(1, 1, 4096, 1, 0, 1), (1, 1, 4096, 1, 0, 1), (1, 1, 1, 1, 0, 1)],
        "joint_in": 2304,
        "dropout": {"dx": [0.2] * 6, "dz": [0.2] * 2, "joint": [0.2] * 3},
    },
}


def _expected_parameters(table) -> int:
    pieces = table.get("pieces", 1)

    def stack(rows, channels, maxout):
        total = 0
        for k, _s, out, bias, bn, _size in rows:
            total += channels * out * k * k + (out if bias else 0) + (2 * out if bn else 0)
            channels = out // pieces if maxout else out
        return total, channels

    enc, _ = stack(table["encoder"], 3, False)
    dec, _ = stack(table["decoder"], table["latent"], False)
    dx, dx_out = stack(table["dx"], 3, pieces > 1)
    dz, dz_out = stack(table["dz"], table["latent"], pieces > 1)
    assert dx_out + dz_out == table["joint_in"]
    joint, _ = stack(table["joint"], table["joint_in"], pieces > 1)
    return enc + dec + 3 * table["size"] ** 2 + dx + dz + joint  # + the decoder's untied output bias


def _convs(stack: nn.Sequential):
    return [m for m in stack if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]


@pytest.fixture(scope="module", params=list(TABLES))
def built(request):
    torch.manual_seed(0)
    return request.param, TABLES[request.param], ImageALI(image_architecture(request.param))


def _run_shapes(model, stack, x):
    sizes = []
    hooks = [
        conv.register_forward_hook(lambda _m, _i, out: sizes.append((out.shape[1], out.shape[-1])))
        for conv in _convs(stack)
    ]
    stack(x)
    for hook in hooks:
        hook.remove()
    return sizes


def test_every_conv_has_the_reference_kernel_stride_channels_bias_and_output_size(built):
    name, table, model = built
    model.eval()
    size, latent = table["size"], table["latent"]
    inputs = {
        "encoder": torch.rand(2, 3, size, size),
        "decoder": torch.randn(2, latent, 1, 1),
        "dx": torch.rand(2, 3, size, size),
        "dz": torch.randn(2, latent, 1, 1),
        "joint": torch.randn(2, table["joint_in"], 1, 1),
    }
    for part, x in inputs.items():
        stack = model.decoder if part == "decoder" else getattr(model, part)
        convs = _convs(stack)
        assert len(convs) == len(table[part]), f"{name} {part}: layer count"
        observed = _run_shapes(model, stack, x)
        for i, ((k, s, out, bias, _bn, spatial), conv, (channels, got)) in enumerate(
            zip(table[part], convs, observed, strict=True)
        ):
            assert conv.kernel_size == (k, k) and conv.stride == (s, s) and conv.padding == (0, 0), (
                f"{name} {part}[{i}]"
            )
            assert channels == out and got == spatial, f"{name} {part}[{i}]: ({channels}, {got}) != ({out}, {spatial})"
            assert (conv.bias is not None) == bool(bias), f"{name} {part}[{i}] bias"


def test_batchnorm_placement_and_settings(built):
    name, table, model = built
    for part in ("encoder", "dx", "dz", "joint"):
        stack = getattr(model, part)
        modules = list(stack)
        for row, conv in zip(table[part], _convs(stack), strict=True):
            follower = modules[modules.index(conv) + 1] if modules.index(conv) + 1 < len(modules) else None
            assert isinstance(follower, nn.BatchNorm2d) == bool(row[4]), f"{name} {part} BN after {conv}"
    for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
        assert bn.eps == BN_EPS == 1e-4 and bn.momentum == BN_MOMENTUM == 0.05
    for relu in (m for m in model.modules() if isinstance(m, nn.LeakyReLU)):
        assert relu.negative_slope == table["leak"]
    if table.get("pieces"):
        assert not any(isinstance(m, nn.BatchNorm2d) for m in list(model.dx) + list(model.dz) + list(model.joint))
        assert sum(isinstance(m, ChannelMaxout) for m in model.modules()) == 5 + 2 + 2


def _dropout_before_convs(stack: nn.Sequential) -> list[float]:
    modules, rates = list(stack), []
    for i, module in enumerate(modules):
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            rates.append(modules[i - 1].p if i > 0 and isinstance(modules[i - 1], nn.Dropout) else 0.0)
    return rates


def test_dropout_only_in_the_discriminator_at_the_reference_places(built):
    name, table, model = built
    for part in ("dx", "dz", "joint"):
        assert _dropout_before_convs(getattr(model, part)) == table["dropout"][part], f"{name} {part}"
    assert not any(isinstance(m, nn.Dropout) for m in list(model.encoder) + list(model.decoder))
    if "dx_before_maxout" in table["dropout"]:
        modules = list(model.dx)
        rates = [
            modules[i + 1].p if isinstance(modules[i + 1], nn.Dropout) else 0
            for i, m in enumerate(modules)
            if isinstance(m, nn.Conv2d)
        ]
        assert rates == table["dropout"]["dx_before_maxout"]


def test_parameter_count_matches_the_tables(built):
    name, table, model = built
    assert sum(p.numel() for p in model.parameters()) == _expected_parameters(table), name


def test_init_encoder_output_and_decoder_range(built):
    name, table, model = built
    weights = torch.cat([c.weight.flatten() for c in _convs(model.encoder) + _convs(model.dx)])
    assert weights.std().item() == pytest.approx(0.01, rel=0.05)
    assert all(c.bias is None or torch.all(c.bias == 0) for c in _convs(model.joint))
    model.eval()
    size, latent = table["size"], table["latent"]
    with torch.no_grad():
        assert model.encoder(torch.rand(3, 3, size, size)).shape == (3, 2 * latent, 1, 1)
        out = model.decoder(torch.randn(3, latent, 1, 1) * 5)
    assert out.shape == (3, 3, size, size) and out.min() >= 0 and out.max() <= 1
    assert isinstance(model.decoder[-2], UntiedBias) and model.output_bias.shape == (3, size, size)


def test_output_bias_is_the_log_odds_of_the_mean_image():
    torch.manual_seed(0)
    model = ImageALI(image_architecture("svhn", width=0.125))
    images = torch.rand(500, 3, 32, 32)
    model.init_output_bias(images)
    torch.testing.assert_close(torch.sigmoid(model.output_bias), images.mean(0), rtol=1e-5, atol=1e-6)
    model.init_output_bias(torch.zeros(10, 3, 32, 32))
    assert model.output_bias.min().item() == pytest.approx(torch.logit(torch.tensor(1e-7)).item(), rel=1e-4)


@pytest.mark.parametrize("name", list(TABLES))
def test_one_step_moves_both_parameter_sets_and_updates_bn_statistics(name):
    torch.manual_seed(0)
    model = ImageALI(image_architecture(name, width=0.125)).train()
    size, latent = model.arch.image_size, model.arch.latent_dim
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt_d = torch.optim.Adam(model.discriminator_parameters(), lr=1e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.generator_parameters(), lr=1e-4, betas=(0.5, 0.999))
    z = torch.randn(4, latent, 1, 1)
    monitors = adversarial_step(model, opt_d, opt_g, torch.rand(4, 3, size, size), z, torch.randn_like(z))
    assert torch.isfinite(monitors).all()
    after = model.state_dict()
    for prefix in ("encoder.", "decoder.", "dx.", "dz.", "joint."):
        moved = [
            k
            for k in before
            if k.startswith(prefix) and before[k].is_floating_point() and not torch.equal(before[k], after[k])
        ]
        assert moved, f"{name}: nothing in {prefix} moved"
    stats = [k for k in before if k.endswith("running_mean")]
    assert stats and all(not torch.equal(before[k], after[k]) for k in stats), "BN population statistics not updated"


def test_variants_where_paper_and_code_disagree():
    cifar_paper = ImageALI(image_architecture("cifar10", "paper"))
    assert _dropout_before_convs(cifar_paper.dx) == [0.2, 0.5, 0.5, 0.5, 0.5]
    celeba_paper = ImageALI(image_architecture("celeba", "paper"))
    assert _dropout_before_convs(celeba_paper.dx) == [0.0] * 5
    assert sum(isinstance(m, nn.BatchNorm2d) for m in celeba_paper.dx) == 5
    assert _dropout_before_convs(celeba_paper.dz) == [0.2, 0.2]
    with pytest.raises(ValueError, match="variant"):
        image_architecture("cifar10", "neither")


def test_width_scales_hidden_channels_only():
    arch = image_architecture("cifar10", width=0.25)
    model = ImageALI(arch)
    assert model.encoder(torch.rand(2, 3, 32, 32)).shape == (2, 128, 1, 1)
    assert [c.out_channels for c in _convs(model.dx)] == [8, 16, 32, 64, 128]
    assert _convs(model.joint)[-1].out_channels == 1


def test_cifar10_dx_biases_tied_or_untied_as_blocks_before_2016_06_03():
    """Untied: one bias per output channel and location, (C, H, W), added before the maxout; tied: one
    per channel. Everything else (and the output) is shaped the same."""
    tied = ImageALI(image_architecture("cifar10", dx_biases="tied"))
    untied = ImageALI(image_architecture("cifar10", dx_biases="untied"))
    assert image_architecture("cifar10") == image_architecture("cifar10", dx_biases="tied")  # the default
    shapes = [tuple(m.bias.shape) for m in untied.dx if isinstance(m, UntiedBias)]
    assert shapes == [(32, 28, 28), (64, 13, 13), (128, 10, 10), (256, 4, 4), (512, 1, 1)]
    assert all(c.bias is None for c in _convs(untied.dx)) and all(c.bias is not None for c in _convs(tied.dx))
    extra = sum(c * h * w - c for c, h, w in shapes)  # 52,320
    count = lambda m: sum(p.numel() for p in m.parameters())
    assert count(untied) - count(tied) == extra == 52_320
    for module in untied.dx:  # each untied bias sits right after its conv, before dropout and maxout
        if isinstance(module, UntiedBias):
            index = list(untied.dx).index(module)
            assert isinstance(untied.dx[index - 1], nn.Conv2d)
    untied.eval()
    with torch.no_grad():
        assert untied.discriminate(torch.rand(2, 3, 32, 32), torch.randn(2, 64, 1, 1)).shape == (2,)
    quarter = ImageALI(image_architecture("cifar10", width=0.25, dx_biases="untied"))
    assert [tuple(m.bias.shape) for m in quarter.dx if isinstance(m, UntiedBias)][0] == (8, 28, 28)
    with pytest.raises(ValueError, match="tied or untied"):
        image_architecture("cifar10", dx_biases="shared")
