"""The torchrun code path, exercised with two CPU processes on the gloo backend."""
import os
import socket

import numpy as np
import torch
import torch.multiprocessing as mp

from xaiprobe.data.base import ImageSet
from xaiprobe.gan import load_checkpoint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    import xaiprobe.gan.dcgan_train as step_mod
    import xaiprobe.gan.train as train_mod
    from xaiprobe.testing.models import tiny_config

    seen = {}
    step = step_mod.train_step

    def spy(G, D, *a, **k):  # keep this process's (DDP-wrapped) models
        seen.update(G=G, D=D)
        return step(G, D, *a, **k)

    step_mod.train_step = spy

    rng = np.random.default_rng(0)
    data = ImageSet(rng.integers(0, 255, (20, 3, 64, 64), dtype=np.uint8), np.zeros((20, 0), np.int8), [],
                    np.zeros(20, np.uint8), "random:20")
    train_mod.train_gan(data, out, epochs=2, batch_size=4, config=tiny_config(), device="cpu", progress=False,
                     sample_count=4)
    assert type(seen["G"]).__name__ == "DistributedDataParallel"
    torch.save({"g": seen["G"].module.state_dict(), "d": seen["D"].module.state_dict()}, f"{out}/rank{rank}.pt")


def test_two_process_gloo_training(tmp_path):
    out = tmp_path / "ddp"
    out.mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    ck = load_checkpoint(out / "checkpoints" / "last.pt")
    assert ck.epoch == 2 and len(ck.members) == 20
    hist = ck.raw["extra"]["history"]
    assert [h["images"] for h in hist] == [20, 20]  # 2 shards of 10 rows, 3 steps each
    assert ck.raw["extra"]["hyperparameters"]["world_size"] == 2
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    # every process ends with the same parameters (DDP averages the gradients); batch-norm
    # running statistics are per process between broadcasts (rank 0's are saved)
    a, b = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(a["g"][k], ck.generator.state_dict()[k]) for k in a["g"])
    for part in ("g", "d"):
        differ = [k for k in a[part] if "running_" not in k and not torch.allclose(a[part][k], b[part][k])]
        assert differ == []
