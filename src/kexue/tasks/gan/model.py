"""The LightningModule: a generator and critic (`gan.model.generator`/`critic`: DCGAN, ResNet or
self-modulated ResNet) trained with manual optimisation (n_critic critic updates, then one generator
update, per training step), and an EMA of the generator weights (torch's AveragedModel, a submodule,
so checkpoints carry it; why not Lightning's weight-averaging callback: `GAN.__init__`)."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from kexue.nn.dcgan import Critic, Generator
from kexue.nn.gan_resnet import ResNetCritic, ResNetGenerator
from kexue.nn.selfmod import SelfModGenerator
from kexue.tasks.gan import losses
from kexue.tasks.gan.data import to_gan_input, to_uint8
from kexue.tasks.gan.params import ModelParams, TrainParams
from kexue.training import ema_avg_fn


def build_generator(mp: ModelParams) -> nn.Module:
    """The generator `mp.generator` names, `upsample: auto` meaning its own kind of upsampling."""
    if mp.generator == "dcgan":
        return Generator(mp.z_dim, mp.g_channels, "transposed" if mp.upsample == "auto" else mp.upsample)
    upsample = "nearest" if mp.upsample == "auto" else mp.upsample
    if mp.generator == "resnet":
        return ResNetGenerator(mp.z_dim, mp.g_channels, upsample)
    return SelfModGenerator(mp.z_dim, mp.g_channels, upsample, mp.selfmod_hidden)


def build_critic(mp: ModelParams) -> nn.Module:
    if mp.critic == "dcgan":
        return Critic(mp.d_channels, spectral_norm=mp.spectral_norm)
    return ResNetCritic(mp.d_channels, spectral_norm=mp.spectral_norm)


class GAN(L.LightningModule):
    def __init__(self, model: dict, train: dict, channels_last: bool = False) -> None:
        super().__init__()
        self.save_hyperparameters()  # plain dicts: the checkpoint alone rebuilds the module
        self.automatic_optimization = False
        self.mp = ModelParams.model_validate(model)
        self.tp = TrainParams.model_validate(train)
        self.channels_last = channels_last
        self.generator = build_generator(self.mp)
        self.critic = build_critic(self.mp)
        if channels_last:
            self.generator = self.generator.to(memory_format=torch.channels_last)
            self.critic = self.critic.to(memory_format=torch.channels_last)
        # The EMA of the generator alone, as a submodule: the shared warm-up average of
        # training.ema_avg_fn, kept in torch's AveragedModel rather than Lightning's weight-averaging
        # callback (training.ema_callback, the other tasks' EMA). That callback averages the whole
        # LightningModule (critic included) and swaps the average in only for validation and the
        # saved weights; here the raw generator and its average must both live in the module:
        # GeneratorSnapshots saves the average while training (the FID-over-training curve), and
        # gan-evaluate scores both from one checkpoint (`fid_without_ema`).
        # use_buffers: the BatchNorm running statistics are averaged too, so the EMA generator is
        # consistent in eval mode.
        self.g_ema = (AveragedModel(self.generator, avg_fn=ema_avg_fn(self.tp.ema_decay), use_buffers=True)
                      if self.tp.ema_decay else None)

    @property
    def sampler(self) -> nn.Module:
        """The generator used for samples and evaluation: the EMA copy when `ema_decay` is on (> 0)."""
        return self.g_ema.module if self.g_ema is not None else self.generator

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.mp.z_dim, device=self.device)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        (x,) = batch
        real = to_gan_input(x, self.channels_last)
        opt_g, opt_d = self.optimizers()
        tp = self.tp
        for chunk in real.chunk(tp.n_critic):
            with torch.no_grad():
                fake = self.generator(self._noise(len(chunk)))
            d_real, d_fake = self.critic(chunk), self.critic(fake)
            d_loss = losses.critic_loss(tp.loss, d_real, d_fake)
            gp = losses.gradient_penalty(self.critic, chunk, fake) if tp.gp_weight > 0 else d_loss.new_zeros(())
            opt_d.zero_grad(set_to_none=True)
            self.manual_backward(d_loss + tp.gp_weight * gp)
            opt_d.step()

        self.toggle_optimizer(opt_g)  # the critic's weights need no gradients for this step
        g_loss = losses.generator_loss(tp.loss, self.critic(self.generator(self._noise(tp.batch_size))))
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        opt_g.step()
        self.untoggle_optimizer(opt_g)
        if self.g_ema is not None:
            self.g_ema.update_parameters(self.generator)

        self.log_dict(
            {
                "train/d_loss": d_loss.detach(),
                "train/g_loss": g_loss.detach(),
                "train/gp": gp.detach(),
                # The critic's estimate of the Wasserstein distance (meaningful for wgan-gp).
                "train/w_dist": (d_real.mean() - d_fake.mean()).detach(),
            },
            on_step=False,
            on_epoch=True,
            sync_dist=True,
        )

    def configure_optimizers(self):
        tp = self.tp
        betas = (tp.beta1, tp.beta2)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=tp.lr_g, betas=betas)
        opt_d = torch.optim.Adam(self.critic.parameters(), lr=tp.lr_d, betas=betas)
        return [opt_g, opt_d]

    @torch.no_grad()
    def generate(self, n: int, seed: int, batch_size: int = 1000, device: torch.device | str = "cpu") -> torch.Tensor:
        """`n` uint8 images (n, 28, 28) from the sampler, from noise fixed by `seed` (comparable across runs)."""
        return sample(self.sampler, n, seed, self.mp.z_dim, batch_size, device)


@torch.no_grad()
def sample(generator: nn.Module, n: int, seed: int, z_dim: int, batch_size: int = 1000, device: torch.device | str = "cpu") -> torch.Tensor:
    """`n` uint8 images from `generator` in eval mode, noise drawn from a generator seeded with `seed`."""
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(n, z_dim, generator=rng)
    was_training = generator.training
    generator.eval().to(device)
    out = torch.cat([to_uint8(generator(z[i : i + batch_size].to(device))).cpu() for i in range(0, n, batch_size)])
    generator.train(was_training)
    return out
