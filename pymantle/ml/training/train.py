"""Trainer of the Stokes surrogate (docs/theory.md section 6; issue 4).

Adam at 1e-3, halved at epochs 20, 40, 60, 80, 120; batches of 16 = 14 random snapshots +
2 from the first 5 snapshots of random runs (the initial transient); validation on the cv
split; a checkpoint every epoch (model, optimizer, scheduler, history, config, version)
from which training resumes exactly (every epoch's batches come from seed + epoch); the
best model by validation loss is written as a model file (checkpoint.py) that the solver
reads. Data-parallel with torchrun: every rank takes its share of each batch, DDP averages
the gradients (gloo on CPU, nccl on GPU).

The same Trainer trains the U-net baselines (docs/theory.md section 7; `network="unet1".."unet4"`,
`pymantle train --network unet3`): items are consecutive snapshot pairs (step_data /
pack.PackStepDataset), the loss is `losses.unet_loss` (plain MAE for unet1/2; MAE on T plus
the surrogate loss on u, v for unet3/4), the rest (batches, schedule, checkpoints, resume,
cv validation, model file) is shared.

Recipes: "paper" is the study's (full-size network, 150 epochs over all selected
snapshots); "laptop" keeps the architecture one flag away but samples fewer snapshots per
epoch and runs fewer epochs, so that it trains in about two hours on two cores.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RECIPES = {
    "paper": dict(epochs=150, milestones=(20, 40, 60, 80, 120), samples_per_epoch=0,
                  first=200, later=800, dtype="float64"),
    # float32: 2-10x faster convolutions on CPU; on the MAC grid the divergence stays at
    # round-off (~1e-7 relative) and flux-form advection conserves heat regardless
    "laptop": dict(epochs=40, milestones=(14, 24, 30, 35), samples_per_epoch=1024,
                   first=200, later=800, dtype="float32"),
    # the buoyancy-scaled U-net (buoyancy_unet.py): relative L2, then from epoch 4 to 12
    # the energy-norm error of the flow phased in (from the start it collapses the network
    # to zero flow: any flow in the stiff lid costs more than none; docs/guide/training.md)
    "buoyancy": dict(network="buoyancy", epochs=60, milestones=(30, 42, 50, 56),
                     samples_per_epoch=2048, first=200, later=800, dtype="float32",
                     lr=2e-3, strain="energy", strain_weight=0.1, strain_ramp=(4, 12)),
    # the shipped laptop network since 2026-12-07: the same U-net slimmed for speed (width 8,
    # channels capped at 32, one convolution per decoder level: 4.7 against 11.8 ms a step
    # on a CPU thread), trained twice as long (docs/guide/training.md, "Why this network")
    "buoyancy-slim": dict(network="buoyancy", epochs=120, milestones=(60, 84, 100, 112),
                          samples_per_epoch=2048, first=200, later=800, dtype="float32",
                          lr=2e-3, strain="energy", strain_weight=0.1, strain_ramp=(4, 12),
                          model={"width": 8, "max_width": 32, "decoder_convs": 1}),
    # the two-grid network on a fine (refined) campaign, its coarse part from --init (the
    # coarse grid's buoyancy U-net): a 126x504 sample costs 16 of the laptop grid's, so
    # fewer, and the energy norm sooner (the coarse part already has the flow)
    "two_grid": dict(network="two_grid", epochs=24, milestones=(12, 18, 22),
                     samples_per_epoch=512, first=200, later=800, dtype="float32", lr=1e-3,
                     strain="energy", strain_weight=0.1, strain_ramp=(1, 4)),
}
#: Networks the trainer builds: the study's surrogate, the buoyancy-scaled U-net, its
#: two-grid form for fine grids and the U-net baselines of the time step (unet1..unet4).
SURROGATES = ("surrogate", "buoyancy", "two_grid")
#: The networks with the buoyancy scale (their own inputs and scale per snapshot)
BUOYANCY_NETWORKS = ("buoyancy", "two_grid")


def _option(default, help, **cli):
    """A TrainConfig field that `pymantle train` exposes as --<name> (train_options.py)."""
    return field(default=default, metadata={"help": help, **cli})


@dataclass
class TrainConfig:
    """Everything a training run reads. Fields made with `_option` are the train CLI's
    flags (pymantle/ml/training/options.py generates them: --epochs, --no-derivative, ...);
    a flag left out takes the recipe's value, else the default here."""
    campaign: str
    out: str = "train"
    recipe: str = "laptop"
    epochs: int = _option(40, "number of epochs")
    lr: float = _option(1e-3, "initial learning rate (Adam)")
    milestones: tuple = _option((14, 24, 30, 35), "epochs at which the learning rate is "
                                "multiplied by --lr-factor (comma list)")
    lr_factor: float = _option(0.5, "learning-rate factor at each milestone")
    batch_size: int = _option(16, "snapshots per batch (the global batch under torchrun)")
    transient_per_batch: int = _option(2, "snapshots per batch from the first "
                                       "--transient-snapshots of random runs")
    transient_snapshots: int = _option(5, "the first N snapshots of a run are its transient")
    samples_per_epoch: int = _option(1024, "snapshots drawn per epoch (0: all selected)")
    val_samples: int = _option(128, "cv snapshots per validation (0: the whole cv selection)")
    first: int = _option(200, "selection: every snapshot of a run's first N steps")
    later: int = _option(800, "selection: every N-th step's snapshot after that")
    dtype: str = _option("float64", "network precision", choices=("float64", "float32"))
    seed: int = _option(0, "seed of the batches, the validation subset and the weights")
    range_weighting: bool = _option(True, "weight the loss by the target's range (the study's)")
    boundary_weight: float = _option(11.0, "weight of the boundary rows in the loss")
    derivative: bool = _option(True, "add the derivative terms to the loss (the study's)")
    mass: str | None = _option("boundary", "mass-conservation term of the loss",
                               choices=("boundary", "all", "none"))
    network: str = _option("surrogate", "the study's Stokes surrogate, the buoyancy-scaled "
                           "U-net (the shipped model's) or a whole-step U-net baseline "
                           "(docs/theory.md section 7)",
                           choices=("surrogate", "buoyancy", "two_grid", "unet1", "unet2",
                                    "unet3", "unet4"))
    strain: str | None = _option(None, "buoyancy network: add the relative error of the "
                                 "strain (h1) or of the viscous dissipation norm (energy)",
                                 choices=("h1", "energy", "none"))
    strain_weight: float = _option(1.0, "weight of the --strain term")
    strain_ramp: tuple = _option((), "epochs a,b: --strain weight 0 before a, full from b")
    init: str | None = _option(None, "start from the weights of this model file "
                               "(fine-tuning; same network configuration)")
    model: dict = field(default_factory=dict)   # SurrogateConfig / UNetConfig overrides

    @classmethod
    def from_recipe(cls, campaign, recipe="laptop", **overrides):
        if recipe not in RECIPES:
            raise ValueError(f"recipe {recipe!r}: allowed {', '.join(RECIPES)}")
        kw = dict(RECIPES[recipe])
        model = {**kw.pop("model", {}), **(overrides.pop("model", None) or {})}
        kw.update({k: v for k, v in overrides.items() if v is not None})
        kw["model"] = model
        for k in ("mass", "strain"):     # "none" switches the term off
            if kw.get(k) == "none":
                kw[k] = None
        return cls(campaign=str(campaign), recipe=recipe, **kw)


