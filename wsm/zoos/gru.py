"""Training GRU-2 weight sets on NameData (Appendix F), many networks at once.

Appendix F: SGD with batch 1 (one name per step), lr 0.1 divided by 10 after 7,000 of 10,000
steps. Each step of a run draws a language of its task uniformly, then one of that language's
training names uniformly (:func:`wsm.zoos.namedata.sample_order`, seeded by the run's seed).

Trained one network at a time, such tiny steps are bound by per-operation overhead (the loop's
rate against the batched one: ``bench/bench_gru.py``, its rows in ``book/benchmarks/``). :func:`train_batched`
trains R networks as one program instead: the weights of all runs are stacked along a leading
run axis, the GRU equations are written with batched matmuls (``torch.baddbmm``), and their
backward pass through time is written out by hand (:class:`_Layer`, no autograd): it gives the
gradient of the *sum* of the runs' losses -- which, as the runs share no weights, is each run's own
gradient -- summing every time step's weight gradients in one batched matmul; a plain SGD step
then updates every run. Names of different lengths in one step are padded to the longest; a run
whose name has ended keeps its hidden state (``torch.where`` on a length mask), so its padding
touches neither its output nor its gradient.

:func:`train_reference` is the one-at-a-time loop (``nets.build`` + ``nn.GRU`` +
``torch.optim.SGD``) that the batched trainer must match (``tests/test_namedata.py``): same seeds,
same initial weights (each run's ``nets.build("gru2")`` under ``torch.manual_seed(seed)``), same
names in the same order, the same weights after training up to float rounding.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from wsm.zoos import namedata, nets, training
from wsm.core.errors import WsmError

KEYS = ("gru.weight_ih_l0", "gru.weight_hh_l0", "gru.bias_ih_l0", "gru.bias_hh_l0",
        "gru.weight_ih_l1", "gru.weight_hh_l1", "gru.bias_ih_l1", "gru.bias_hh_l1", "fc.weight", "fc.bias")


def lr_at(step: int, lr: float, milestones: Sequence[int]) -> float:
    """Learning rate of ``step`` (0-based): divided by 10 at each milestone already passed."""
    return lr * 0.1 ** sum(step >= m for m in milestones)


def initial_state(seed: int, dtype=torch.float32) -> dict[str, torch.Tensor]:
    """``nets.build("gru2", 2)`` under ``torch.manual_seed(seed)``: PyTorch's default initialisation."""
    torch.manual_seed(seed)
    net = nets.build("gru2", 2)
    return {k: v.detach().to(dtype).clone() for k, v in net.state_dict().items()}


# ---------------------------------------------------------------- one at a time (the reference)


def train_reference(seed: int, names: namedata.Encoded, order: torch.Tensor, lr: float,
                    milestones: Sequence[int] = (), dtype=torch.float32) -> tuple[dict, float]:
    """One network, one name per step: ``nn.GRU``, ``torch.optim.SGD`` and ``MultiStepLR``.
    Returns the final state_dict and the mean loss of the last (up to) 100 steps."""
    torch.manual_seed(seed)
    net = nets.build("gru2", 2).to(dtype)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, list(milestones), gamma=0.1)
    losses = []
    for i in order.tolist():
        x = F.one_hot(names.name(i), namedata.N_CHARS).to(dtype).unsqueeze(1)
        loss = F.cross_entropy(net(x), names.labels[i:i + 1])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    tail = losses[-100:] or [float("nan")]
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, sum(tail) / len(tail)


# ---------------------------------------------------------------- many at once


