"""`xaiprobe train --data SPEC --epochs E --out runs/NAME`: train the seed DCGAN."""
from __future__ import annotations


def add_parser(sub):
    p = sub.add_parser(
        "train", help="train the seed DCGAN on a data set (checkpoints + sample grids every epoch)",
        description="Train the seed DCGAN (Adam 2e-4, betas (0.5, 0.999), BCE with logits) and write "
                    "OUT/config.json, OUT/checkpoints/epoch_NNN.pt + last.pt and OUT/samples/epoch_NNN.png. "
                    "Under torchrun (WORLD_SIZE > 1) it trains data-parallel; rank 0 writes the files.")
    p.add_argument("--data", required=True, help="data spec: synthfaces[:N[:SEED]], digits, celeba:DIR, STORE.h5, ...")
    p.add_argument("--out", required=True, help="run directory, e.g. runs/NAME")
    p.add_argument("--epochs", type=int, default=5, help="total epochs (a resumed run continues up to this) [5]")
    p.add_argument("--batch-size", type=int, default=128, help="images per step (per process under torchrun) [128]")
    p.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate [2e-4]")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization, shuffling and noise [0]")
    p.add_argument("--nz", type=int, default=None, help="latent size [128]")
    p.add_argument("--ngf", type=int, default=None, help="generator base width [64]")
    p.add_argument("--ndf", type=int, default=None, help="discriminator base width [64]")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N [cuda when present]")
    p.add_argument("--split", default="train", help="split to train on; its images are the members [train]")
    p.add_argument("--max-images", type=int, default=None, help="train on only the first N images of the split")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.pt")
    p.add_argument("--channels-last", action="store_true", help="use channels-last memory format (opt-in speed-up)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast of the forward passes (opt-in speed-up)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1-2 is faster on a busy machine)")
    p.add_argument("--dry-run", action="store_true",
                   help="smoke test: 1 epoch over 2 batches with width-8 nets (for CI)")
    p.set_defaults(run=run)
    return p


_OPTIONS = ("data", "out", "epochs", "batch_size", "lr", "seed", "nz", "ngf", "ndf", "device", "split",
            "max_images", "resume", "channels_last", "bf16", "dry_run")


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
        if v is not None and (v < 1 if name != "epochs" else v < 0):
            raise XaiprobeError(f"--{name.replace('_', '-')} {v}: must be {'>= 0' if name == 'epochs' else '>= 1'}")
    if not args.lr > 0:
        raise XaiprobeError(f"--lr {args.lr}: must be > 0")
    import torch

    from ..data import load_dataset
    from ..gan.checkpoint import read_checkpoint_dict
    from ..gan.dcgan import DCGANConfig
    from ..gan.train import train_gan

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    epochs, max_images = args.epochs, args.max_images
    widths = {"nz": args.nz, "ngf": args.ngf, "ndf": args.ndf}
    if args.dry_run:
        epochs, max_images = 1, 2 * args.batch_size
        widths = {"nz": args.nz or 16, "ngf": args.ngf or 8, "ndf": args.ndf or 8}
    config = None
    if any(v is not None for v in widths.values()):
        default = DCGANConfig()
        config = DCGANConfig(**{k: v if v is not None else getattr(default, k) for k, v in widths.items()})
    data = load_dataset(args.data)
    last = train_gan(data, args.out, epochs=epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                     config=config, device=args.device, resume=args.resume, split=args.split,
                     max_images=max_images, channels_last=args.channels_last, autocast_bf16=args.bf16,
                     command=_command_line(args))
    raw = read_checkpoint_dict(last)
    hist = (raw.get("extra") or {}).get("history") or []
    msg = f"train: {raw.get('epoch', 0)} epoch(s) on {len(raw.get('members', []))} images of {data.spec}"
    if hist:
        h = hist[-1]
        msg += f"; last epoch loss_d {h['loss_d']:.3f} loss_g {h['loss_g']:.3f} D(x) {h['d_x']:.3f} D(G(z)) {h['d_g_z1']:.3f}"
    print(msg)
    print(f"checkpoint: {last}")
    return 0
