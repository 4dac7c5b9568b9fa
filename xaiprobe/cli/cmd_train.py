"""`xaiprobe train --data SPEC --epochs E --out runs/NAME [--arch dcgan|aeacgan]`: train a GAN."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train a GAN (the seed DCGAN or the AE-ACGAN) on a data set (checkpoints + samples every epoch)",
        description="Train the seed DCGAN (Adam 2e-4, betas (0.5, 0.999), BCE with logits) or, with --arch aeacgan, "
                    "the auto-encoder + auxiliary-classifier GAN, and write OUT/config.json, "
                    "OUT/checkpoints/epoch_NNN.pt + last.pt and OUT/samples/epoch_NNN.png (the AE-ACGAN adds "
                    "recon_epoch_NNN.png and cond_epoch_NNN.png). "
                    "Under torchrun (WORLD_SIZE > 1) it trains data-parallel; rank 0 writes the files.")
    p.add_argument("--data", required=True, help="data spec: synthfaces[:N[:SEED]], digits, celeba:DIR, STORE.h5, ...")
    p.add_argument("--out", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--arch", default=None,
                   help="dcgan or aeacgan [dcgan; on --resume or --init the checkpoint's]")
    p.add_argument("--epochs", type=int, default=5, help="total epochs, >= 1 (a resumed run continues up to this) [5]")
    p.add_argument("--batch-size", type=int, default=128, help="images per step (per process under torchrun) [128]")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate [2e-4]")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization, shuffling and noise [0]")
    p.add_argument("--nz", type=int, default=None, help="latent size [dcgan 128, aeacgan 200]")
    p.add_argument("--ngf", type=int, default=None, help="DCGAN generator base width [64]")
    p.add_argument("--ndf", type=int, default=None, help="DCGAN discriminator base width [64]")
    p.add_argument("--width", type=float, default=None,
                   help="AE-ACGAN width multiplier of every channel count and the dense 128 [1 = the original]")
    p.add_argument("--dropout", type=float, default=None, help="AE-ACGAN dropout rate after each LeakyReLU [0.25]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--split", default="train", help="split to train on; its images are the members [train]")
    p.add_argument("--max-images", type=int, default=None, help="train on only the first N images of the split")
    p.add_argument("--exclude", default=None, metavar="ATTR[,ATTR...]",
                   help="leave out training images with these labels: ATTR (= ATTR=1) drops images that have it, "
                        "ATTR=0 those without it (--exclude Male=1 trains on female faces only)")
    p.add_argument("--init", default=None, metavar="CK",
                   help="start G and D (and the AE-ACGAN's encoder) from this checkpoint's weights (fine-tuning, "
                        "fresh optimizers); same architecture; ignored when --resume finds OUT's last.pt")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    g = p.add_argument_group("AE-ACGAN training (--arch aeacgan)")
    g.add_argument("--real-label", type=float, default=None, help="D's target for real images (one-sided smoothing) [0.9]")
    g.add_argument("--d-noise", type=float, default=None, metavar="STD",
                   help="standard deviation of Gaussian noise on D's input images [0: none]")
    g.add_argument("--no-autoencoder", action="store_true", help="ablation: skip the auto-encoder step")
    g.add_argument("--ae-lr-scale", type=float, default=None, help="auto-encoder learning rate / --lr [0.25]")
    g.add_argument("--ae-label-weight", type=float, default=None,
                   help="weight of the encoder's label BCE toward the true labels [1; 0 = reconstruction only]")
    p.add_argument("--channels-last", action="store_true", help="use channels-last memory format (opt-in speed-up)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast of the forward passes (opt-in speed-up)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1-2 is faster on a busy machine)")
    p.add_argument("--dry-run", action="store_true",
                   help="smoke test: 1 epoch over 2 batches with tiny nets (for CI)")
    p.set_defaults(run=run)
    return p


_OPTIONS = ("data", "out", "arch", "epochs", "batch_size", "lr", "seed", "nz", "ngf", "ndf", "width", "dropout",
            "device", "split", "max_images", "exclude", "init", "resume", "real_label", "d_noise", "no_autoencoder",
            "ae_lr_scale", "ae_label_weight", "channels_last", "bf16", "dry_run")
_RECIPE = {"real_label": "real_label", "d_noise": "d_noise", "ae_lr_scale": "ae_lr_scale",
           "ae_label_weight": "ae_label_weight"}


def _command_line(args) -> str:
    """The equivalent `xaiprobe train ...` command, recorded in config.json."""
    parts = ["xaiprobe", "train"]
    for name in _OPTIONS:
        v = getattr(args, name, None)
        if v is None or v is False:
            continue
        parts.append(f"--{name.replace('_', '-')}" + ("" if v is True else f" {v}"))
    return " ".join(parts)


def run(args) -> int:
    from .._utils.errors import XaiprobeError

    for name in ("epochs", "batch_size", "nz", "ngf", "ndf", "max_images", "threads"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise XaiprobeError(f"--{name.replace('_', '-')} {v}: must be >= 1")
    if not args.lr > 0:
        raise XaiprobeError(f"--lr {args.lr}: must be > 0")
    if args.width is not None and not args.width > 0:
        raise XaiprobeError(f"--width {args.width}: must be > 0 (1 = the original AE-ACGAN)")
    from ..gan.arch import check_kind

    if args.arch is not None:
        check_kind(args.arch)
    dcgan_only = [f"--{k}" for k in ("ngf", "ndf") if getattr(args, k) is not None]
    aeacgan_only = [f"--{k.replace('_', '-')}" for k in ("width", "dropout", *_RECIPE) if getattr(args, k) is not None]
    aeacgan_only += ["--no-autoencoder"] if args.no_autoencoder else []
    if args.arch == "aeacgan" and dcgan_only:
        raise XaiprobeError(f"{', '.join(dcgan_only)}: DCGAN options; size the AE-ACGAN with --width and --nz")
    if args.arch == "dcgan" and aeacgan_only:
        raise XaiprobeError(f"{', '.join(aeacgan_only)}: AE-ACGAN options; pass --arch aeacgan or drop them")
    import torch

    from ..data import load_dataset
    from ..gan.checkpoint import read_checkpoint_dict
    from ..gan.train import train_gan

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    epochs, max_images = args.epochs, args.max_images
    widths = {k: getattr(args, k) for k in ("nz", "ngf", "ndf", "width", "dropout")}
    if args.dry_run:
        epochs, max_images = 1, 2 * args.batch_size
        if args.arch == "aeacgan":
            widths.update(nz=args.nz or 16, width=args.width or 0.125)
        else:
            widths.update(nz=args.nz or 16, ngf=args.ngf or 8, ndf=args.ndf or 8)
    config = {k: v for k, v in widths.items() if v is not None} or None
    recipe = {k: getattr(args, k) for k in _RECIPE if getattr(args, k) is not None}
    if args.no_autoencoder:
        recipe["autoencoder"] = False
    data = load_dataset(args.data)
    last = train_gan(data, args.out, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                     config=config, device=args.device, resume=args.resume, split=args.split,
                     max_images=max_images, channels_last=args.channels_last, autocast_bf16=args.bf16,
                     command=_command_line(args), arch=args.arch, exclude=args.exclude, init=args.init,
                     recipe=recipe or None)
    raw = read_checkpoint_dict(last)
    hist = (raw.get("extra") or {}).get("history") or []
    kind = (raw.get("arch") or {}).get("name", "dcgan")
    msg = f"train: {kind}, {raw.get('epoch', 0)} epoch(s) on {len(raw.get('members', []))} images of {data.spec}"
    if hist:
        h = hist[-1]
        shown = ("loss_d", "loss_g", "loss_ae", "d_x", "d_g_z1", "acc_real", "acc_fake", "f1_real", "f1_fake")
        msg += "; last epoch " + " ".join(f"{k} {h[k]:.3f}" for k in shown if k in h)
    print(msg)
    print(f"checkpoint: {last}")
    return 0
