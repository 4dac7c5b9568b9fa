"""Attribute classifier: a compact CNN for 64x64 images, one logit per attribute.

The classifier is the yardstick of latent editing and of sample quality: it scores generated
images so that directions can be fitted (``directions.py``) and edits measured
(``quality.py``), and its penultimate features (:meth:`AttributeClassifier.features`) are the
feature space of :mod:`xaiprobe.gan.quality`. It is trained from scratch on a labeled
:class:`~xaiprobe.data.base.ImageSet` (train split; the val split picks the best epoch) and
saved as plain tensors plus metadata.

``load_classifier()`` with no path loads the shipped classifier
(``xaiprobe/assets/classifier_synthfaces.pt``: every SynthFaces attribute, float16 weights),
trained by::

    xaiprobe classifier train --data synthfaces:20000 --out classifier.pt    # 8 epochs, every attribute
    xaiprobe classifier export --classifier classifier.pt --out xaiprobe/assets/classifier_synthfaces.pt
    xaiprobe classifier eval                                                 # val and test table

Multi-label data (SynthFaces, CelebA) trains one sigmoid logit per attribute with a
class-balanced ``BCEWithLogitsLoss``; single-label data (digits) trains a softmax over the classes.
"""
from __future__ import annotations

import copy
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._utils.device import resolve_device
from .._utils.errors import XaiprobeError
from .._utils.io import atomic_path, safe_torch_load

log = logging.getLogger(__name__)

FORMAT = "xaiprobe.classifier"
VERSION = 1
ARCHS = ("convnet", "resnet18")
#: the shipped classifier (package data), loaded by ``load_classifier()`` without a path
SHIPPED = "classifier_synthfaces.pt"


def shipped_classifier_path() -> Path:
    """Path of the shipped SynthFaces classifier (``xaiprobe/assets/classifier_synthfaces.pt``)."""
    from importlib import resources

    return Path(str(resources.files("xaiprobe") / "assets" / SHIPPED))


