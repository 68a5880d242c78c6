"""Data-parallel training over MPI: what one more rank buys, and what the all-reduce costs.

    mpiexec -n 1 python benchmarks/distributed.py --out DIR [--quick]   # one measurement run
    mpiexec -n 2 python benchmarks/distributed.py --out DIR [--quick]
    python benchmarks/distributed.py --all --out DIR [--quick]          # the whole benchmark

``minigrad.distributed.DataParallel`` runs one model replica per process and averages the
gradients with ``MPI.Allreduce`` after every backward (docs/distributed.md). Four questions:

1. **Training step, 1 vs 2 ranks.** The char-level LSTM of examples/text_generation.py
   (Embedding 65 -> 64, one LSTM layer of 256, Linear 256 -> 65; ids (T=64, B) time-major,
   mean next-character cross-entropy, Adam), numba backend, float32, a global batch of 64
   split over the R ranks (64/R each). A step is forward + backward + ``sync_gradients()``
   + Adam's step; each phase is timed on every rank. Reported: median ms per step (the
   slowest rank's, since the all-reduce makes every rank wait for it), sequences/s, the
   speedup and parallel efficiency (speedup / R) at R=2, and the share of the step spent
   in ``sync_gradients()``. That share includes the time a rank waits in the all-reduce
   for the other to finish its backward, so (3) also times the sync alone.
2. **All-reduce vs message size.** ``comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)`` on
   float32 buffers of 1 KiB .. 64 MiB (powers of 4), each call timed on its own, the
   median over many calls, at R=2; fitted to ``t = a + n*b`` (``fit_alpha_beta``).
3. **Bucketed vs per-parameter sync.** ``sync_gradients()`` with ``bucket_mb=25`` (a few
   large calls) against ``bucket_mb=0`` (one call per parameter) for models from a
   small LSTM to ones made of many small parameters, at R=2, calls interleaved.
4. **Ring all-reduce at 8..64 nodes** (``ring_allreduce_seconds``): the measured a, b and
   assumed network numbers, against the measured compute time of a step at a per-rank
   batch of 32 (weak scaling), as a parallel efficiency.

The machine is shared, so every run also records how much CPU *other* processes used
meanwhile (``OtherLoad``); the medians use only the measurements where that stayed under
``QUIET_CORES`` (``quiet``), and the table of all runs shows what was left out.

Each rank runs one thread (OpenMP, OpenBLAS, numba): R ranks then use R of this
machine's two cores, so R=2 against R=1 is the speedup of data parallelism alone, not
mixed with that of threads (which would compete with the second rank for the same two
cores). ``--all`` sets that in the environment of every ``mpiexec`` it starts, and runs
R=1 and R=2 in turns (1 2, 2 1, 1 2, ...), so that a slow spell of the machine falls on both.

``--all`` writes DIR/distributed.json (every run's numbers and the summary) and
DIR/distributed.md (the tables); each run also leaves DIR/runs/<tag>.json. For
benchmarks, unset ``OPENBLAS_CORETYPE`` / ``OPENBLAS_L2_SIZE`` in the command.
"""
import argparse
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

