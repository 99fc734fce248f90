"""The engine that does a page's heavy work: zoo builds and Gram matrices, in this process
(``local``, the default) or spread over a Ray cluster (``ray``).

With ``ray``, a zoo is split into its units (:func:`wsm.zoos.shards.units`) and every unit that is not
finished becomes a Ray task running :func:`wsm.zoos.shards.build_unit` on a cluster node: one CPU and one
thread per task for CPU zoos (bit-identical to the one-process build), a share of a GPU for CUDA
zoos (:func:`resources`). A task that dies with its node is retried elsewhere (:data:`RETRIES`):
the dead task's claim is abandoned, everything it saved stays, and only what was missing is
trained again. A Gram matrix is split into tiles (:mod:`wsm.zoos.tiles`), one task each, kept in the
content-addressed cache and assembled on the driver.

The cluster: ``address`` (``WSM_RAY_ADDRESS``) names an existing one (``host:port`` of its head, or
``auto``); without it Ray starts a local cluster on this machine, one worker per core and a
task per GPU share. Every node must see the zoo folder, the data root and the Gram cache at the
same paths (a shared filesystem) and run the same wsm code: a task on a node whose training code
differs from the driver's stops the build with a message naming the node.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from wsm.core import paths, version
from wsm.maths import chain
from wsm.zoos import shards, tiles, training, zoo
from wsm.core.errors import WsmError
from wsm.core.progress import bar

ENGINES = ("local", "ray")
RETRIES = 3                # attempts after the first, when a task's worker or node dies
GPU_SHARE_BATCHED = 0.5    # a batched chunk is sized to half a GPU's memory (wsm.zoos.vectorized.chunk_size)
GPU_SHARE_SINGLE = 0.25    # one network at a time leaves most of a GPU idle
GPU_SHARE_TILE = 0.5       # a Gram tile holds two blocks of factors in its memory_gb
# A Gram tile task's memory (GB) by default: a CPU worker's share of a small machine, or a GPU
# share that fits half of a 40 GB GPU (the tiles' block sizes follow: wsm.zoos.tiles.choose).
TILE_GB = {"cpu": 2.0, "cuda": 16.0}


@dataclass(frozen=True)
class Engine:
    """Where the heavy work runs: ``name`` is ``local`` or ``ray``; ``address`` a Ray cluster's
    (None: a local cluster on this machine)."""

    name: str = "local"
    address: str | None = None

    def __post_init__(self):
        if self.name not in ENGINES:
            raise WsmError(f"unknown engine {self.name!r}: valid engines are {', '.join(ENGINES)} "
                           "(WSM_ENGINE, or --engine)")
        if self.address is not None and self.name != "ray":
            raise WsmError(f"a Ray address ({self.address}) was given but the engine is {self.name!r}: "
                           "use engine 'ray' (--engine ray, or WSM_ENGINE=ray), or drop the address")

    def build_zoo(self, path, cfg: training.ZooConfig, data_root=None, download: bool = False, only_tasks=None,
                  progress: bool = True) -> zoo.Zoo:
        """:func:`wsm.zoos.zoo.build_zoo` (``local``) or :func:`build_zoo` on the cluster (``ray``)."""
        if self.name == "local":
            return zoo.build_zoo(path, cfg, data_root, download, progress=progress, only_tasks=only_tasks)
        return build_zoo(path, cfg, data_root, download, progress=progress, only_tasks=only_tasks,
                         address=self.address)

    def gram(self, weights, depth: int, kind: str = "normalized", center: bool = False, progress: bool = True,
             cache=None, device: str = "cpu", memory_gb: float | None = None, info: dict | None = None):
        """:func:`wsm.maths.chain.gram` (``local``, in ``memory_gb``, default :func:`wsm.maths.chain.memory_budget`:
        a share of the machine's RAM) or the tiled Gram on the cluster (:func:`gram`, tiles of
        ``memory_gb``, default :data:`TILE_GB` of the device); ``info`` gets ``info["cached"]``,
        whether it was read from ``cache``."""
        if self.name == "local":
            return chain.gram(weights, depth, kind, memory_gb, center=center, progress=progress, cache=cache,
                              device=device, info=info)
        return gram(weights, depth, kind, center=center, progress=progress, cache=cache, device=device,
                    memory_gb=memory_gb, address=self.address, info=info)


def resolve(name: str | None = None, address: str | None = None, default: str = "local") -> Engine:
    """The engine to use: ``name`` if given, else ``$WSM_ENGINE``, else ``default`` (a profile's);
    the address likewise from ``address`` or ``$WSM_RAY_ADDRESS`` (used by ``ray`` only)."""
    name = paths.engine(name) or default
    return Engine(name, paths.ray_address(address) if name == "ray" else None)


# ---------------------------------------------------------------- the cluster


def connect(address: str | None = None):
    """Join the Ray cluster at ``address``, or start a local one (once per process); returns ``ray``."""
    try:
        import ray
    except ImportError:
        raise WsmError("the ray engine needs Ray, an optional part of wsm: pip install 'wsm[cluster]' (or ray at "
                       "the version in requirements.txt), or use the local engine (WSM_ENGINE=local)") from None
    if not ray.is_initialized():
        local = {} if address else dict(include_dashboard=False)
        try:
            ray.init(address=address or "local", logging_level="warning", **local)
        except ConnectionError as e:
            raise WsmError(f"cannot reach the Ray cluster at {address} ({e}): start it (ray start --head) or "
                           "correct the address (--address, WSM_RAY_ADDRESS)") from None
    return ray


def resources(cfg: training.ZooConfig, vectorized: bool | None = None) -> dict:
    """The Ray resources of one unit of ``cfg``'s zoo: one CPU, and on CUDA a share of a GPU."""
    if not str(cfg.device).startswith("cuda"):
        return dict(num_cpus=1)
    batched = cfg.arch == "gru2" or zoo.use_vectorized(cfg, vectorized)
    return dict(num_cpus=1, num_gpus=GPU_SHARE_BATCHED if batched else GPU_SHARE_SINGLE)


def _unit_task(path: str, cfg, unit, data_root: str | None, download: bool, vectorized, ttl: float,
               code: str) -> tuple[str, str]:
    """A Ray task: check the node's code, then :func:`wsm.zoos.shards.build_unit` on one thread (and,
    on Linux, die with the node's raylet). Returns (outcome, node id)."""
    import ray

    training.worker_init()
    node = ray.get_runtime_context().get_node_id()
    mine = version.code(version.TRAINING_MODULES)
    if mine != code:
        raise WsmError(f"Ray node {node} ({os.uname().nodename}) runs other wsm training code (version {mine}) "
                       f"than the driver ({code}): install the same wsm on every node")
    return shards.build_unit(path, cfg, unit, data_root, download, vectorized, ttl, wait=True), node


def build_zoo(path, cfg: training.ZooConfig, data_root=None, download: bool = False, progress: bool = True,
              vectorized: bool | None = None, only_tasks=None, address: str | None = None,
              ttl: float = shards.CLAIM_TTL, nodes: dict | None = None) -> zoo.Zoo:
    """Build ``cfg``'s zoo in ``path`` on a Ray cluster: one task per unfinished unit
    (:func:`wsm.zoos.shards.units`), spread over the nodes, retried where a node dies; the same run
    files as one builder. Returns the loaded zoo (:func:`wsm.zoos.zoo.load_zoo`). ``nodes``: a dict
    filled with each unit's name -> the Ray node whose task finished it."""
    path = Path(path).resolve()
    full, cfg = zoo.prepare(path, cfg, only_tasks)
    todo = [u for u in shards.units(cfg, vectorized) if zoo.missing(path, cfg, list(u.pairs))]
    total = len(cfg.tasks) * cfg.runs
    if todo:
        ray = connect(address)
        task = ray.remote(_unit_task).options(max_retries=RETRIES, retry_exceptions=False,
                                              scheduling_strategy="SPREAD", name="wsm-zoo-unit",
                                              **resources(cfg, vectorized))
        root = str(paths.data_root(data_root).resolve())
        code = version.code(version.TRAINING_MODULES)
        pending = {task.remote(str(path), cfg, u, root, download, vectorized, ttl, code): u for u in todo}
        with bar(total=total, initial=total - len(zoo.missing(path, cfg)),
                 desc=f"zoo ({cfg.arch}, {cfg.dataset}) on Ray", disable=not progress) as pbar:
            def done(unit, result):
                pbar.update(len(unit.pairs))
                if nodes is not None:
                    nodes[unit.name] = result[1]

            _drain(ray, pending, done)
    left = zoo.missing(path, cfg)
    if left:
        raise WsmError(f"{len(left)} runs of the zoo in {path} are still missing after every unit ran "
                       f"(first: task {left[0][0]} run {left[0][1]}): build it again")
    return zoo.load_zoo(path, full, only_tasks)


def _drain(ray, pending: dict, done) -> None:
    """Wait for every task of ``pending`` (ref -> what it is), calling ``done(what, result)`` as each
    finishes; a task's error stops the rest and is raised (a WsmError as itself)."""
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            what = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                cause = getattr(e, "cause", None)
                if isinstance(cause, WsmError):
                    raise WsmError(str(cause)) from None
                raise WsmError(f"a Ray task ({what}) failed: {type(cause).__name__}: {cause}") from e
            except ray.exceptions.RayError as e:      # its worker or node died more often than it was retried
                raise WsmError(f"a Ray task ({what}) was lost {RETRIES + 1} times ({type(e).__name__}): check the "
                               "cluster's nodes (ray status), then run again; finished work is kept") from e
            done(what, result)
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=False)
        raise