def _torch_dtype(name):
    import torch
    return {"float64": torch.float64, "float32": torch.float32}[name]


class Trainer:
    def __init__(self, cfg: TrainConfig):
        import torch
        from ..networks.layers import set_conv_impl
        from ..networks.study import StokesSurrogate, SurrogateConfig
        from .pack import PackDataset, PackStepDataset, is_pack
        from ..networks.unet import VARIANTS as UNET_VARIANTS, UNet, UNetConfig
        self.cfg = cfg
        self.out = Path(cfg.out)
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1:
            import torch.distributed as dist
            if not dist.is_initialized():
                dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        self.device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
                                   if torch.cuda.is_available() else "cpu")
        self.dtype = _torch_dtype(cfg.dtype)
        self.is_unet = cfg.network not in SURROGATES
        self.is_buoyancy = cfg.network in BUOYANCY_NETWORKS
        if self.is_unet and cfg.network not in UNET_VARIANTS:
            raise ValueError(f"network {cfg.network!r}: allowed {', '.join(SURROGATES)}, "
                             f"{', '.join(UNET_VARIANTS)}")
        if self.is_buoyancy:
            self._buoyancy_data()
        elif is_pack(cfg.campaign):       # a training pack (pymantle pack): torch alone suffices
            kind = PackStepDataset if self.is_unet else PackDataset
            self.train_ds = kind(cfg.campaign, "train")
            self.val_ds = kind(cfg.campaign, "cv")
            self.scaling, self.aspect = self.train_ds.scaling, self.train_ds.aspect
        else:
            self._campaign_data()
        x = self.train_ds[0][0]
        self.ny, self.nx = x.shape[-2:]
        self.dx, self.dy = self.aspect / self.nx, 1.0 / self.ny
        torch.manual_seed(cfg.seed)
        torch.set_flush_denormal(True)    # subnormal float32 activations are ~10x slower
        if self.is_unet:
            mcfg = UNetConfig.for_variant(cfg.network, **{**cfg.model, "dtype": self.dtype})
            self.model = UNet(mcfg, aspect=self.aspect)
        elif cfg.network == "two_grid":
            self.model, mcfg = self._two_grid()
        elif self.is_buoyancy:
            from ..networks.buoyancy_unet import BuoyancyUNet, BuoyancyUNetConfig
            mcfg = BuoyancyUNetConfig(**{**cfg.model, "dtype": self.dtype})
            self.model = BuoyancyUNet(mcfg, aspect=self.aspect)
        else:
            mcfg = SurrogateConfig(**{**cfg.model, "dtype": self.dtype})
            self.model = StokesSurrogate(mcfg, aspect=self.aspect)
        self.model_config = mcfg
        if cfg.init and cfg.network != "two_grid":   # fine-tuning: an earlier model file's
            from ..checkpoint import load_model_file     # weights
            self.model.load_state_dict(load_model_file(cfg.init)["state_dict"])
        self.model = self.model.to(self.device, self.dtype)
        if self.device.type == "cuda":      # same network, fewer kernels (docs/reports/2026-11-26-gpu-sessions.md)
            set_conv_impl(self.model, "auto")
        self.net = self.model
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel
            # A small network on a small grid has boundary banks with no cells at its
            # coarsest level: their weights get no gradient, and without this DDP never
            # all-reduces the bucket that holds them, so each rank silently stepped on its
            # own half of the batch (caught by the torchrun equality test).
            self.net = DistributedDataParallel(self.model, find_unused_parameters=True)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.MultiStepLR(self.opt, list(cfg.milestones),
                                                          gamma=cfg.lr_factor)
        self.epoch = 0
        self.history: list[dict] = []
        self.best = float("inf")
        self.transient = [k for k, (_, s) in enumerate(self.train_ds.items)
                          if s < cfg.transient_snapshots]

    def _two_grid(self):
        """The two-grid network (two_grid.py); with --init, its coarse part is that model
        file's network (a BuoyancyUNet: the coarse grid's model), weights and shape."""
        from ..checkpoint import load_model_file
        from ..networks.two_grid import TwoGridConfig, TwoGridUNet
        model_cfg = dict(self.cfg.model)
        coarse_state = None
        if self.cfg.init:
            payload = load_model_file(self.cfg.init)
            if payload["model"]["class"] != "BuoyancyUNet":
                raise ValueError(f"--init {self.cfg.init}: the two-grid network starts from "
                                 "a buoyancy U-net model file (the coarse grid's)")
            g = payload["grid"]
            model_cfg.update(coarse=payload["model"]["config"],
                             coarse_shape=(int(g["ny"]), int(g["nx"])))
            coarse_state = payload["state_dict"]
        mcfg = TwoGridConfig(**{**model_cfg, "dtype": self.dtype})
        model = TwoGridUNet(mcfg, aspect=self.aspect)
        if coarse_state is not None:
            model.coarse.load_state_dict(coarse_state)
        return model, mcfg

    def _campaign_data(self):
        """Datasets over a campaign directory, with the Eq. 4 scale fitted on its training
        split: the selected snapshots, or (U-nets) every consecutive pair."""
        from .data import SnapshotDataset
        from .scaling import fit_from_campaign
        cfg = self.cfg
        self.scaling = fit_from_campaign(cfg.campaign, "train")
        if self.is_unet:            # every consecutive pair, no snapshot selection
            from .step_data import StepPairDataset
            self.train_ds = StepPairDataset(cfg.campaign, "train", scaling=self.scaling)
            self.val_ds = StepPairDataset(cfg.campaign, "cv", scaling=self.scaling,
                                          normalisation=self.train_ds.normalisation)
        else:
            self.train_ds = SnapshotDataset(cfg.campaign, "train", cfg.first, cfg.later,
                                            cfg.seed, scaling=self.scaling)
            self.val_ds = SnapshotDataset(cfg.campaign, "cv", cfg.first, cfg.later,
                                          cfg.seed, scaling=self.scaling,
                                          normalisation=self.train_ds.normalisation)
        import netCDF4
        from ...campaign_index import Campaign
        sim0 = self.train_ds.items[0][0]
        with netCDF4.Dataset(Campaign(Path(cfg.campaign), "", 0).sim_dir(sim0)
                             / "run.nc") as ds:
            self.aspect = float(ds.aspect)

    def _buoyancy_data(self):
        """The buoyancy-scaled U-net's data: each snapshot with its own scale (no Eq. 4
        fit), the training split with its x-mirror images."""
        from .buoyancy_data import BuoyancySnapshotDataset
        from .pack import is_pack
        c = self.cfg
        if is_pack(c.campaign):
            raise ValueError(f"network {c.network!r} trains on a campaign directory, not a pack")
        np_dtype = np.float32 if c.dtype == "float32" else np.float64
        self.train_ds = BuoyancySnapshotDataset(c.campaign, "train", c.first, c.later, c.seed,
                                                dtype=np_dtype, mirror=True)
        self.val_ds = BuoyancySnapshotDataset(c.campaign, "cv", c.first, c.later, c.seed,
                                              dtype=np_dtype, mirror=False)
        self.scaling = None
        self.aspect = float(self.train_ds._files._dataset(self.train_ds.items[0][0]).aspect)

    # -- batches ------------------------------------------------------------------------
    def batches(self, epoch: int) -> list[list[int]]:
        """Index lists of this epoch's batches, a pure function of (seed, epoch)."""
        c = self.cfg
        rng = np.random.default_rng([c.seed, epoch])
        n = len(self.train_ds)
        order = rng.permutation(n)
        if c.samples_per_epoch:
            order = order[:c.samples_per_epoch] if c.samples_per_epoch <= n else \
                rng.choice(n, c.samples_per_epoch, replace=True)
        n_rand = c.batch_size - (c.transient_per_batch if self.transient else 0)
        out = []
        for start in range(0, len(order), n_rand):
            b = order[start:start + n_rand].tolist()
            if self.transient and c.transient_per_batch:
                b += rng.choice(self.transient, c.transient_per_batch).tolist()
            out.append(b)
        return out

    def _stack(self, ds, idx):
        """(inputs (B, C, ny, nx), targets (B, 1, ., .)...) on the device: (x, u, v) for the
        surrogate, (x, T_next, u, v) for a U-net."""
        import torch
        cols = list(zip(*(ds[i] for i in idx)))
        to = lambda t: torch.stack(t).to(self.device, self.dtype)  # noqa: E731
        return (to(cols[0]),) + tuple(to(c).unsqueeze(1) for c in cols[1:])

    def loss(self, x, *targets):
        from .losses import surrogate_loss
        c = self.cfg
        kw = dict(range_weighting=c.range_weighting, boundary_weight=c.boundary_weight,
                  derivative=c.derivative, mass=c.mass)
        if self.is_unet:
            from .losses import unet_loss
            return unet_loss(self.net(x), targets, self.dx, self.dy,
                             self.model_config.with_tricks, **kw)
        up, vp = self.net(x)
        if self.is_buoyancy:
            from .losses import relative_l2_loss
            return relative_l2_loss(up, vp, *targets, strain=self.cfg.strain,
                                    strain_weight=self.strain_weight(), x=x,
                                    dx=self.dx, dy=self.dy)
        return surrogate_loss(up, vp, *targets, self.dx, self.dy, **kw)

    def strain_weight(self) -> float:
        """The strain term's weight in the current epoch (0 -> full over strain_ramp)."""
        c = self.cfg
        if not c.strain_ramp or not self.model.training:    # validation: the full weight,
            return c.strain_weight                          # one criterion every epoch
        a, b = c.strain_ramp
        return c.strain_weight * min(1.0, max(0.0, (self.epoch - a) / max(b - a, 1)))

    # -- checkpoints --------------------------------------------------------------------
    def _ckpt_path(self):
        return self.out / "checkpoint.pt"

    def save_checkpoint(self):
        import torch
        from ..._version import __version__
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        state = {"epoch": self.epoch, "model": self.model.state_dict(),
                 "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
                 "history": json.dumps(self.history), "best": float(self.best),
                 "config": json.dumps(dataclasses.asdict(self.cfg)),
                 "pymantle_version": __version__}
        tmp = self._ckpt_path().with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self._ckpt_path())

    def resume(self) -> bool:
        """Continue from out/checkpoint.pt if it exists (same configuration required)."""
        import torch
        p = self._ckpt_path()
        if not p.is_file():
            return False
        st = torch.load(p, map_location=self.device, weights_only=True)
        stored = json.loads(st["config"])
        mine = json.loads(json.dumps(dataclasses.asdict(self.cfg)))
        # a setting added since the checkpoint was written counts at its default
        dflt = {f.name: f.default for f in dataclasses.fields(TrainConfig)
                if f.default is not dataclasses.MISSING}
        diff = [k for k in mine if k not in ("epochs", "out")
                and stored.get(k, dflt.get(k)) != mine[k]]
        if diff:
            raise ValueError(f"{p} was made with different settings ({', '.join(diff)}); "
                             "use another --out")
        self.model.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        self.epoch, self.best = int(st["epoch"]), float(st["best"])
        self.history = json.loads(st["history"])
        return True

    def save_model(self, path):
        from ..checkpoint import save_model
        return save_model(
            path, self.model.state_dict(),
            model={"class": self.model_class, "config": _plain(self.model_config)},
            grid={"nx": int(self.nx), "ny": int(self.ny), "aspect": self.aspect},
            normalisation=self.train_ds.normalisation.to_dict(),
            scaling=({"kind": "buoyancy"} if self.is_buoyancy else self.scaling.to_dict()),
            training={"campaign": str(self.cfg.campaign), "box": self._campaign_box(),
                      "epochs": self.epoch,
                      "recipe": self.cfg.recipe, "best_val_loss": self.best,
                      "samples_seen": int(sum(h["samples"] for h in self.history)),
                      "variant": self.cfg.network,
                      "config": json.dumps(dataclasses.asdict(self.cfg))})

    def _campaign_box(self) -> dict | None:
        """The (Q, gamma, beta) box of the training campaign (campaign.json), or None."""
        meta = Path(self.cfg.campaign) / "campaign.json"
        if not meta.is_file():
            return None
        box = json.loads(meta.read_text()).get("box")
        return {k: [float(v) for v in box[k]] for k in ("Q", "gamma", "beta")} if box else None

    @property
    def model_class(self) -> str:
        return {"buoyancy": "BuoyancyUNet", "two_grid": "TwoGridUNet",
                "surrogate": "StokesSurrogate"}.get(self.cfg.network, "UNet")

    # -- the loop -----------------------------------------------------------------------
    def validate(self) -> float:
        import torch
        n = len(self.val_ds)
        if n == 0:
            return float("nan")
        idx = np.arange(n)
        if self.cfg.val_samples and n > self.cfg.val_samples:
            idx = np.random.default_rng(self.cfg.seed).choice(n, self.cfg.val_samples, replace=False)
        self.model.eval()
        total = 0.0
        with torch.no_grad():
            for s in range(0, len(idx), self.cfg.batch_size):
                x, *targets = self._stack(self.val_ds, idx[s:s + self.cfg.batch_size])
                loss, _ = self.loss(x, *targets)
                total += float(loss) * len(x)
        self.model.train()
        return total / len(idx)

    def fit(self, progress=True, budget_s: float | None = None) -> list[dict]:
        """Train up to cfg.epochs; with budget_s, start no new epoch once that many seconds
        have passed (the checkpoint lets a later call go on)."""
        from ...lock import DirectoryLock
        lock = DirectoryLock(self.out, "training folder").acquire() if self.rank == 0 else None
        try:
            return self._fit(progress, budget_s)
        finally:
            if lock is not None:
                lock.release()

    def _fit(self, progress, budget_s):
        import torch
        from tqdm import tqdm
        start = time.perf_counter()
        while self.epoch < self.cfg.epochs:
            if budget_s is not None and time.perf_counter() - start >= budget_s:
                break
            t0 = time.perf_counter()
            batches = self.batches(self.epoch)
            bar = tqdm(batches, desc=f"epoch {self.epoch + 1}/{self.cfg.epochs}",
                       disable=not progress or self.rank != 0, dynamic_ncols=True)
            running, count = 0.0, 0
            for b in bar:
                mine = b[self.rank::self.world]
                x, *targets = self._stack(self.train_ds, mine)
                self.opt.zero_grad(set_to_none=True)
                loss, _ = self.loss(x, *targets)
                loss.backward()
                self.opt.step()
                running += float(loss.detach()) * len(mine)
                if not np.isfinite(running):
                    raise FloatingPointError(f"training loss became {running} in epoch "
                                             f"{self.epoch + 1}; lower the learning rate")
                count += len(mine)
                bar.set_postfix_str(f"loss={running / max(count, 1):.4g}", refresh=False)
            self.sched.step()
            self.epoch += 1
            val = self.validate()
            rec = {"epoch": self.epoch, "train_loss": running / max(count, 1), "val_loss": val,
                   "lr": self.opt.param_groups[0]["lr"], "seconds": time.perf_counter() - t0,
                   "samples": count}
            self.history.append(rec)
            if self.rank == 0:
                if val < self.best:
                    self.best = val
                    self.save_model(self.out / "model.pt")
                self.save_checkpoint()
                self._write_history()
        if self.world > 1:
            torch.distributed.barrier()
        return self.history

    def _write_history(self):
        with open(self.out / "training.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(self.history[0]))
            w.writeheader()
            w.writerows(self.history)
        plot_training_curve(self.history, self.out / "training_curve.png")


def _plain(cfg) -> dict:
    d = dataclasses.asdict(cfg)
    d["dtype"] = str(d["dtype"]).replace("torch.", "")
    return d


def plot_training_curve(history, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(ep, [h["train_loss"] for h in history], label="train")
    ax.semilogy(ep, [h["val_loss"] for h in history], label="validation (cv split)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