# One thread per rank (see above). Run as a script, also by hand under mpiexec, this is set before
# numpy and numba read it (a value already in the environment wins); imported, nothing is changed.
THREAD_ENV = dict(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1", MINIGRAD_QUIET_COMPILE="1")
if __name__ == "__main__":
    for _name, _value in THREAD_ENV.items():
        os.environ.setdefault(_name, _value)

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as a script: minigrad, rnn and benchmarks must be importable
    sys.path.insert(0, ROOT)

# The char-LSTM and its step (1). ``weak_batch`` is the per-rank batch of the weak-scaling estimate (4).
MODEL = dict(vocab=65, embed=64, hidden=256, seq=64, batch=64, lr=2e-3, steps=50, warmup=3, weak_batch=32)
QUICK_MODEL = dict(vocab=65, embed=8, hidden=16, seq=8, batch=4, lr=1e-2, steps=2, warmup=1, weak_batch=2)

ALLREDUCE_SIZES = [1024 * 4 ** k for k in range(9)]  # bytes: 1 KiB, 4 KiB, ..., 64 MiB
QUICK_ALLREDUCE_SIZES = ALLREDUCE_SIZES[:4]          # up to 64 KiB
SYNC_REPS, QUICK_SYNC_REPS = 40, 3

RING_NODES = (8, 16, 32, 64)
# Assumed, not measured: typical published figures for a cluster's network, as (alpha low, alpha high) in
# seconds per message and beta in seconds per byte (the inverse of the link bandwidth).
NETWORKS = {
    "10 GbE (TCP)": dict(alpha=(10e-6, 50e-6), beta=1 / 1.25e9),
    "100 Gb InfiniBand": dict(alpha=(1e-6, 2e-6), beta=1 / 12e9),
}
QUIET_CORES = 0.1  # other processes' CPU use (in cores) under which a measurement counts as undisturbed


# ------------------------------------------------------------------ the ring model (no MPI needed)
def ring_allreduce_seconds(n_nodes, nbytes, alpha, beta):
    """Time of a ring all-reduce of ``nbytes`` over ``n_nodes`` nodes (the bandwidth-optimal algorithm).

    The buffer is cut into N chunks; N-1 steps of reduce-scatter and N-1 of all-gather each
    send one chunk (n/N bytes) to the next node, so every node sends 2(N-1)/N * n bytes in
    2(N-1) messages::

        t_ring(N, n) = 2(N-1) * alpha + 2(N-1)/N * n * beta

    ``alpha``: seconds per message (latency), ``beta``: seconds per byte (1 / bandwidth).
    One node needs no communication (0 s).
    """
    if n_nodes <= 1:
        return 0.0
    return 2 * (n_nodes - 1) * alpha + 2 * (n_nodes - 1) / n_nodes * nbytes * beta


def fit_alpha_beta(nbytes, seconds):
    """Fit ``t = a + n*b`` to all-reduce times of log-spaced sizes: (a seconds, b seconds/byte).

    Least squares on the *relative* error, minimising sum_i ((a + b n_i - t_i) / t_i)^2.
    Plain least squares on t would be decided by the largest sizes alone (a 64 MiB call
    takes ~10^4 times as long as a 1 KiB one, so its residual dwarfs the others) and
    leaves a meaningless, often negative, a. Dividing every row by t_i gives each size the
    same say, so the small sizes fix a and the large ones fix b.
    """
    n, t = np.asarray(nbytes, float), np.asarray(seconds, float)
    design = np.stack([1 / t, n / t], axis=1)  # rows (1/t_i, n_i/t_i) . (a, b) ~= 1
    (a, b), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    return float(a), float(b)


def two_end_alpha_beta(nbytes, seconds):
    """The same line read off the two ends: b = the slope between the two largest sizes, a = the
    smallest size's time less its n*b (almost all of it). A cross-check of ``fit_alpha_beta``."""
    n, t = np.asarray(nbytes, float), np.asarray(seconds, float)
    b = (t[-1] - t[-2]) / (n[-1] - n[-2])
    return float(t[0] - n[0] * b), float(b)


def link_alpha_beta(a, b):
    """Per-message alpha and per-byte beta of the ring model from a fit ``t = a + n*b`` at 2 ranks.

    At N = 2 the ring model reads t_ring(2, n) = 2*alpha + n*beta: two messages (one
    reduce-scatter and one all-gather step) of n/2 bytes each. So alpha = a/2, beta = b.
    """
    return a / 2, b


# ------------------------------------------------------------------ models
def char_lstm(m):
    """The char-LSTM of examples/text_generation.py (one layer): ids (T, B) -> logits (T, B, V)."""
    import rnn
    from minigrad import nn

    class CharLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(m["vocab"], m["embed"])
            self.lstm = rnn.LSTM(m["embed"], m["hidden"])  # time-major (T, B, E)
            self.head = nn.Linear(m["hidden"], m["vocab"])

        def forward(self, ids):
            out, _ = self.lstm(self.embed(ids))
            return self.head(out)
    return CharLSTM()


def sync_models(quick):
    """(name, build) for (3): LSTMs of growing size, then models made of many small parameters."""
    import rnn
    from minigrad import nn

    def lstm(hidden):
        return lambda: char_lstm(dict(MODEL, hidden=hidden))

    def stacked_gru(layers, hidden):
        return lambda: nn.Sequential(rnn.GRU(64, hidden, num_layers=layers), nn.Linear(hidden, 65))

    def deep_mlp(layers, width):
        return lambda: nn.Sequential(*[nn.Linear(width, width) for _ in range(layers)])
    if quick:
        return [("LSTM h16", lstm(16)), ("GRU 2x8 + Linear", stacked_gru(2, 8))]
    return [("LSTM h32", lstm(32)), ("LSTM h128", lstm(128)), ("LSTM h512", lstm(512)),
            ("GRU 4x64 + Linear", stacked_gru(4, 64)), ("MLP 32x Linear(64, 64)", deep_mlp(32, 64))]


def n_params(module):
    return int(sum(p.size for p in module.parameters()))


# ------------------------------------------------------------------ measurements (each rank runs these)
def _cpu_seconds():
    """(busy, steal): CPU seconds all processes here have used since boot, and seconds the
    hypervisor gave this virtual machine's CPUs to someone else (/proc/stat); None if unknown."""
    try:
        with open("/proc/stat") as f:
            user, nice, system, idle, iowait, irq, softirq, steal = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


class OtherLoad:
    """How busy *other* processes kept the machine while a block ran, in cores (every rank enters).

    The machine's CPU time (/proc/stat) over the block, less what this job's ranks used
    (``time.process_time`` summed over the ranks), per second of the block: 0 is an idle
    machine, 1 another process taking a whole core. Two ranks on two cores have no core
    to spare, so even a fraction of a core taken by someone else slows a 2-rank step,
    while a 1-rank run hardly notices. (The load average cannot tell: it counts the job's
    own ranks and lags by a minute.) ``steal``: the same for the time the hypervisor gave
    this virtual machine's CPUs to other machines. Both stay None for a block under 0.5 s:
    /proc/stat counts in ticks of 10 ms, too coarse to tell.
    """

    def __init__(self, comm):
        self.comm, self.cores, self.steal = comm, None, None

    def __enter__(self):
        self.comm.Barrier()
        self._machine, self._own, self._start = _cpu_seconds(), time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self._start
        own = self.comm.allreduce(time.process_time() - self._own)  # every rank's CPU seconds, summed
        machine = _cpu_seconds()
        if self._machine is not None and machine is not None and wall > 0.5:  # shorter: below the ticks' resolution
            self.cores = max(0.0, (machine[0] - self._machine[0]) - own) / wall
            self.steal = (machine[1] - self._machine[1]) / wall
        return False


def _gather_max(comm, seconds):
    """Per-rep times (reps,) of every rank -> the slowest rank's time of each rep (on rank 0; None elsewhere).

    A collective finishes on all ranks together, so the slowest rank's clock is the one
    that says how long the call held the job up."""
    every = comm.gather(np.asarray(seconds, float), root=0)
    return None if every is None else np.max(np.stack(every), axis=0)


def measure_training_step(comm, m, per_rank_batch, overlap=None):
    """Time ``m["steps"]`` training steps of the char-LSTM at ``per_rank_batch`` sequences per rank.

    Every rank takes its own columns of one fixed global batch (T, R*b) of random
    characters. Phases per step: ``fwd_bwd`` (zero_grad, forward, loss, backward), ``sync``
    (``sync_gradients()``, including any wait for the other rank) and ``adam``. Returns
    (rank 0; None elsewhere) a dict of medians over the steps, in seconds: ``step`` is the
    slowest rank's whole step, the phases are averaged over the ranks.
    """
    import minigrad as mg
    import minigrad.distributed as dist
    from minigrad import optim
    R, r = comm.Get_size(), comm.Get_rank()
    mg.manual_seed(0)
    kwargs = {} if overlap is None else dict(overlap=overlap)
    model = dist.DataParallel(char_lstm(m), bucket_mb=25, **kwargs)  # rank 0's weights on every rank
    opt = optim.Adam(model.parameters(), lr=m["lr"])
    rng = np.random.default_rng(0)
    ids = rng.integers(0, m["vocab"], (m["seq"] + 1, R * per_rank_batch))
    shard = ids[:, r * per_rank_batch:(r + 1) * per_rank_batch]
    x, y = mg.tensor(shard[:-1]), mg.tensor(shard[1:])  # (T, b) ids and their next characters

    phases = {"fwd_bwd": [], "sync": [], "adam": [], "step": []}
    with OtherLoad(comm) as others:
        _train(model, opt, x, y, m, phases)
    gathered = {name: comm.gather(np.asarray(v), root=0) for name, v in phases.items()}
    if r != 0:
        return None
    out = {name: float(np.median(np.mean(np.stack(v), axis=0))) for name, v in gathered.items() if name != "step"}
    out["step"] = float(np.median(np.max(np.stack(gathered["step"]), axis=0)))
    out.update(world_size=R, per_rank_batch=per_rank_batch, global_batch=R * per_rank_batch,
               params=n_params(model), buckets=len(model.buckets), overlap=overlap,
               other_cores=others.cores, steal_cores=others.steal)
    return out


def _train(model, opt, x, y, m, phases):
    """``m["warmup"]`` untimed steps, then ``m["steps"]`` timed ones: each phase's seconds appended to ``phases``."""
    import minigrad as mg
    for k in range(m["warmup"] + m["steps"]):
        t0 = time.perf_counter()
        opt.zero_grad()
        logits = model(x)
        loss = mg.cross_entropy(logits.reshape(-1, m["vocab"]), y.reshape(-1))
        loss.backward()
        t1 = time.perf_counter()
        model.sync_gradients()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if k >= m["warmup"]:  # the first steps load the kernels and grow the allocator's pools
            for name, s in (("fwd_bwd", t1 - t0), ("sync", t2 - t1), ("adam", t3 - t2), ("step", t3 - t0)):
                phases[name].append(s)


def _allreduce_reps(nbytes, quick):
    """How many calls to time at one size: 2000 of the small ones, fewer of the large (<~0.6 s a size)."""
    if quick:
        return 5
    return int(min(2000, max(20, 2 ** 30 // nbytes // 16)))


def measure_allreduce(comm, sizes, quick=False):
    """Median time of ``comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)`` for float32 ``buf`` of each size.

    Each call is timed on its own (the ranks stay in step: a call cannot finish on one rank
    before the other has entered it); one untimed call first touches the pages and sets up
    MPICH's buffers. Returns (rank 0) [{bytes, reps, median_s, q1_s, q3_s}], the slowest
    rank's time of each call.
    """
    from mpi4py import MPI
    rows = []
    with OtherLoad(comm) as others:  # over the whole sweep: /proc/stat counts in 10 ms ticks
        for nbytes in sizes:
            buf = np.zeros(nbytes // 4, np.float32)  # zeros: sums that never overflow, never go denormal
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            reps = _allreduce_reps(nbytes, quick)
            times = np.empty(reps)
            comm.Barrier()
            for i in range(reps):
                t0 = time.perf_counter()
                comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
                times[i] = time.perf_counter() - t0
            slowest = _gather_max(comm, times)
            if slowest is not None:
                q1, med, q3 = np.percentile(slowest, [25, 50, 75])
                rows.append(dict(bytes=nbytes, reps=reps, median_s=float(med), q1_s=float(q1), q3_s=float(q3)))
    for row in rows:
        row["other_cores"] = others.cores
    return rows if comm.Get_rank() == 0 else None


def measure_sync(comm, quick):
    """``sync_gradients()`` with bucket_mb=25 vs bucket_mb=0 on each model of ``sync_models``.

    Returns (rank 0) [{model, params, tensors, bucket_mb, calls, median_s, ...}], two rows
    per model; ``other_cores`` is measured over all the models together (/proc/stat counts
    in 10 ms ticks, too coarse for one model's fraction of a second).
    """
    rows = []
    with OtherLoad(comm) as others:
        for name, build in sync_models(quick):
            rows += _time_sync(comm, name, build, QUICK_SYNC_REPS if quick else SYNC_REPS)
    for row in rows:
        row["other_cores"] = others.cores
    return rows if comm.Get_rank() == 0 else None


def _time_sync(comm, name, build, reps):
    """Time ``reps`` calls of each wrapper of one model (rows on rank 0, [] elsewhere).

    Both wrappers hold the same module; every parameter gets a random gradient once (the
    sync replaces ``.grad`` with the average, which is as good an input for the next call).
    The two take turns call by call, after a barrier, so the time is the sync's alone (no
    wait for a slower backward).
    """
    import minigrad as mg
    import minigrad.distributed as dist
    mg.manual_seed(0)
    module = build()
    rng = np.random.default_rng(comm.Get_rank())
    for p in module.parameters():
        p.grad = mg.tensor(rng.standard_normal(p.shape), dtype=p.dtype)
    wrappers = {mb: dist.DataParallel(module, bucket_mb=mb) for mb in (25, 0)}
    times = {mb: np.empty(reps) for mb in wrappers}
    for dp in wrappers.values():
        dp.sync_gradients()  # untimed: first touch of the buffers
    comm.Barrier()
    for i in range(reps):
        for mb, dp in wrappers.items():
            t0 = time.perf_counter()
            dp.sync_gradients()
            times[mb][i] = time.perf_counter() - t0
    rows = []
    for mb, dp in wrappers.items():
        slowest = _gather_max(comm, times[mb])
        if slowest is not None:
            rows.append(dict(model=name, params=n_params(module), bytes=4 * n_params(module),
                             tensors=len(list(module.parameters())), bucket_mb=mb, calls=len(dp.buckets),
                             reps=reps, median_s=float(np.median(slowest))))
    return rows


def worker(args):
    """One measurement run under ``mpiexec -n R``: rank 0 writes DIR/runs/<tag>.json."""
    import minigrad as mg
    import minigrad.distributed as dist
    mg.set_backend("numba")
    rank, R = dist.init()
    comm = dist.comm()
    m = QUICK_MODEL if args.quick else MODEL
    start = time.perf_counter()
    load_before = os.getloadavg()
    result = dict(world_size=R, quick=args.quick, tag=args.tag, model=m, steps=[])

    # (1) the global batch split over the ranks; at R=1 also the weak-scaling batch, for (4)
    result["steps"].append(measure_training_step(comm, m, m["batch"] // R))
    if R == 1:
        result["steps"].append(measure_training_step(comm, m, m["weak_batch"]))
    if R > 1 and "overlap" in inspect.signature(dist.DataParallel).parameters:
        result["steps"].append(measure_training_step(comm, m, m["batch"] // R, overlap=True))
    # (2) and (3) compare ranks: run at R=2 (in --quick at any R, to exercise the code)
    if R > 1 or args.quick:
        result["allreduce"] = measure_allreduce(comm, QUICK_ALLREDUCE_SIZES if args.quick else ALLREDUCE_SIZES,
                                                args.quick)
        result["sync"] = measure_sync(comm, args.quick)
    if rank == 0:
        result.update(seconds=time.perf_counter() - start, loadavg_before=load_before, loadavg_after=os.getloadavg())
        os.makedirs(os.path.join(args.out, "runs"), exist_ok=True)
        path = os.path.join(args.out, "runs", f"{args.tag or f'r{R}'}.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=1)
        s = result["steps"][0]
        print(f"R={R}: {1e3 * s['step']:.1f} ms/step at {s['per_rank_batch']} sequences per rank "
              f"(sync {1e3 * s['sync']:.2f} ms), {result['seconds']:.0f} s -> {path}", flush=True)


# ------------------------------------------------------------------ the driver (--all)
def find_mpiexec():
    """.venv/bin/mpiexec, else the mpiexec next to this Python (pip's mpich puts it there), else PATH's."""
    for path in (os.path.join(ROOT, ".venv", "bin", "mpiexec"),
                 os.path.join(os.path.dirname(sys.executable), "mpiexec")):
        if os.path.exists(path):
            return path
    return shutil.which("mpiexec")


def _children_cpu_seconds():
    import resource
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def launch(mpiexec, R, out, tag, quick):
    """Run this script under ``mpiexec -n R`` with one thread per rank; the run's JSON.

    Also measures how busy *other* processes kept the machine meanwhile: the machine's CPU
    time (/proc/stat) less the run's own (its ranks are this process's children), per
    second of the run. 0 is an idle machine; 1 is another process taking a whole core,
    which a 2-rank run on 2 cores cannot absorb. The load average cannot tell this: it
    counts the run's own ranks too, and lags by a minute. ``steal_cores``: the same for
    time the hypervisor ran other virtual machines on this one's CPUs.
    """
    env = dict(os.environ, **THREAD_ENV)
    cmd = [mpiexec, "-n", str(R), sys.executable, os.path.abspath(__file__), "--out", out, "--tag", tag]
    before, own, start = _cpu_seconds(), _children_cpu_seconds(), time.perf_counter()
    subprocess.run(cmd + (["--quick"] if quick else []), env=env, check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    with open(os.path.join(out, "runs", f"{tag}.json")) as f:
        run = json.load(f)
    if before is not None:
        after = _cpu_seconds()
        others = (after[0] - before[0]) - (_children_cpu_seconds() - own)
        run["other_cores"] = max(0.0, others) / wall
        run["steal_cores"] = (after[1] - before[1]) / wall
    run["wall_s"] = wall
    return run


def _median(xs):
    return float(statistics.median(xs))


def quiet(rows):
    """The measurements during which other processes used under ``QUIET_CORES`` (all of them if none did).

    Two ranks on two cores have no core to spare: another process taking even part of one
    slows a 2-rank step (up to ~2x), while a 1-rank run hardly notices. Such measurements
    time the other process, not this code, so the medians leave them out; the table of
    runs lists them all.
    """
    calm = [r for r in rows if (r.get("other_cores") or 0.0) < QUIET_CORES]
    return calm or rows


def summarize(runs):
    """Every run's numbers -> medians over the quiet measurements, the speedup, the fit and the ring estimates."""
    m = runs[0]["model"]

    def step_stats(R, batch, overlap=None):
        every = [s for run in runs if run["world_size"] == R for s in run["steps"]
                 if s["per_rank_batch"] == batch and s.get("overlap") == overlap]
        rows = quiet(every)
        if not rows:
            return None
        out = {k: _median([s[k] for s in rows]) for k in ("step", "fwd_bwd", "sync", "adam")}
        out.update(rounds=len(rows), of=len(every), step_min=min(s["step"] for s in rows),
                   step_max=max(s["step"] for s in rows), global_batch=rows[0]["global_batch"],
                   per_rank_batch=batch, params=rows[0]["params"], buckets=rows[0]["buckets"])
        out["seq_per_s"] = out["global_batch"] / out["step"]
        out["sync_share"] = out["sync"] / out["step"]
        return out
    summary = dict(model=m, runs=[{k: run.get(k) for k in ("tag", "world_size", "steps", "other_cores", "steal_cores",
                                                           "loadavg_before")} for run in runs],
                   one=step_stats(1, m["batch"]), two=step_stats(2, m["batch"] // 2),
                   two_overlap=step_stats(2, m["batch"] // 2, overlap=True),
                   weak_one=step_stats(1, m["weak_batch"]))
    if summary["one"] and summary["two"]:
        summary["speedup"] = summary["one"]["step"] / summary["two"]["step"]
        summary["efficiency"] = summary["speedup"] / 2

    with_ar = [run for run in runs if run.get("allreduce")]
    if with_ar:
        summary["allreduce"] = []
        for i, row in enumerate(with_ar[0]["allreduce"]):
            used = quiet([run["allreduce"][i] for run in with_ar])
            summary["allreduce"].append(dict(bytes=row["bytes"], median_s=_median([u["median_s"] for u in used]),
                                             rounds=len(used), of=len(with_ar)))
        sizes, med = [r["bytes"] for r in summary["allreduce"]], [r["median_s"] for r in summary["allreduce"]]
        a, b = fit_alpha_beta(sizes, med)
        a2, b2 = two_end_alpha_beta(sizes, med)
        for r in summary["allreduce"]:
            r["fit_s"] = a + b * r["bytes"]
        summary["fit"] = dict(a=a, b=b, a_two_end=a2, b_two_end=b2)
        summary["sync"] = []
        for i, row in enumerate(with_ar[0]["sync"]):
            used = quiet([run["sync"][i] for run in with_ar])
            row = dict(row, median_s=_median([u["median_s"] for u in used]), rounds=len(used), of=len(with_ar))
            row["alpha_beta_s"] = row["calls"] * a + row["bytes"] * b  # the MPI calls alone, by the fit
            summary["sync"].append(row)
        summary["ring"] = ring_table(summary, a, b)
    return summary


def ring_table(summary, a, b):
    """(4): t_ring for the char-LSTM's gradient at N nodes, and the weak-scaling efficiency
    compute / (compute + t_ring), with sync_gradients() after backward (no overlap)."""
    weak = summary["weak_one"] or summary["one"]
    compute = weak["fwd_bwd"] + weak["adam"]  # one rank at the per-rank batch, uncontended
    nbytes = 4 * weak["params"]
    alpha, beta = link_alpha_beta(a, b)
    networks = {"measured (shared memory, this machine)": dict(alpha=(alpha, alpha), beta=beta), **NETWORKS}
    rows = []
    for net, p in networks.items():
        for N in RING_NODES:
            t = [ring_allreduce_seconds(N, nbytes, al, p["beta"]) for al in p["alpha"]]
            rows.append(dict(network=net, nodes=N, alpha=p["alpha"], beta=p["beta"], bytes=nbytes, ring_s=t,
                             compute_s=compute, efficiency=[compute / (compute + x) for x in t]))
    return dict(compute_s=compute, per_rank_batch=weak["per_rank_batch"], bytes=nbytes, alpha=alpha, beta=beta,
                rows=rows)


def _ms(s):
    return f"{1e3 * s:.3g}" if s < 1e-2 else f"{1e3 * s:.1f}"


def _us(s):
    return f"{1e6 * s:.3g}" if s < 1e-3 else f"{1e6 * s:,.0f}"


def _size(n):
    return f"{n // 2 ** 20} MiB" if n >= 2 ** 20 else f"{n // 1024} KiB"


def _table(headers, rows):
    rule = "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"
    lines = ["| " + " | ".join(headers) + " |", rule]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def markdown(summary):
    """The tables of (1)-(4) as markdown."""
    m, out = summary["model"], []
    out.append(f"**1. Training step** (Embedding {m['vocab']} -> {m['embed']}, LSTM {m['hidden']}, Linear, "
               f"T={m['seq']}, Adam; global batch {m['batch']}; median over the quiet runs (other load < "
               f"{QUIET_CORES} cores) of each run's median step, min-max in brackets; 'runs': quiet / all)\n")
    rows = []
    for label, s in (("1 rank", summary["one"]), ("2 ranks", summary["two"]),
                     ("2 ranks, overlap=True", summary["two_overlap"]),
                     (f"1 rank, batch {m['weak_batch']} (for 4)", summary["weak_one"])):
        if s:
            rows.append([label, s["per_rank_batch"], f"{s['rounds']}/{s['of']}",
                         f"{_ms(s['step'])} [{_ms(s['step_min'])}-{_ms(s['step_max'])}]",
                         _ms(s["fwd_bwd"]), _ms(s["sync"]), _ms(s["adam"]), f"{s['seq_per_s']:.0f}",
                         f"{100 * s['sync_share']:.1f}%"])
    out.append(_table(["ranks", "batch/rank", "runs", "step ms", "fwd+bwd ms", "sync ms", "Adam ms", "sequences/s",
                       "sync share"], rows))
    out.append("\nEvery run, in the order run. 'other load': CPU time of other processes, in cores, while the "
               "step above was timed / over the whole run; 'steal': time the hypervisor gave this VM's CPUs to "
               "other machines, in cores, over the whole run.\n")

    def cores(x):
        return "-" if x is None else f"{x:.2f}"
    out.append(_table(["run", "ranks", "step ms", "sync ms", "other load", "steal", "load avg before"],
                      [[r["tag"], r["world_size"], _ms(r["steps"][0]["step"]), _ms(r["steps"][0]["sync"]),
                        f"{cores(r['steps'][0].get('other_cores'))} / {cores(r.get('other_cores'))}",
                        cores(r.get("steal_cores")), f"{r['loadavg_before'][0]:.2f}"] for r in summary["runs"]]))
    if "speedup" in summary:
        out.append(f"\nSpeedup at 2 ranks: **{summary['speedup']:.2f}x**, parallel efficiency "
                   f"**{100 * summary['efficiency']:.0f}%** ({summary['two']['params']:,} parameters, "
                   f"{summary['two']['buckets']} bucket(s) per sync).")
    if "allreduce" in summary:
        f, sizes = summary["fit"], [r["bytes"] for r in summary["allreduce"]]
        out.append("\n**2. Allreduce(IN_PLACE, float32, SUM) at 2 ranks** (median per call, slowest rank; median "
                   "over the quiet runs)\n")
        out.append(_table(["size", "runs", "median us", "fit a + n*b, us", "GB/s (n / t)"],
                          [[_size(r["bytes"]), f"{r['rounds']}/{r['of']}", _us(r["median_s"]), _us(r["fit_s"]),
                            f"{r['bytes'] / r['median_s'] / 1e9:.2f}"] for r in summary["allreduce"]]))
        out.append(f"\nFit (least squares on relative error): a = {_us(f['a'])} us, b = {1e12 * f['b']:.1f} ps/byte "
                   f"({1 / f['b'] / 1e9:.2f} GB/s). From the two ends (a from the {_size(sizes[0])} time, b = the "
                   f"slope {_size(sizes[-2])} -> {_size(sizes[-1])}): a = {_us(f['a_two_end'])} us, "
                   f"b = {1e12 * f['b_two_end']:.1f} ps/byte ({1 / f['b_two_end'] / 1e9:.2f} GB/s).")
        out.append("\n**3. sync_gradients() at 2 ranks, bucket_mb=25 vs 0** (median per call; "
                   "'MPI alone' = calls * a + bytes * b from the fit)\n")
        rows = []
        for r in summary["sync"]:
            rows.append([r["model"], f"{r['params']:,}", r["tensors"], r["bucket_mb"], r["calls"],
                         f"{r['rounds']}/{r['of']}", _us(r["median_s"]), _us(r["alpha_beta_s"])])
        out.append(_table(["model", "parameters", "tensors", "bucket_mb", "Allreduce calls", "runs", "sync us",
                           "MPI alone us"], rows))
        ring = summary["ring"]
        out.append(f"\n**4. Ring all-reduce estimate, weak scaling at {ring['per_rank_batch']} sequences per rank** "
                   f"(gradient {ring['bytes'] / 2 ** 20:.2f} MiB; compute per step {_ms(ring['compute_s'])} ms = "
                   f"fwd+bwd+Adam of one rank; efficiency = compute / (compute + t_ring), sync after backward)\n")
        rows = []
        for r in ring["rows"]:
            a_lo, a_hi = r["alpha"]
            alpha = f"{_us(a_lo)}" if a_lo == a_hi else f"{_us(a_lo)}-{_us(a_hi)}"
            t_lo, t_hi = r["ring_s"]
            e_lo, e_hi = r["efficiency"]
            rows.append([r["network"], r["nodes"], alpha, f"{1 / r['beta'] / 1e9:.2f}",
                         _ms(t_lo) if t_lo == t_hi else f"{_ms(t_lo)}-{_ms(t_hi)}",
                         f"{100 * e_lo:.1f}%" if e_lo == e_hi else f"{100 * e_hi:.1f}-{100 * e_lo:.1f}%"])
        out.append(_table(["network", "nodes", "alpha us", "GB/s", "t_ring ms", "efficiency"], rows))
    return "\n".join(out) + "\n"


def environment():
    """Machine, libraries and load: what a reader needs to trust (or not) the numbers."""
    from benchmarks import harness
    info = harness.machine_info()
    mpiexec = find_mpiexec()
    try:
        info["mpiexec_version"] = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                                                 timeout=30).stdout.strip().splitlines()[:6]
    except (OSError, subprocess.SubprocessError, TypeError) as e:
        info["mpiexec_version"] = f"unavailable: {e}"
    try:
        import mpi4py
        info["mpi4py"] = mpi4py.__version__
    except ImportError:
        info["mpi4py"] = None
    # Which code was measured: the commit, and whether minigrad/distributed differed from it.
    git = ["git", "-C", ROOT]
    try:
        info["git_commit"] = subprocess.run(git + ["rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        info["git_uncommitted_distributed"] = subprocess.run(
            git + ["status", "--short", "minigrad/distributed"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        pass
    return info


def driver(args):
    """--all: a warm-up run (numba's cache), then ``rounds`` rounds of R=1 and R=2 in ABBA order."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise SystemExit("no mpiexec found: pip install mpich mpi4py (or install your system's MPI)")
    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    info = environment()
    print(f"{info['cpu']}, load {info['loadavg']}, {mpiexec}", flush=True)
    # Compiles (or loads) every float32 kernel the runs use, in one process, so that two ranks never
    # compile into numba's disk cache at the same time and no timed run pays for compilation.
    launch(mpiexec, 1, args.out, "warmup", quick=True)
    runs = []
    rounds = 1 if args.quick else args.rounds
    for k in range(rounds):
        for R in ((1, 2) if k % 2 == 0 else (2, 1)):
            runs.append(launch(mpiexec, R, args.out, f"round{k}-r{R}", args.quick))
    summary = summarize(runs)
    info["loadavg_end"] = list(os.getloadavg())
    text = markdown(summary)
    doc = dict(machine=info, threads=THREAD_ENV, rounds=rounds, elapsed_s=time.perf_counter() - start,
               summary=summary, runs=runs)
    with open(os.path.join(args.out, "distributed.json"), "w") as f:
        json.dump(doc, f, indent=1, default=str)
    with open(os.path.join(args.out, "distributed.md"), "w") as f:
        f.write(text)
    print("\n" + text, flush=True)
    print(f"{time.perf_counter() - start:.0f} s; wrote {args.out}/distributed.md and distributed.json", flush=True)
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="results/bench-distributed", help="folder for the JSON and markdown")
    p.add_argument("--quick", action="store_true", help="tiny sizes, a few steps: seconds (for tests)")
    p.add_argument("--all", action="store_true", help="launch the R=1 and R=2 runs with mpiexec and summarise")
    p.add_argument("--rounds", type=int, default=5, help="with --all: rounds of (R=1, R=2) runs")
    p.add_argument("--tag", default=None, help="name of this run's JSON under OUT/runs (default r<R>)")
    args = p.parse_args(argv)
    return driver(args) if args.all else worker(args)


if __name__ == "__main__":
    main()
