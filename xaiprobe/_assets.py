"""The models that ship inside the package (``xaiprobe/assets/``), by role.

Only what the demo and the tests use ships, as float16 exports holding only the networks that
are used: the audit clients hold their generator, the membership control its discriminator."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from ._utils.errors import XaiprobeError

__all__ = ["SHIPPED", "shipped"]

#: role -> file name under xaiprobe/assets/
SHIPPED = {
    "dcgan": "dcgan_synthfaces.pt",                          # the reference DCGAN every stage analyses
    "mia_control": "dcgan_synthfaces_control.pt",            # membership positive control (64 members, 80 epochs; D only)
    "classifier": "classifier_synthfaces.pt",                # attribute classifier, every SynthFaces attribute
    "aeacgan": "aeacgan_synthfaces.pt",                      # AE-ACGAN
    "aeacgan_noae": "aeacgan_synthfaces_noae.pt",            # the same recipe without the auto-encoder step
    "client_noeyeglasses": "dcgan_synthfaces_noeyeglasses.pt",  # audit client: fine-tuned without Eyeglasses (G only)
    "null_seed1": "dcgan_synthfaces_seed1.pt",               # audit null: same fine-tune recipe, all faces, seed 1 (G only)
}


def shipped(role: str, required: bool = True) -> Path | None:
    """Path of the shipped model for ``role``; a one-line error (or None) when it is not installed."""
    if role not in SHIPPED:
        raise XaiprobeError(f"shipped model {role!r}: unknown; roles are {', '.join(SHIPPED)}")
    path = Path(str(resources.files("xaiprobe") / "assets" / SHIPPED[role]))
    if path.is_file():
        return path
    if required:
        raise XaiprobeError(f"shipped model {SHIPPED[role]}: missing from this installation; reinstall xaiprobe "
                            "or pass your own file")
    return None
