"""Conditional ALI: the nets' shapes, the figure's conditions cell by cell, and that y matters."""

import json

import pytest
import torch
from torch import nn

from ali_bench.conditional import figures as cf
from ali_bench.data.celeba import ATTRIBUTES as CELEBA_ATTRIBUTES
from ali_bench.nets import image_architecture
from ali_bench.nets.conditional import ConditionalALI, condition_vectors
from ali_bench.training import adversarial_step

from conftest import run_cli


def _first_conv(stack):
    return next(m for m in stack if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def test_celeba_conditional_shapes_follow_the_released_code():
    torch.manual_seed(0)
    model = ConditionalALI(image_architecture("celeba"), 40)
    assert model.embed.in_features == 40 and model.embed.out_features == 256
    assert _first_conv(model.encoder_head).in_channels == 512 + 256  # trunk output + e(y)
    assert _first_conv(model.encoder_head).out_channels == 512  # mu || log sigma
    assert _first_conv(model.decoder_stack).in_channels == 256 + 256  # z + e(y)
    assert _first_conv(model.joint).in_channels == 512 + 1024 + 256  # D(x) + D(z) + e(y) = 1,792
    model.eval()
    x, y = torch.rand(2, 3, 64, 64), torch.randint(0, 2, (2, 40)).float()
    with torch.no_grad():
        assert model.encode_given(x, y, torch.randn(2, 256, 1, 1)).shape == (2, 256, 1, 1)
        assert model.decode_given(torch.randn(2, 256, 1, 1), y).shape == (2, 3, 64, 64)
        assert model.discriminate_given(x, torch.randn(2, 256, 1, 1), y).shape == (2,)


def test_paper_grid_conditions_cell_by_cell():
    y = cf.celeba_conditions()
    assert y.shape == (4, 12, 40)
    on = lambda r, c: {CELEBA_ATTRIBUTES[i] for i in torch.nonzero(y[r, c]).flatten().tolist()}
    assert on(0, 0) == {"Male", "Attractive", "Young"}
    assert on(1, 0) == {"Male", "Attractive"}
    assert on(2, 0) == {"Attractive", "Young"}
    assert on(3, 0) == {"Attractive"}
    assert on(1, 6) == {"Male", "Attractive", "Blond_Hair", "Receding_Hairline"}
    assert on(3, 7) == {"Attractive", "Blond_Hair", "Bald"}
    assert on(0, 9) == {"Male", "Attractive", "Young", "Black_Hair", "Smiling", "Mouth_Slightly_Open"}
    assert on(2, 11) == {
        "Attractive",
        "Young",
        "Black_Hair",
        "Smiling",
        "Mouth_Slightly_Open",
        "Eyeglasses",
        "Wearing_Hat",
    }
    assert [c for c, _, _ in cf.CELEBA_COLUMNS] == list("abcdefghijkl")


def test_changing_y_with_z_fixed_changes_the_decoded_image():
    """At init the decoder's N(0, 0.01) layers shrink y's effect to ~1e-8 at the pixels (below float32
    resolution once the sigmoid is applied), so: the first layer must move clearly, and the
    decoder's pre-sigmoid output must differ between every pair of classes (it would be bit-for-bit
    equal if y were ignored)."""
    torch.manual_seed(0)
    model = ConditionalALI(image_architecture("digits", width=0.25), 10).eval()
    assert cf.class_grid(model, seed=0, rows=2).shape == (20, 3, 32, 32)
    z = torch.randn(1, 256, 1, 1).expand(10, -1, -1, -1)
    with torch.no_grad():
        h = torch.cat([z, model.embedding(torch.eye(10))], dim=1)
        first = model.decoder_stack[0](h)
        pre_sigmoid = model.decoder_stack[:-1](h)
    assert (first[1] - first[0]).abs().max() > 1e-3
    assert all((pre_sigmoid[i] - pre_sigmoid[0]).abs().max() > 0 for i in range(1, 10))
    assert torch.equal(condition_vectors("digits", torch.tensor([3])), torch.eye(10)[3:4])


@pytest.mark.parametrize("mode", ["frozen", "trained", "separate"])
def test_who_owns_and_trains_the_embedding(mode):
    """frozen (the released code): one shared embedding in neither optimiser; trained: shared, with the
    encoder and decoder; separate: theirs with them, and the discriminator's own with it."""
    torch.manual_seed(0)
    model = ConditionalALI(image_architecture("digits", width=0.125), 10, embedding=mode).train()
    shared = model.embed.weight.detach().clone()
    assert any(p is model.embed.weight for p in model.generator_parameters()) == (mode != "frozen")
    assert not any(p is model.embed.weight for p in model.discriminator_parameters())
    assert (model.embed_d is not None) == (mode == "separate")
    own = model.embed_d.weight.detach().clone() if model.embed_d is not None else None
    if own is not None:
        assert any(p is model.embed_d.weight for p in model.discriminator_parameters())
        assert not any(p is model.embed_d.weight for p in model.generator_parameters())
    y = torch.eye(10)[torch.arange(6) % 10]
    opt = lambda ps: torch.optim.Adam(ps, lr=1e-2)
    adversarial_step(
        model.given(y),
        opt(model.discriminator_parameters()),
        opt(model.generator_parameters()),
        torch.rand(6, 3, 32, 32),
        torch.randn(6, 256, 1, 1),
        torch.randn(6, 256, 1, 1),
    )
    assert torch.equal(shared, model.embed.weight) == (mode == "frozen")
    if own is not None:
        assert not torch.equal(own, model.embed_d.weight)


def test_the_separate_mode_leaves_the_other_weights_as_the_shared_modes_draw_them():
    torch.manual_seed(0)
    frozen = ConditionalALI(image_architecture("digits", width=0.125), 10, embedding="frozen").state_dict()
    torch.manual_seed(0)
    separate = ConditionalALI(image_architecture("digits", width=0.125), 10, embedding="separate").state_dict()
    assert set(separate) - set(frozen) == {"embed_d.weight", "embed_d.bias"}
    assert all(torch.equal(frozen[k], separate[k]) for k in frozen)


def test_conditional_digits_cli_trains_and_draws_the_grid(tmp_path):
    config = json.dumps({"device": "cpu", "conditional": {"digits": {"epochs": 1, "width": 0.125}}})
    run_cli(
        "image-train",
        "--config-json",
        config,
        "--dataset",
        "digits",
        "--conditional",
        "--no-progress",
        "--out",
        str(tmp_path / "m.pt"),
        "--log",
        str(tmp_path / "l.csv"),
    )
    run_cli(
        "conditional-figure",
        "--config-json",
        config,
        "--models",
        str(tmp_path / "m.pt"),
        "--out",
        str(tmp_path / "c.png"),
        "--out-metrics",
        str(tmp_path / "m.json"),
    )
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["embedding"] == "frozen" and metrics["samples"] == 1000 and metrics["chance"] == 0.1
    assert 0 <= metrics["label_agreement"] <= 1 and set(metrics["label_agreement_per_class"]) == set("0123456789")
    refused = run_cli(
        "image-train",
        "--config-json",
        config,
        "--dataset",
        "svhn",
        "--conditional",
        "--out",
        str(tmp_path / "x.pt"),
        "--log",
        str(tmp_path / "x.csv"),
        check=False,
    )
    assert refused.returncode == 2 and "no conditional model for 'svhn'" in refused.stderr
    # the conditional models file given to the unconditional commands: one line, not an AttributeError
    unconditional_commands = [
        (
            "features",
            "--dataset",
            "digits",
            "--split",
            "test",
            "--feature-set",
            "paper",
            "--out",
            str(tmp_path / "f.npy"),
            "--out-labels",
            str(tmp_path / "y.npy"),
        ),
        (
            "image-figures",
            "--out-samples",
            str(tmp_path / "s.png"),
            "--out-reconstructions",
            str(tmp_path / "r.png"),
            "--out-interpolations",
            str(tmp_path / "i.png"),
        ),
    ]
    for command, *rest in unconditional_commands:
        result = run_cli(command, "--config-json", config, "--models", str(tmp_path / "m.pt"), *rest, check=False)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert "holds a conditional model; this command takes an unconditional one" in lines[0], lines
        assert "images/<dataset>/models.pt" in lines[0] and "Traceback" not in result.stderr


def test_celeba_paths_run_on_a_celeba_folder_in_the_official_format(tmp_path):
    """Conditional CelebA (Fig. 7 grid) and unconditional CelebA (interpolations), end to end through the
    CLI on a synthetic folder in CelebA's on-disk layout: the attribute file feeds the conditions."""
    from PIL import Image

    from conftest import write_celeba_folder

    write_celeba_folder(tmp_path, partition=(0,) * 8 + (1,) * 4 + (2,) * 2)
    tiny = {"epochs": 1, "batch_size": 4, "width": 0.125}
    config = json.dumps(
        {
            "device": "cpu",
            "images": {
                "data_root": str(tmp_path),
                "verify_checksums": False,
                "celeba": tiny,
                "figures": {"interpolation_pairs": 2, "interpolation_steps": 4},
            },
            "conditional": {"celeba": tiny},
        }
    )
    train = ("image-train", "--config-json", config, "--dataset", "celeba", "--no-progress")
    run_cli(*train, "--conditional", "--out", str(tmp_path / "c.pt"), "--log", str(tmp_path / "c.csv"))
    run_cli(
        "conditional-figure",
        "--config-json",
        config,
        "--models",
        str(tmp_path / "c.pt"),
        "--out",
        str(tmp_path / "fig7.png"),
        "--out-metrics",
        str(tmp_path / "c.json"),
    )
    metrics = json.loads((tmp_path / "c.json").read_text())
    assert set(metrics["label_agreement_per_attribute"]) == set(CELEBA_ATTRIBUTES) and metrics["samples"] == 20 * 4
    judged = [v for v in metrics["label_agreement_per_attribute"].values() if v is not None]
    assert judged and all(0 <= v <= 1 for v in judged)  # attributes constant in 8 images are left out (None)
    run_cli(*train, "--out", str(tmp_path / "u.pt"), "--log", str(tmp_path / "u.csv"))
    run_cli(
        "image-figures",
        "--config-json",
        config,
        "--models",
        str(tmp_path / "u.pt"),
        "--out-samples",
        str(tmp_path / "s.png"),
        "--out-reconstructions",
        str(tmp_path / "r.png"),
        "--out-interpolations",
        str(tmp_path / "i.png"),
    )
    payload = torch.load(tmp_path / "c.pt", weights_only=True)
    assert payload["dataset"] == "celeba" and payload["conditional"]
    width, height = Image.open(tmp_path / "fig7.png").size
    assert width > 2 * height  # 12 columns by 4 rows
    assert Image.open(tmp_path / "i.png").size[0] > 0


class _Decoder(nn.Module):
    """A stand-in conditional decoder: the digit's mean training image (``follow``) or one image for all."""

    def __init__(self, means: torch.Tensor, follow: bool):
        super().__init__()
        from types import SimpleNamespace

        self.arch, self.means, self.follow = SimpleNamespace(latent_dim=4), means, follow
        self.w = nn.Parameter(torch.zeros(1))

    def decode_given(self, z, y):
        base = self.means[y.argmax(1)] if self.follow else self.means[:1].expand(len(y), -1, -1, -1)
        return (base + 0.02 * z.mean(1, keepdim=True)).clamp(0, 1)


def test_conditioning_metrics_tell_a_model_that_follows_y_from_one_that_ignores_it():
    from ali_bench.conditional.metrics import class_conditioning
    from ali_bench.data.images import load_split

    train, valid = load_split("digits", "train", "data"), load_split("digits", "valid", "data")
    x = train.images.float() / 255.0
    means = torch.stack([x[train.labels == k].mean(0) for k in range(10)])
    follows = class_conditioning(_Decoder(means, True), train, valid, seed=0, n_z=20)
    ignores = class_conditioning(_Decoder(means, False), train, valid, seed=0, n_z=20)
    assert follows["label_agreement"] > 0.9 and follows["conditions_to_z_ratio"] > 10
    assert ignores["label_agreement"] == pytest.approx(0.1) and ignores["conditions_to_z_ratio"] < 1e-6
    assert follows["judge_accuracy_on_real_images"] > 0.8