@contextlib.contextmanager
def one_thread():
    """The batched steps are thousands of small ops: extra intra-op threads only add
    synchronisation, and cost several times their gain when another process holds a core."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class _Layer:
    """One GRU layer over time for R runs x B names, with its hand-written backward (BPTT).

    PyTorch's equations, gate order r, z, n: ``r = s(i_r + h_r)``, ``z = s(i_z + h_z)``,
    ``n = tanh(i_n + r * h_n)`` with ``h_* = W_h* h + b_h*``, ``h' = (h - n) * z + n``. After a name's
    end (``mask`` False) the state stays at its last value. The backward sums the weight gradients of
    all time steps in one batched matmul, which is what makes many small networks fast together."""

    def __init__(self, w_hh, b_hh):
        self.w_hh, self.b_hh = w_hh, b_hh                 # (R, 3H, H), (R, 3H)
        self.w_hh_t = w_hh.transpose(1, 2).contiguous()   # (R, H, 3H): forward matvecs read it in order

    def forward(self, gi, mask):
        """``gi``: ``(R, B, L, 3H)`` input projections (bias included); ``mask``: ``(R, B, L)``."""
        r_, b_, length, three_h = gi.shape
        h = gi.new_zeros(r_, b_, three_h // 3)
        self.saved, out = [], []
        for t in range(length):
            gh = torch.baddbmm(self.b_hh.unsqueeze(1), h, self.w_hh_t)
            i_r, i_z, i_n = gi[:, :, t].chunk(3, -1)
            h_r, h_z, h_n = gh.chunk(3, -1)
            reset = torch.sigmoid(i_r + h_r)
            update = torch.sigmoid(i_z + h_z)
            new = torch.tanh(i_n + reset * h_n)
            m = mask[:, :, t, None]
            self.saved.append((h, reset, update, new, h_n, m))
            h = torch.where(m, (h - new) * update + new, h)
            out.append(h)
        return torch.stack(out, 2)

    def backward(self, d_out):
        """``d_out``: gradient of the loss w.r.t. every output state ``(R, B, L, H)``. Returns the
        gradient w.r.t. ``gi`` and those of ``w_hh``, ``b_hh``."""
        dh = torch.zeros_like(d_out[:, :, 0])
        d_gi, d_gh, h_prev = [], [], []
        for t in reversed(range(d_out.shape[2])):
            h, reset, update, new, h_n, m = self.saved[t]
            dh = dh + d_out[:, :, t]
            d_new_h = torch.where(m, dh, 0.0)
            d_update = d_new_h * (h - new) * update * (1 - update)
            d_a_n = d_new_h * (1 - update) * (1 - new * new)
            d_reset = d_a_n * h_n * reset * (1 - reset)
            gh = torch.cat([d_reset, d_update, d_a_n * reset], -1)
            d_gi.append(torch.cat([d_reset, d_update, d_a_n], -1))
            d_gh.append(gh)
            h_prev.append(h)
            dh = torch.where(m, dh * update, dh) + torch.bmm(gh, self.w_hh)
        self.saved = []
        d_gi, d_gh, h_prev = (torch.stack(x[::-1], 2) for x in (d_gi, d_gh, h_prev))
        r_ = d_gh.shape[0]
        flat_gh = d_gh.reshape(r_, -1, d_gh.shape[-1])
        d_w = torch.bmm(flat_gh.transpose(1, 2), h_prev.reshape(r_, -1, h_prev.shape[-1]))
        return d_gi, d_w, flat_gh.sum(1)


def _project0(emb, b_ih, chars):
    """Input projection of layer 1: a one-hot times ``W_ih`` is a row of ``W_ih^T`` (``emb``: (R, 58, 3H))."""
    runs = torch.arange(len(emb), device=chars.device)[:, None, None]
    return emb[runs, chars] + b_ih[:, None, None]


def _forward(p, emb, chars, lengths):
    """Logits ``(R, B, 2)`` and the layers (for :func:`_backward`)."""
    r_, b_, length = chars.shape
    mask = torch.arange(length, device=chars.device) < lengths.unsqueeze(-1)
    l0, l1 = _Layer(p["gru.weight_hh_l0"], p["gru.bias_hh_l0"]), _Layer(p["gru.weight_hh_l1"], p["gru.bias_hh_l1"])
    h1 = l0.forward(_project0(emb, p["gru.bias_ih_l0"], chars), mask)
    gi1 = torch.baddbmm(p["gru.bias_ih_l1"].unsqueeze(1), h1.reshape(r_, b_ * length, -1),
                        p["gru.weight_ih_l1"].transpose(1, 2)).reshape(r_, b_, length, -1)
    h2 = l1.forward(gi1, mask)
    last = h2[:, :, -1]                                   # = the state at each name's own end
    logits = torch.baddbmm(p["fc.bias"].unsqueeze(1), last, p["fc.weight"].transpose(1, 2))
    return logits, (l0, l1, h1, last, mask)


def forward(p: dict[str, torch.Tensor], chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Logits ``(R, B, 2)`` of R stacked GRU-2 networks (``p[k]``: ``(R, *shape)``, the keys of
    ``nets.build("gru2")``) on names ``chars[r, b, :lengths[r, b]]`` (``(R, B, L)`` indices)."""
    emb = p["gru.weight_ih_l0"].transpose(1, 2).contiguous()
    return _forward(p, emb, chars, lengths)[0]