def _cbr(cin: int, cout: int, stride: int) -> list:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class AttributeClassifier(nn.Module):
    """A CNN for 64x64 inputs with a configurable width: one logit per attribute.

    Two layouts:

    * ``"convnet"`` (default): eight 3x3 convolutions with batch norm — a stem with stride
      ``stem_stride``, one more at width ``w``, then two each at 2w, 4w, 8w, each pair starting
      with stride 2 (maps of 32, 16, 8, 4 pixels with the default stride 2) — global average
      pooling and a linear layer. ``width=32``: 1.2M parameters, 256 features.
    * ``"resnet18"``: the ResNet-18 layout (2-2-2-2 basic blocks, CIFAR stem without max-pool);
      ``width=64`` has torchvision's ResNet-18 channels (11.2M parameters).

    Parameters
    ----------
    attribute_names : list of str, length A
        One output logit per name.
    width : int
        Channels of the first stage (stages have width, 2w, 4w, 8w).
    concept_type : {"multilabel", "single"}
        Multi-label: independent sigmoid logits. Single: softmax over the A classes.
    stem_stride : {1, 2}
        Stride of the stem convolution (1 keeps full 64x64 maps at 4x the compute).
    arch : {"convnet", "resnet18"}

    Forward: images float (N, 3, 64, 64) in [-1, 1] -> logits float (N, A);
    :meth:`features`: the pooled penultimate features (N, 8 * width).
    """

    def __init__(self, attribute_names, width: int = 32, concept_type: str = "multilabel", stem_stride: int = 2,
                 arch: str = "convnet"):
        super().__init__()
        if concept_type not in ("multilabel", "single"):
            raise XaiprobeError(f"concept_type {concept_type!r}: unknown; use multilabel or single")
        if int(width) < 1:
            raise XaiprobeError(f"classifier width {width}: must be a positive number of channels (e.g. 32)")
        self.attribute_names = [str(a) for a in attribute_names]
        if not self.attribute_names:
            raise XaiprobeError("classifier: the data set has no attributes to classify; use a labeled data set")
        if int(stem_stride) not in (1, 2):
            raise XaiprobeError(f"classifier stem stride {stem_stride}: use 1 or 2")
        if arch not in ARCHS:
            raise XaiprobeError(f"classifier arch {arch!r}: unknown; use {' or '.join(ARCHS)}")
        self.width = int(width)
        self.stem_stride = int(stem_stride)
        self.concept_type = concept_type
        self.arch_name = arch
        w = self.width
        if arch == "convnet":
            layers = _cbr(3, w, self.stem_stride) + _cbr(w, w, 1)
            for c in (2 * w, 4 * w, 8 * w):
                layers += _cbr(c // 2, c, 2) + _cbr(c, c, 1)
            self.body = nn.Sequential(*layers)
        else:
            from torchvision.models.resnet import BasicBlock

            self.stem = nn.Sequential(nn.Conv2d(3, w, 3, self.stem_stride, 1, bias=False), nn.BatchNorm2d(w),
                                      nn.ReLU(inplace=True))
            stages, inplanes = [], w
            for i, planes in enumerate((w, 2 * w, 4 * w, 8 * w)):
                stride = 1 if i == 0 else 2
                down = None
                if stride != 1 or inplanes != planes:
                    down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                stages.append(nn.Sequential(BasicBlock(inplanes, planes, stride, down), BasicBlock(planes, planes)))
                inplanes = planes
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8 * w, len(self.attribute_names))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @property
    def arch(self) -> dict:
        return {"name": self.arch_name, "width": self.width, "num_attributes": len(self.attribute_names),
                "concept_type": self.concept_type, "stem_stride": self.stem_stride}

    @property
    def num_features(self) -> int:
        """Size D of :meth:`features`."""
        return 8 * self.width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features (N, 8 * width): the pooled last convolution maps, before ``fc``."""
        if self.arch_name == "convnet":
            x = self.body(x)
        else:
            x = self.layer4(self.layer3(self.layer2(self.layer1(self.stem(x)))))
        return torch.flatten(self.pool(x), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))

    def attribute_index(self, name: str) -> int:
        """Output column of attribute ``name``; an unknown name lists the classifier's ones."""
        if name not in self.attribute_names:
            raise XaiprobeError(f"attribute {name!r}: the classifier does not have it; "
                                f"it has {', '.join(self.attribute_names)}; pass a --classifier trained on it")
        return self.attribute_names.index(name)

    def columns(self, names) -> list[int]:
        """Output columns of ``names`` (each checked by :meth:`attribute_index`)."""
        return [self.attribute_index(str(n)) for n in names]

    @torch.no_grad()
    def score(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Logits (N, A) of images (N, 3, 64, 64), in eval mode, batch by batch, on CPU."""
        return self._batched(self, images, batch_size, len(self.attribute_names))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """:meth:`features` (N, D) of images, in eval mode, batch by batch, on CPU."""
        return self._batched(self.features, images, batch_size, self.num_features)

    def _batched(self, fn, images, batch_size, width):
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        try:
            out = [fn(images[i:i + batch_size].to(dev, torch.float32)).float().cpu()
                   for i in range(0, len(images), batch_size)]
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, width)


def _targets(labels: np.ndarray, concept_type: str) -> torch.Tensor:
    y = torch.as_tensor(np.asarray(labels))
    return y.argmax(1) if concept_type == "single" else y.float()


def _predictions(logits: torch.Tensor, concept_type: str) -> np.ndarray:
    """Binary predictions (N, A): per-attribute sign for multi-label, one-hot argmax for single."""
    if concept_type == "single":
        return np.eye(logits.shape[1], dtype=np.int8)[logits.argmax(1).numpy()]
    return (logits > 0).numpy().astype(np.int8)


def classification_metrics(logits: torch.Tensor, labels: np.ndarray, attribute_names, concept_type="multilabel") -> dict:
    """Per-attribute accuracy and balanced accuracy.

    Parameters
    ----------
    logits : tensor (N, A)
    labels : ndarray int8 (N, A)

    Returns
    -------
    dict
        ``{"attributes": {name: {"accuracy", "balanced_accuracy", "positive_rate", "n"}},
        "mean_accuracy", "mean_balanced_accuracy"}`` (+ ``"accuracy"`` of the argmax for
        single-label data).
    """
    labels = np.asarray(labels).astype(np.int8)
    pred = _predictions(logits.float().cpu(), concept_type)
    per = {}
    for j, name in enumerate(attribute_names):
        y, p = labels[:, j], pred[:, j]
        pos, neg = y == 1, y == 0
        tpr = float((p[pos] == 1).mean()) if pos.any() else float("nan")
        tnr = float((p[neg] == 0).mean()) if neg.any() else float("nan")
        bal = (tpr + tnr) / 2  # NaN when one class is absent: balanced accuracy is undefined there
        per[str(name)] = {"accuracy": float((p == y).mean()) if len(y) else float("nan"),
                          "balanced_accuracy": bal, "positive_rate": float(pos.mean()) if len(y) else float("nan"),
                          "n": int(len(y))}
    bals = [v["balanced_accuracy"] for v in per.values() if np.isfinite(v["balanced_accuracy"])]
    out = {"attributes": per,
           "mean_accuracy": float(np.mean([v["accuracy"] for v in per.values()])),
           "mean_balanced_accuracy": float(np.mean(bals)) if bals else float("nan")}
    if concept_type == "single":
        out["accuracy"] = float((pred.argmax(1) == labels.argmax(1)).mean()) if len(labels) else float("nan")
    return out


def evaluate_classifier(classifier: AttributeClassifier, data, split="val", batch_size: int = 256,
                        max_images: int | None = None, rows=None) -> dict:
    """Metrics (see :func:`classification_metrics`) of ``classifier`` on one split of ``data``
    (or on explicit ``rows``), for every attribute of ``data`` (the classifier must have them all;
    its other outputs are ignored)."""
    data = _as_imageset(data)
    cols = _columns_for(classifier, data)
    rows = data.rows_of(split) if rows is None else np.asarray(rows, dtype=np.int64)
    if max_images:
        rows = rows[:int(max_images)]
    if rows.size == 0:
        raise XaiprobeError(f"data set {data.spec}: split {split!r} is empty; evaluate on another split (train, val, test, all)")
    logits = torch.cat([classifier.score(x, batch_size) for _, x in data.batches(rows, batch_size)])
    m = classification_metrics(logits[:, cols], data.labels[rows], list(data.attribute_names), classifier.concept_type)
    m["split"] = split if isinstance(split, str) else str(split)
    return m


def _as_imageset(data):
    if isinstance(data, (str, os.PathLike)):
        from ..data import load_dataset
        return load_dataset(str(data))
    return data


def _columns_for(classifier, data) -> list[int]:
    names = [str(a) for a in data.attribute_names]
    missing = [a for a in names if a not in classifier.attribute_names]
    if missing or (classifier.concept_type == "single" and names != classifier.attribute_names):
        raise XaiprobeError(f"data set {data.spec}: attributes {', '.join(missing or names)} differ from "
                            f"the classifier's {', '.join(classifier.attribute_names)}; evaluate on the data it was "
                            "trained on")
    return [classifier.attribute_names.index(a) for a in names]


def _shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Translate each image by a random whole number of pixels in [-max_shift, max_shift] (edges repeated)."""
    n, _, h, w = x.shape
    s = int(max_shift)
    pad = nn.functional.pad(x, (s, s, s, s), mode="replicate")
    oy, ox = (torch.randint(0, 2 * s + 1, (2, n), generator=gen))
    rows = (oy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w))[:, None, None, :]
    return pad[torch.arange(n)[:, None, None, None], torch.arange(x.shape[1])[None, :, None, None], rows, cols]