def gram(nets, depth: int, kind: str = "normalized", block: int | None = None, center: bool = False,
         method: str = "auto", memory_gb: float | None = None, cache=None, device: str = "cpu", progress: bool = True,
         address: str | None = None, info: dict | None = None):
    """:func:`wsm.zoos.tiles.gram` with every tile a Ray task (one CPU; on CUDA a share of a GPU), tiles of
    ``memory_gb`` (default :data:`TILE_GB` of the device). A
    stored zoo's networks travel as their file names and each task reads its two blocks; networks
    in memory are put in the object store once per block."""
    ray = connect(address)
    cuda = str(device).startswith("cuda")
    memory_gb = memory_gb or TILE_GB["cuda" if cuda else "cpu"]
    opts = dict(num_cpus=1, **({"num_gpus": GPU_SHARE_TILE} if cuda else {}))
    task = ray.remote(_tile_task).options(max_retries=RETRIES, retry_exceptions=False, name="wsm-gram-tile", **opts)

    def run_jobs(jobs):
        blocks, refs = {}, {}
        for i, job in enumerate(jobs):
            sides = [_block(ray, blocks, job[f"nets_{s}"], job[s]) for s in ("a", "b")]
            refs[task.remote({k: v for k, v in job.items() if not k.startswith("nets_")}, *sides)] = i
        out = [None] * len(jobs)
        with bar(total=len(jobs), desc=f"Gram {kind} {depth} tiles on Ray", disable=not progress, leave=False) as pbar:
            _drain(ray, refs, lambda i, kab: (out.__setitem__(i, kab), pbar.update()))
        return out

    return tiles.gram(nets, depth, kind, block, center, method, memory_gb, cache, device, run_jobs, progress, info)


def _tile_task(job: dict, nets_a, nets_b):
    """A Ray task: one tile (:func:`wsm.zoos.tiles.run`) of the blocks ``nets_a``, ``nets_b``."""
    return tiles.run(job | dict(nets_a=nets_a, nets_b=nets_b))


def _block(ray, blocks: dict, nets, bounds):
    """A block of networks as a task receives it: a stored zoo's as they are (their file names, each
    task reads them itself), networks in memory put in the object store once per block."""
    if nets is None or all(isinstance(n, zoo.StoredWeights) for n in nets):
        return nets
    if bounds not in blocks:
        blocks[bounds] = ray.put([list(n) for n in nets])
    return blocks[bounds]
