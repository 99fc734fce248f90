"""Vectorized zoo training: many runs of one architecture trained as one batched program.

:func:`train_networks` trains the runs ``runs`` of one task together and returns the same
:class:`wsm.zoos.training.Run` records as :func:`wsm.zoos.training.train_network` (the reference loop) would, with the
same weights up to float rounding:

* every run is initialised exactly as the loop does (``torch.manual_seed(seed)`` then
  :func:`wsm.zoos.nets.build`) and draws its own mini-batches and augmentation from its own generator
  (``torch.Generator().manual_seed(seed)``, :func:`wsm.zoos.training.draws`), so run ``r`` sees the same
  images in the same order as it would alone; the batches of all runs are cut and augmented in one
  operation on the training device (:func:`wsm.zoos.training.images`), not one run at a time on the CPU;
* the networks' parameters and buffers are stacked (``torch.func.stack_module_state``) and the
  forward pass is ``torch.func.vmap`` over ``torch.func.functional_call``. The loss is the *sum*
  of the runs' mean cross-entropies, so the gradient of each run's slice is exactly that run's own
  gradient;
* the step is ``torch.optim.SGD`` (momentum, weight decay) and ``MultiStepLR`` on the stacked
  tensors: every operation of SGD is elementwise, so the stacked step is the loop's step, run by run;
* BatchNorm: the running statistics are stacked buffers updated in place inside ``vmap`` (each
  run's slice is updated from its own batch), so the stored state_dicts carry the same running
  statistics as the loop's (the test checks them too).

:func:`supports` says which configurations this path handles (SGD; ``mlp4`` and ``plainnet5``);
:func:`wsm.zoos.zoo.build_zoo` falls back to the loop for anything else. :func:`preferred` says whether
it is also the faster path for a configuration (measured by ``bench/bench_training.py``; see the
book's Performance page).
"""

from __future__ import annotations

import copy
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, stack_module_state, vmap

from wsm.zoos import nets, training

SUPPORTED_ARCHS = ("mlp4", "plainnet5")


def supports(cfg) -> bool:
    """Whether the batched path can train ``cfg`` (architecture and optimizer it knows; a zoo that
    saves checkpoints is trained one network at a time)."""
    return (cfg.arch in SUPPORTED_ARCHS and getattr(cfg, "optimizer", "sgd") == "sgd"
            and not getattr(cfg, "checkpoints", ()))


def preferred(cfg) -> bool:
    """Whether to train ``cfg`` batched rather than one network at a time.

    On the CPU the batched path is slower than one network at a time for both MLP-4 and PlainNet-5
    (vmap turns PlainNet-5's convolutions into grouped convolutions, which PyTorch's CPU kernels run
    less efficiently than one channels-last convolution per network; the rates are
    ``bench/bench_training.py``'s rows in ``book/benchmarks/``), so on CPU networks are trained one at
    a time, in one one-thread process per core (:func:`wsm.zoos.training.workers_for`). On CUDA the
    batched path is used for both: one network's kernels leave a GPU idle.
    """
    return supports(cfg) and str(cfg.device).startswith("cuda")


# The GPU memory a CUDA zoo's chunks are sized for where this machine sees no GPU (a cluster's
# driver planning the units that GPU nodes train: wsm.zoos.shards.units).
ASSUMED_GPU_GB = 40.0


def chunk_size(cfg, memory_gb: float | None = None) -> int:
    """How many runs to train at once: bounded by the activations' memory (about ``memory_gb``:
    2 GB on CPU; on CUDA, by default, half the GPU's memory, or of :data:`ASSUMED_GPU_GB` where no
    GPU is visible) and by 16 (CPU) or 128 (CUDA) runs."""
    cuda = str(cfg.device).startswith("cuda")
    if memory_gb is None and cuda:
        total = (torch.cuda.get_device_properties(torch.device(cfg.device)).total_memory / 2**30
                 if torch.cuda.is_available() else ASSUMED_GPU_GB)
        memory_gb = total / 2
    elif memory_gb is None:
        memory_gb = 2.0
    # float32 activations + gradients per network per step, roughly (batch 128, 32x32 input)
    per_net = {"mlp4": 128 * (3072 + 4 * 500) * 4 * 3 + 6 * 2.2e6 * 4,
               "plainnet5": 128 * 32 * 32 * (32 * 3 + 3) * 4 * 3 + 6 * 0.4e6 * 4}[cfg.arch]
    per_net *= cfg.batch_size / 128
    return max(1, min(128 if cuda else 16, int(memory_gb * 2**30 // per_net)))


def train_networks(cfg, task_data, runs: list[int]):
    """Train the runs ``runs`` of one task together; the :class:`wsm.zoos.training.Run` of each, in order."""
    t0 = time.time()
    device = cfg.device
    seeds = [cfg.seed_of(task_data.task, r) for r in runs]
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(nets.build(cfg.arch, len(task_data.classes)).to(device))
    params, buffers = stack_module_state(models)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    base = copy.deepcopy(models[0]).to("meta")
    base.train()

    def one(p, b, xb):
        return functional_call(base, (p, b), (xb,))

    forward = vmap(one, in_dims=(0, 0, 0))
    names = list(params)
    opt = torch.optim.SGD([params[k] for k in names], lr=cfg.lr, momentum=cfg.momentum,
                          weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(cfg.milestones), gamma=0.1)
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    x, y = task_data.x_train, task_data.y_train
    xd, yd = x.to(device), y.to(device)                 # every run's batches are cut on the device at once
    xa, ya = training.train_subset(x, y)                # the train accuracy's images, the same for every run
    losses = torch.full((len(runs),), float("nan"))
    for _ in range(cfg.epochs):
        streams = [training.draws(len(x), cfg.batch_size, g, cfg.augment) for g in gens]
        for draws in zip(*streams):
            idx, oy, ox, flip = (None if d[0] is None else torch.stack(d) for d in zip(*draws))
            idx = idx.to(device)
            xb = training.images(xd, idx, oy, ox, flip)                    # runs x batch x 3 x 32 x 32
            yb = yd[idx]
            logits = forward(params, buffers, xb)                      # runs x batch x classes
            per_run = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none")
            per_run = per_run.view(len(runs), -1).mean(1)
            opt.zero_grad(set_to_none=True)
            per_run.sum().backward()
            opt.step()
            losses = per_run.detach()
        sched.step()
    seconds = (time.time() - t0) / len(runs)
    out = []
    for i, (r, s) in enumerate(zip(runs, seeds)):
        state = {k: v.detach()[i].cpu().clone() for k, v in (params | buffers).items()}
        state = {k: state[k] for k in models[i].state_dict()}        # the loop's key order
        net = models[i]
        net.load_state_dict(state)
        t1 = time.time()
        run = training.Run(task=task_data.task, run=r, seed=s, classes=list(task_data.classes),
                      train_acc=training.accuracy(net, xa, ya, device),
                      test_acc=training.accuracy(net, task_data.x_test, task_data.y_test, device),
                      final_loss=float(losses[i]), seconds=seconds, state_dict=state, device=str(device))
        run.seconds += time.time() - t1
        out.append(run)
    return out