def train_classifier(data, epochs: int = 8, batch_size: int = 64, width: int = 32, stem_stride: int = 2, lr: float = 3e-3,
                     weight_decay: float = 5e-4, device=None, max_images: int | None = None, seed: int = 0,
                     flip: bool = True, shift: int = 3, balance: bool = True, arch: str = "convnet",
                     progress: bool = True) -> AttributeClassifier:
    """Train an :class:`AttributeClassifier` from scratch on the train split of ``data``.

    AdamW with a one-cycle (cosine) schedule; augmentation by random horizontal flips and
    translations of up to ``shift`` pixels (neither changes any attribute; colours are left
    alone, as hair colour is one). With ``balance`` the BCE is class-balanced per attribute
    (positives weigh 1/(2p), negatives 1/(2(1-p)), capped at 10), so rare attributes are not
    ignored and logit 0 is near the balanced decision. After each epoch the val split (when
    present) is scored and the epoch with the best mean balanced accuracy is kept; the test
    split is scored once at the end.

    Parameters
    ----------
    data : ImageSet or str
        Labeled images (a data spec string is loaded with ``load_dataset``).
    max_images : int, optional
        Use only the first ``max_images`` train rows (quick runs).

    Returns
    -------
    AttributeClassifier
        In eval mode, with ``metrics_`` (val metrics, or train metrics when there is no val split),
        ``test_metrics_`` (test metrics, or None), ``history_`` (per-epoch loss and val balanced
        accuracy), ``train_seconds_``, ``train_config_`` and ``data_spec_``.
    """
    from tqdm.auto import tqdm

    data = _as_imageset(data)
    if data.labels.shape[1] == 0:
        raise XaiprobeError(f"data set {data.spec}: has no labels; train the classifier on labeled data (synthfaces, celeba:DIR, digits)")
    if int(epochs) < 1 or int(batch_size) < 1:
        raise XaiprobeError(f"classifier training: epochs ({epochs}) and batch size ({batch_size}) must be >= 1")
    if int(shift) < 0:
        raise XaiprobeError(f"classifier training: shift {shift} must be >= 0 pixels")
    dev = resolve_device(device)
    train_rows = data.rows_of("train")
    if max_images:
        train_rows = train_rows[:int(max_images)]
    if train_rows.size == 0:
        raise XaiprobeError(f"data set {data.spec}: has no train split rows; use a data set with a train split")
    val_rows = data.rows_of("val")
    if max_images and val_rows.size:
        val_rows = val_rows[:max(int(max_images) // 4, 1)]
    ctype = data.concept_type
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clf = AttributeClassifier(data.attribute_names, width=width, concept_type=ctype, stem_stride=stem_stride,
                                  arch=arch).to(dev)
    # the train images are kept in memory as uint8 (20000 SynthFaces images: 246 MB)
    train_rows = np.sort(train_rows)  # h5py reads need increasing rows; batches are shuffled anyway
    x_u8 = torch.as_tensor(np.asarray(data.pixels[train_rows]))
    y_all = _targets(data.labels[train_rows], ctype)
    if ctype == "single":
        ce = nn.CrossEntropyLoss()
        loss_fn = lambda logits, y: ce(logits, y)  # noqa: E731
    else:
        # class-balanced BCE: positives weigh 1/(2p), negatives 1/(2(1-p)) (capped at 10), so a
        # rare attribute (Eyeglasses ~7%, Gray_Hair ~4%) is not ignored and logit 0 is the balanced decision
        pos = y_all.mean(0).clamp(1e-3, 1 - 1e-3)
        w_pos, w_neg = (0.5 / pos).clamp(max=10.0), (0.5 / (1 - pos)).clamp(max=10.0)
        if not balance:
            w_pos, w_neg = torch.ones_like(pos), torch.ones_like(pos)
        w_pos, w_neg = w_pos.to(dev), w_neg.to(dev)
        bce = nn.BCEWithLogitsLoss(reduction="none")
        loss_fn = lambda logits, y: (bce(logits, y) * (y * w_pos + (1 - y) * w_neg)).mean()  # noqa: E731
    opt = torch.optim.AdamW(clf.parameters(), lr=lr, weight_decay=weight_decay)
    steps = int(epochs) * ((len(x_u8) + batch_size - 1) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    gen = torch.Generator().manual_seed(seed)
    best, best_state, history = -float("inf"), None, []
    t0 = time.perf_counter()
    for epoch in range(int(epochs)):
        clf.train()
        perm = torch.randperm(len(x_u8), generator=gen)
        total, seen = 0.0, 0
        bar = tqdm(range(0, len(perm), batch_size), desc=f"classifier epoch {epoch + 1}/{epochs}",
                   disable=None if progress else True, leave=False)
        for start in bar:
            idx = perm[start:start + batch_size]
            x = x_u8[idx].float().div_(127.5).sub_(1.0)
            if flip:
                m = torch.rand(len(idx), generator=gen) < 0.5
                x[m] = x[m].flip(-1)
            if shift:
                x = _shift(x, shift, gen)
            x, y = x.to(dev), y_all[idx].to(dev)
            loss = loss_fn(clf(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        clf.eval()
        entry = {"epoch": epoch + 1, "train_loss": total / max(seen, 1), "seconds": time.perf_counter() - t0}
        if val_rows.size:
            m = evaluate_classifier(clf, data, "val", batch_size=max(batch_size, 256), rows=val_rows)
            entry["val_balanced_accuracy"] = m["mean_balanced_accuracy"]
            entry["val_per_attribute"] = {a: v["balanced_accuracy"] for a, v in m["attributes"].items()}
            score = m["mean_balanced_accuracy"]
        else:
            score = -entry["train_loss"]
        history.append(entry)
        log.info("classifier epoch %d: loss %.4f val bal. acc %s (%.0f s)", epoch + 1, entry["train_loss"],
                 entry.get("val_balanced_accuracy"), entry["seconds"])
        if not np.isfinite(score):
            score = -entry["train_loss"]
        if score > best or best_state is None:
            best, best_state = score, copy.deepcopy(clf.state_dict())
    clf.load_state_dict(best_state)
    clf.eval()
    clf.train_seconds_ = time.perf_counter() - t0
    clf.history_ = history
    split = "val" if val_rows.size else "train"
    clf.metrics_ = evaluate_classifier(clf, data, split, batch_size=max(batch_size, 256),
                                       rows=val_rows if val_rows.size else train_rows)
    test_rows = data.rows_of("test")
    if max_images and test_rows.size:
        test_rows = test_rows[:max(int(max_images) // 4, 1)]
    clf.test_metrics_ = (evaluate_classifier(clf, data, "test", batch_size=max(batch_size, 256), rows=test_rows)
                         if test_rows.size else None)
    clf.data_spec_ = data.spec
    clf.train_config_ = {"epochs": int(epochs), "batch_size": int(batch_size), "lr": lr, "weight_decay": weight_decay,
                         "max_images": max_images, "seed": seed, "balance": balance, "width": int(width),
                         "stem_stride": int(stem_stride), "arch": arch, "shift": int(shift), "flip": bool(flip),
                         "n_train": int(len(x_u8)), "n_val": int(val_rows.size)}
    return clf


def save_classifier(path, classifier: AttributeClassifier, metrics: dict | None = None, extra: dict | None = None,
                    half: bool = False) -> Path:
    """Write ``classifier`` as plain tensors + metadata (loadable with ``weights_only=True``).

    ``half`` stores floating-point weights as float16 (half the size; loaded back into float32).
    """
    metrics = metrics if metrics is not None else getattr(classifier, "metrics_", {})
    state = {k: v.detach().cpu() for k, v in classifier.state_dict().items()}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    obj = {"format": FORMAT, "version": VERSION, "arch": classifier.arch,
           "attribute_names": list(classifier.attribute_names),
           "state_dict": state,
           "metrics": metrics or {}, "test_metrics": getattr(classifier, "test_metrics_", None) or {},
           "data": {"spec": getattr(classifier, "data_spec_", "")},
           "train": {**getattr(classifier, "train_config_", {}), "seconds": getattr(classifier, "train_seconds_", None),
                     "history": getattr(classifier, "history_", [])},
           "extra": extra or {}}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def export_classifier(src, dst) -> Path:
    """Rewrite classifier file ``src`` as ``dst`` with float16 weights (for distribution)."""
    clf = load_classifier(src)
    return save_classifier(dst, clf, extra={**getattr(clf, "extra_", {}), "exported": {"half": True}}, half=True)


def load_classifier(path=None, device=None) -> AttributeClassifier:
    """Load a classifier written by :func:`save_classifier`, in eval mode on ``device``.

    ``path=None`` loads the shipped SynthFaces classifier (:func:`shipped_classifier_path`);
    an :class:`AttributeClassifier` is returned as it is. The saved val metrics are on
    ``.metrics_``, the test metrics on ``.test_metrics_`` and the data spec on ``.data_spec_``.
    """
    from ..gan.checkpoint import load_state_dict_checked

    if isinstance(path, AttributeClassifier):
        return path
    shipped = path is None
    path = shipped_classifier_path() if shipped else Path(path)
    obj = safe_torch_load(path, "classifier",
                          "reinstall xaiprobe (the package ships it)" if shipped else
                          "train one with `xaiprobe classifier train --data SPEC --out FILE`",
                          "retrain it with `xaiprobe classifier train`")
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise XaiprobeError(f"classifier {path}: not an xaiprobe classifier file (no format={FORMAT!r}); "
                            "train one with `xaiprobe classifier train`")
    if int(obj.get("version", 0)) > VERSION:
        raise XaiprobeError(f"classifier {path}: version {obj.get('version')} is newer than this xaiprobe reads "
                            f"({VERSION}); upgrade xaiprobe")
    arch = obj["arch"]
    clf = AttributeClassifier(obj["attribute_names"], width=int(arch.get("width", 32)),
                              concept_type=arch.get("concept_type", "multilabel"),
                              stem_stride=int(arch.get("stem_stride", 2)), arch=arch.get("name", "resnet18"))
    load_state_dict_checked(clf, obj["state_dict"], f"classifier {path}")
    clf.metrics_ = obj.get("metrics", {})
    clf.test_metrics_ = obj.get("test_metrics") or None
    clf.data_spec_ = obj.get("data", {}).get("spec", "")
    clf.train_config_ = obj.get("train", {})
    clf.extra_ = obj.get("extra", {})
    clf.path_ = path
    return clf.to(resolve_device(device)).eval()


def format_metrics_table(metrics: dict, test: dict | None = None) -> str:
    """The per-attribute table as text: accuracy, balanced accuracy and positive rate of ``metrics``,
    and with ``test`` (metrics of another split) its balanced accuracy beside them."""
    other = (test or {}).get("attributes", {})
    tcol = f" {test.get('split', 'test') + ' bal.':>10}" if test else ""
    rows = [f"{'attribute':<20} {'accuracy':>9} {'balanced':>9} {'pos.rate':>9}{tcol}"]
    for name, m in metrics.get("attributes", {}).items():
        extra = f" {other.get(name, {}).get('balanced_accuracy', float('nan')):>10.4f}" if test else ""
        rows.append(f"{name:<20} {m['accuracy']:>9.4f} {m['balanced_accuracy']:>9.4f} {m['positive_rate']:>9.3f}{extra}")
    extra = f" {test.get('mean_balanced_accuracy', float('nan')):>10.4f}" if test else ""
    rows.append(f"{'mean':<20} {metrics.get('mean_accuracy', float('nan')):>9.4f} "
                f"{metrics.get('mean_balanced_accuracy', float('nan')):>9.4f} {'':>9}{extra}")
    if "accuracy" in metrics:
        rows.append(f"top-1 accuracy {metrics['accuracy']:.4f}")
    return "\n".join(rows)


def labeled_data(data, attributes="all"):
    """The labeled ImageSet a classifier trains or is evaluated on, with the label columns ``attributes``.

    A SynthFaces spec without ``attrs=`` (``synthfaces:20000``) loads every SynthFaces attribute
    ("all") or the ones named; other data keep the named columns of their labels. A name the
    data lacks is a one-line error.
    """
    from ..data.base import ImageSet

    if attributes is not None and not isinstance(attributes, str):
        attributes = [str(a) for a in attributes]
    if attributes in (None, "all"):
        attributes = "all"
    elif isinstance(attributes, str):
        attributes = [a.strip() for a in attributes.split(",") if a.strip()]
    if isinstance(data, (str, os.PathLike)):
        spec = os.fspath(data).strip()
        if spec.partition(":")[0] == "synthfaces" and "attrs=" not in spec:
            spec += ":attrs=" + ("all" if attributes == "all" else ",".join(attributes))
        data = _as_imageset(spec)
    if attributes == "all" or list(data.attribute_names) == attributes:
        return data
    missing = [a for a in attributes if a not in data.attribute_names]
    if missing:
        raise XaiprobeError(f"data set {data.spec}: has no attribute {', '.join(missing)}; "
                            f"it has {', '.join(map(str, data.attribute_names))}")
    cols = [list(data.attribute_names).index(a) for a in attributes]
    return ImageSet(data.pixels, data.labels[:, cols], attributes, data.split, data.spec, data.concept_type,
                    data.index, data.masks, dict(data.info))
