"""The three trained methods (b)-(d): their models, built from the selected GAN's decoder, and their steps."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
from torch import nn

from ali_bench.config import InferenceConfig, ToyConfig
from ali_bench.nets.toy import DATA_DIM, PostHocALI, ToyVAE, build_mlp, generator_mlp, init_weights_
from ali_bench.objectives import inverse_mapping_loss, vae_negative_elbo
from ali_bench.seeding import generator_for
from ali_bench.training import adversarial_step

METHODS = ("ali", "inverse", "posthoc", "vae")
METHOD_TITLES = {
    "ali": "(a) ALI",
    "inverse": "(b) GAN + learned inverse mapping",
    "posthoc": "(c) GAN + post-hoc learned inference",
    "vae": "(d) VAE",
}
INFERENCE, INFERENCE_EVAL, INFERENCE_BATCHNORM = 5, 6, 7  # the stage's random streams (ali_bench/seeding.py)
METHOD_CODES = {"inverse": 0, "posthoc": 1, "vae": 2}


class InverseMapping(nn.Module):
    """An encoder of ALI's architecture (on concat(x, ε)) for a frozen GAN generator."""

    kind = "inverse"

    def __init__(self, toy: ToyConfig, decoder_state: dict[str, torch.Tensor]):
        super().__init__()
        net = toy.network
        self.encoder = build_mlp(
            generator_mlp(DATA_DIM + net.latent_dim, net.encoder_hidden, net.latent_dim), net, None
        )
        self.decoder = build_mlp(generator_mlp(net.latent_dim, net.decoder_hidden, DATA_DIM), net, None)
        self.decoder.load_state_dict(decoder_state)
        self.decoder.requires_grad_(False)

    def encode(self, x: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return self.encoder(torch.cat([x, eps], dim=-1))

    def train(self, mode: bool = True) -> InverseMapping:
        super().train(mode)
        self.decoder.eval()
        return self


def build_method(method: str, toy: ToyConfig, settings: InferenceConfig, gan_decoder_state: dict) -> nn.Module:
    """The untrained model of ``method``, its new weights drawn from the inference seed."""
    if method == "inverse":
        model = InverseMapping(toy, gan_decoder_state)
        fresh = [model.encoder]
    elif method == "posthoc":
        model = PostHocALI(toy.network, gan_decoder_state)
        fresh = [model.encoder, model.discriminator]
    elif method == "vae":
        model = ToyVAE(toy.network)
        fresh = [model.encoder, model.decoder]
    else:
        raise ValueError(f"unknown inference method {method!r}; expected one of inverse, posthoc, vae")
    generator = generator_for(settings.seed, INFERENCE, METHOD_CODES[method])
    for module in fresh:
        init_weights_(module, settings.init_std, generator)
    return model


@dataclass
class MethodTrainer:
    """One method's model, optimisers and one-step function (returns the logged numbers)."""

    model: nn.Module
    optimizers: list[torch.optim.Optimizer]
    step: callable

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for opt, opt_state in zip(self.optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(opt_state)


def make_trainer(method: str, model: nn.Module, settings: InferenceConfig, decoder_std: float) -> MethodTrainer:
    adam = partial(torch.optim.Adam, lr=settings.lr, betas=(settings.beta1, 0.999))
    if method == "posthoc":
        opt_d, opt_g = adam(model.discriminator_parameters()), adam(model.generator_parameters())

        def step(x, z, eps):
            loss_d, loss_g, d_data, d_sample = adversarial_step(model, opt_d, opt_g, x, z, eps)
            return {"loss": loss_g, "loss_d": loss_d, "loss_g": loss_g, "d_data": d_data, "d_sample": d_sample}

        return MethodTrainer(model, [opt_d, opt_g], step)

    opt = adam([p for p in model.parameters() if p.requires_grad])

    def step(x, z, eps):
        if method == "inverse":
            with torch.no_grad():
                x_gen = model.decoder(z)  # samples of the frozen generator
            loss = inverse_mapping_loss(z, model.encode(x_gen, eps))
        else:
            mu, log_sigma = model.posterior(x)
            x_rec = model.decoder(mu + log_sigma.exp() * eps)
            loss = vae_negative_elbo(x, x_rec, mu, log_sigma, decoder_std)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return {"loss": loss.detach()}  # a tensor: no device sync per step

    return MethodTrainer(model, [opt], step)
