"""The GANs xaiprobe trains (the seed DCGAN and the AE-ACGAN), their training loop,
checkpoints and sampling.

Public names::

    DCGANConfig, Generator, Discriminator, build_dcgan, weights_init, count_parameters
    AEACGANConfig, AEACGAN, build_aeacgan, FixedLabelGenerator, AEACGANRecipe
    train_gan, train_step, make_optimizers
    sample_images, sample_latents, save_sample_grid, save_image_grid
    Checkpoint, save_checkpoint, load_checkpoint, read_checkpoint_dict, export_checkpoint
"""
from .aeacgan import AEACGAN, AEACGANConfig, FixedLabelGenerator, build_aeacgan
from .aeacgan_train import AEACGANRecipe
from .checkpoint import Checkpoint, load_checkpoint, read_checkpoint_dict, save_checkpoint
from .dcgan import DCGANConfig, Discriminator, Generator, build_dcgan, count_parameters, weights_init
from .export import export_checkpoint
from .sampling import sample_images, sample_latents, save_image_grid, save_sample_grid
from .train import make_optimizers, train_gan, train_step

__all__ = [
    "DCGANConfig", "Generator", "Discriminator", "build_dcgan", "weights_init", "count_parameters",
    "AEACGANConfig", "AEACGAN", "build_aeacgan", "FixedLabelGenerator", "AEACGANRecipe",
    "train_gan", "train_step", "make_optimizers",
    "sample_images", "sample_latents", "save_sample_grid", "save_image_grid",
    "Checkpoint", "save_checkpoint", "load_checkpoint", "read_checkpoint_dict", "export_checkpoint",
]