def _backward(p, chars, d_logits, cache):
    """Gradients of every parameter (``gru.weight_ih_l0`` in its transposed (R, 58, 3H) layout)."""
    l0, l1, h1, last, mask = cache
    r_, b_, length = chars.shape
    g = {"fc.weight": torch.bmm(d_logits.transpose(1, 2), last), "fc.bias": d_logits.sum(1)}
    d_h2 = torch.zeros(r_, b_, length, last.shape[-1], dtype=last.dtype, device=last.device)
    d_h2[:, :, -1] = torch.bmm(d_logits, p["fc.weight"])
    d_gi1, g["gru.weight_hh_l1"], g["gru.bias_hh_l1"] = l1.backward(d_h2)
    flat = d_gi1.reshape(r_, b_ * length, -1)
    g["gru.weight_ih_l1"] = torch.bmm(flat.transpose(1, 2), h1.reshape(r_, b_ * length, -1))
    g["gru.bias_ih_l1"] = flat.sum(1)
    d_h1 = torch.bmm(flat, p["gru.weight_ih_l1"]).reshape(r_, b_, length, -1)
    d_gi0, g["gru.weight_hh_l0"], g["gru.bias_hh_l0"] = l0.backward(d_h1)
    g["gru.bias_ih_l0"] = d_gi0.sum((1, 2))
    rows = (torch.arange(r_, device=chars.device)[:, None, None] * namedata.N_CHARS + chars).reshape(-1)
    d_emb = torch.zeros(r_ * namedata.N_CHARS, d_gi0.shape[-1], dtype=d_gi0.dtype, device=d_gi0.device)
    g["gru.weight_ih_l0"] = d_emb.index_add_(0, rows, d_gi0.reshape(-1, d_gi0.shape[-1])).view(r_, namedata.N_CHARS, -1)
    return g


def train_batched(seeds: Sequence[int], names: namedata.Encoded, orders: torch.Tensor, lr: float,
                  milestones: Sequence[int] = (), dtype=torch.float32, device="cpu",
                  progress: bool = False) -> tuple[list[dict], list[float]]:
    """R networks at once; run r starts from :func:`initial_state` ``(seeds[r])`` and at step s
    trains on name ``orders[r, s]`` of ``names`` (one name per step, cross-entropy, plain SGD).
    Returns R state_dicts and R final losses (mean of the last up to 100 steps), as
    :func:`train_reference` would one at a time."""
    from wsm.core.progress import bar

    orders = torch.as_tensor(orders)
    if orders.dim() != 2 or len(orders) != len(seeds):
        raise WsmError(f"orders must be (runs, steps) with one row per seed; got {tuple(orders.shape)} "
                       f"for {len(seeds)} seeds")
    inits = [initial_state(s, dtype) for s in seeds]
    p = {k: torch.stack([s[k] for s in inits]).to(device) for k in KEYS}
    p["gru.weight_ih_l0"] = p["gru.weight_ih_l0"].transpose(1, 2).contiguous()   # kept as (R, 58, 3H)
    chars, lengths, labels = names.chars.to(device), names.lengths.to(device), names.labels.to(device)
    orders = orders.to(device)
    steps = orders.shape[1]
    n_tail = min(100, steps)
    tail = torch.zeros(len(seeds), dtype=torch.float64, device=device)
    with torch.no_grad(), one_thread():
        for s in bar(range(steps), desc="GRU-2 steps", disable=not progress, leave=False):
            idx = orders[:, s]
            length = int(lengths[idx].max())
            batch_chars = chars[idx, :length].unsqueeze(1)
            logits, cache = _forward(p, p["gru.weight_ih_l0"], batch_chars, lengths[idx].unsqueeze(1))
            log_p = torch.log_softmax(logits, -1)
            y = labels[idx].view(-1, 1, 1)
            d_logits = log_p.exp() - F.one_hot(labels[idx], 2).to(dtype).unsqueeze(1)
            grads = _backward(p, batch_chars, d_logits, cache)
            step_lr = lr_at(s, lr, milestones)
            for k in KEYS:
                p[k].add_(grads[k], alpha=-step_lr)
            if s >= steps - n_tail:
                tail -= log_p.gather(-1, y).view(-1).double()
    p["gru.weight_ih_l0"] = p["gru.weight_ih_l0"].transpose(1, 2)
    states = [{k: p[k][r].cpu().contiguous().clone() for k in KEYS} for r in range(len(seeds))]
    return states, (tail / max(n_tail, 1)).tolist()


