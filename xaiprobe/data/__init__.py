"""Data sets: SynthFaces (embedded), CelebA (reader + packer), digits, image stores, folders.

Every loader returns an :class:`ImageSet`: uint8 pixels (N, 3, 64, 64) read as float
images in [-1, 1], int8 labels (N, A) with attribute names, and a train/val/test split.
"""
from .base import SPLITS, ImageSet, to_float_images, to_uint8_images
from .celeba import CELEBA_ATTRIBUTES, export_celeba_layout, pack_celeba, read_celeba
from .digits import load_digits
from .folder import load_folder
from .registry import default_cache_dir, load_dataset
from .store import load_image_store, save_image_store
from .synthcache import load_synthfaces
from .synthfaces import (ATTRIBUTES, CONCEPT_REGIONS, DEFAULT_ATTRIBUTES, REGIONS, render_counterfactual,
                         render_synthfaces)

__all__ = [
    "ATTRIBUTES", "CELEBA_ATTRIBUTES", "CONCEPT_REGIONS", "DEFAULT_ATTRIBUTES", "ImageSet", "REGIONS", "SPLITS",
    "default_cache_dir", "export_celeba_layout", "load_dataset", "load_digits", "load_folder",
    "load_image_store", "load_synthfaces", "pack_celeba", "read_celeba", "render_counterfactual",
    "render_synthfaces", "save_image_store", "to_float_images", "to_uint8_images",
]