def accuracy(states: Sequence[dict], names: namedata.Encoded, batch: int = 256) -> list[float]:
    """Top-1 accuracy of each network on every name of ``names``."""
    p = {k: torch.stack([s[k] for s in states]) for k in KEYS}
    correct = torch.zeros(len(states))
    by_length = torch.argsort(names.lengths, stable=True)          # little padding per batch
    with torch.no_grad(), one_thread():
        for a in range(0, len(names), batch):
            sl = by_length[a:a + batch]
            length = int(names.lengths[sl].max())
            r_ = len(states)
            chars = names.chars[sl, :length].expand(r_, -1, -1)
            logits = forward(p, chars, names.lengths[sl].expand(r_, -1))
            correct += (logits.argmax(-1) == names.labels[sl]).sum(1)
    return (correct / len(names)).tolist()


# ---------------------------------------------------------------- zoo runs


def eval_names(task: namedata.NameTask, per_language: int) -> tuple[namedata.Encoded, namedata.Encoded]:
    """The names accuracy is measured on: the first ``per_language`` of each language's (already
    shuffled) train and test halves -- a fixed subset, so that evaluating is cheap."""
    return (namedata.encode_all([g[:per_language] for g in task.train]),
            namedata.encode_all([g[:per_language] for g in task.test]))


CHUNK = 32   # GRU-2 runs trained as one batched program (the rate against R: bench_gru rows, book/benchmarks/)


def train_runs(cfg, todo: Sequence[tuple[int, int]], data_root=None, chunk: int = CHUNK,
               eval_per_language: int = 100, progress: bool = True, workers: int = 1):
    """Train the runs ``todo`` = [(task, run), ...] of a GRU-2 zoo, ``chunk`` networks at a time
    (runs of different tasks share a chunk); yields each :class:`wsm.zoos.training.Run` as its chunk ends.

    With ``workers > 1`` that many spawned one-thread processes train chunks side by side (each
    chunk already runs on one thread, so two cores train two chunks); chunks are the same either way.

    The same ``todo`` gives bit-identical weights; a run retrained in another chunk (after an
    interrupted build) agrees to float rounding only, as matmuls of other shapes round differently."""
    parts = [list(todo[a:a + chunk]) for a in range(0, len(todo), chunk)]
    if workers <= 1 or len(parts) <= 1:
        for part in parts:
            yield from _train_chunk(cfg, part, data_root, eval_per_language, progress)
        return
    from concurrent.futures import as_completed

    with training.process_pool(min(workers, len(parts))) as pool:
        futures = [pool.submit(_train_chunk, cfg, part, data_root, eval_per_language, False) for part in parts]
        try:
            for f in as_completed(futures):
                yield from f.result()       # a worker's error is raised here, with its own message
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _train_chunk(cfg, part, data_root, eval_per_language: int, progress: bool) -> list:
    """The :class:`wsm.zoos.training.Run` of every ``(task, run)`` of ``part``, trained as one batched program."""
    t0 = time.time()
    tasks = {t: namedata.load_task(t, data_root) for t in sorted({t for t, _ in part})}
    tables = {t: namedata.encode_all(tk.train) for t, tk in tasks.items()}
    # one table of every training name of the chunk's tasks; a run's order indexes its task's rows
    chunk_tasks = sorted(tasks)
    offsets, acc = {}, 0
    for t in chunk_tasks:
        offsets[t], acc = acc, acc + len(tables[t])
    lmax = max(tables[t].chars.shape[1] for t in chunk_tasks)
    table = namedata.Encoded(
        torch.cat([F.pad(tables[t].chars, (0, lmax - tables[t].chars.shape[1])) for t in chunk_tasks]),
        torch.cat([tables[t].lengths for t in chunk_tasks]), torch.cat([tables[t].labels for t in chunk_tasks]))
    seeds = [cfg.seed_of(t, r) for t, r in part]
    orders = torch.stack([offsets[t] + namedata.sample_order(s, [len(g) for g in tasks[t].train], cfg.epochs)
                          for (t, _), s in zip(part, seeds)])
    states, losses = train_batched(seeds, table, orders, cfg.lr, cfg.milestones, device=cfg.device,
                                   progress=progress)
    seconds = (time.time() - t0) / len(part)
    accs = {}
    for t in chunk_tasks:
        evals = eval_names(tasks[t], eval_per_language)
        mine = [i for i, (tt, _) in enumerate(part) if tt == t]
        train_acc = accuracy([states[i] for i in mine], evals[0])
        test_acc = accuracy([states[i] for i in mine], evals[1])
        accs.update({i: (a_, b_) for i, a_, b_ in zip(mine, train_acc, test_acc)})
    return [training.Run(task=t, run=r, seed=s, classes=tasks[t].classes, train_acc=accs[i][0], test_acc=accs[i][1],
                final_loss=losses[i], seconds=seconds, state_dict=states[i], device=str(cfg.device))
            for i, ((t, r), s) in enumerate(zip(part, seeds))]
