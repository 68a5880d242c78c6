"""minigrad.distributed: data-parallel training over MPI.

The sampler and the bucket planner are plain Python and always run. The rest needs
mpi4py: in this process it is a world of one rank; ``test_two_ranks_train_like_one_process``
starts ``mpiexec -n 2`` on tests/distributed_equivalence.py and compares its result with
one process training at the whole batch.
"""
import os
import shutil
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad.distributed as dist
from minigrad import nn
from minigrad.distributed import DistributedSampler, plan_buckets, world

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
sys.path.insert(0, str(TESTS))
import distributed_equivalence as eq  # noqa: E402
import distributed_fit as dfit  # noqa: E402

ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MPLBACKEND="Agg",
           PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture(autouse=True)
def numpy_backend():
    """The equivalence script trains on the numpy backend; the comparisons here do too."""
    with mg.backend("numpy"):
        yield


def needs_mpi4py():
    pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install mpi4py mpich)")


def mpiexec():
    """The mpiexec next to this Python (pip's mpich puts it there), else the one on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    return str(local) if local.exists() else shutil.which("mpiexec")


# ------------------------------------------------------------------ sampler
def shards(n, world_size, **kw):
    return [DistributedSampler(n, rank=r, world_size=world_size, **kw).indices() for r in range(world_size)]


def test_sampler_shards_are_disjoint_cover_the_permutation_and_change_with_the_epoch():
    parts = shards(12, 3, seed=5)
    assert [len(p) for p in parts] == [4, 4, 4]
    assert sorted(np.concatenate(parts).tolist()) == list(range(12))  # disjoint and complete
    assert not np.array_equal(np.concatenate(parts), np.arange(12))  # shuffled
    assert all(np.array_equal(a, b) for a, b in zip(parts, shards(12, 3, seed=5)))  # same (seed, epoch), same shards

    sampler = DistributedSampler(12, seed=5, rank=0, world_size=3)
    sampler.set_epoch(1)
    assert not np.array_equal(sampler.indices(), parts[0])
    assert list(sampler) == sampler.indices().tolist() and len(sampler) == 4
    assert not np.array_equal(shards(12, 3, seed=6)[0], parts[0])


def test_sampler_pads_or_drops_so_every_rank_gets_the_same_count():
    parts = shards(10, 3)
    assert [len(p) for p in parts] == [4, 4, 4]
    flat = np.concatenate(parts)
    assert set(flat.tolist()) == set(range(10)) and len(flat) == 12  # two indices repeated
    parts = shards(10, 3, drop_last=True)
    assert [len(p) for p in parts] == [3, 3, 3] and len(set(np.concatenate(parts).tolist())) == 9
    assert [p.tolist() for p in shards(0, 2)] == [[], []]


def test_sampler_without_shuffle_matches_pytorch_index_for_index():
    torch_data = pytest.importorskip("torch.utils.data")
    for n, R, drop in ((10, 3, False), (10, 3, True), (2, 3, False), (8, 2, False)):
        ours = shards(n, R, shuffle=False, drop_last=drop)
        theirs = [list(torch_data.DistributedSampler(range(n), num_replicas=R, rank=r, shuffle=False,
                                                     drop_last=drop)) for r in range(R)]
        assert [p.tolist() for p in ours] == theirs, (n, R, drop)


@pytest.mark.parametrize("kw, match", [(dict(n=-1, rank=0, world_size=1), "n must be"),
                                       (dict(n=4, rank=2, world_size=2), "rank must be in"),
                                       (dict(n=4, rank=0, world_size=0), "world_size must be"),
                                       (dict(n=4, rank=0), "both rank and world_size")])
def test_sampler_rejects_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        DistributedSampler(**kw)


# ------------------------------------------------------------------ buckets
def test_buckets_respect_the_cap_and_keep_one_dtype_each():
    a = nn.Linear(256, 256)          # weight 256 KiB in float32, bias 1 KiB
    b = nn.Linear(256, 4).double()   # weight 8 KiB in float64
    params = [*a.parameters(), *b.parameters()]
    buckets = plan_buckets(params, bucket_mb=0.3)
    assert [[id(p) for p in bk.params] for bk in buckets] == [[id(b.bias), id(b.weight)], [id(a.bias), id(a.weight)]]
    assert [str(bk.dtype) for bk in buckets] == ["float64", "float32"]
    assert len(plan_buckets(params, bucket_mb=0.2)) == 3  # a.weight alone exceeds the rest of a bucket
    assert len(plan_buckets(params, bucket_mb=0)) == 4
    assert buckets[1].offsets == [0, 256] and buckets[1].size == 256 + 256 * 256
    with pytest.raises(ValueError, match="bucket_mb must be"):
        plan_buckets(params, -1)


def test_pack_and_unpack_round_trip_and_fill_missing_gradients_with_zeros():
    model = nn.Linear(3, 2)
    model.weight.grad = mg.tensor(np.arange(6.0).reshape(2, 3))
    (bucket,) = plan_buckets(list(model.parameters()), 1)
    buf = bucket.pack()
    np.testing.assert_array_equal(buf, [0, 0, 0, 1, 2, 3, 4, 5])  # bias (no grad: zeros), then weight
    bucket.unpack(buf * 2)
    np.testing.assert_array_equal(model.weight.grad.numpy(), 2 * np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(model.bias.grad.numpy(), [0, 0])
    assert model.weight.grad.data.base is None  # each .grad owns its array


# ------------------------------------------------------ without mpi4py installed
def test_init_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # makes `import mpi4py` raise ImportError
    monkeypatch.setattr(world, "_comm", None)
    with pytest.raises(ImportError, match=r"pip install mpi4py mpich.*OpenMPI.*pip install mpi4py"):
        dist.init()
    with pytest.raises(ImportError, match="pip install mpi4py mpich"):
        dist.DataParallel(nn.Linear(2, 1))


# ------------------------------------------------------- one process, no mpiexec
def test_a_single_process_is_a_world_of_one():
    needs_mpi4py()
    assert dist.init() == (0, 1) and dist.init() == (0, 1)
    assert dist.rank() == 0 and dist.world_size() == 1 and dist.is_main()
    dist.barrier()
    x, y = eq.make_data()
    plain = eq.train(eq.make_model(eq.SEED), x, y)
    model = dist.DataParallel(eq.make_model(eq.SEED))
    wrapped = eq.train(model, x, y, model.sync_gradients)
    for a, b in zip(plain, wrapped):
        np.testing.assert_array_equal(a, b)


def test_wrapper_exposes_the_inner_module():
    needs_mpi4py()
    inner = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    model = dist.DataParallel(inner)
    assert list(model.state_dict()) == list(inner.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [id(p) for p in model.parameters()] == [id(p) for p in inner.parameters()]
    bare = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    bare.load_state_dict(model.state_dict())
    x = mg.randn(5, 3)
    np.testing.assert_array_equal(bare(x).numpy(), model(x).numpy())
    with pytest.raises(TypeError, match="DataParallel: module must be an nn.Module"):
        dist.DataParallel(lambda x: x)


def test_parameters_without_a_gradient_get_zeros():
    needs_mpi4py()
    inner = nn.ModuleDict({"used": nn.Linear(3, 1), "unused": nn.Linear(3, 1)})
    model = dist.DataParallel(inner)
    inner["used"](mg.randn(4, 3)).sum().backward()
    before = inner["used"].weight.grad.numpy().copy()
    model.sync_gradients()
    np.testing.assert_array_equal(inner["used"].weight.grad.numpy(), before)
    np.testing.assert_array_equal(inner["unused"].weight.grad.numpy(), np.zeros((1, 3)))
    np.testing.assert_array_equal(inner["unused"].bias.grad.numpy(), [0.0])


def test_bucket_sizes_do_not_change_the_result():
    """In one process the all-reduce is skipped, but packing and unpacking still run."""
    needs_mpi4py()
    x, y = eq.make_data()
    results, buckets = {}, {}
    for bucket_mb, overlap in ((25, False), (0, False), (0, True)):
        model = dist.DataParallel(eq.make_model(eq.SEED), bucket_mb=bucket_mb, overlap=overlap, average=False)
        results[bucket_mb, overlap] = eq.train(model, x, y, model.sync_gradients)
        buckets[bucket_mb, overlap] = len(model.buckets)
    assert buckets == {(25, False): 1, (0, False): 6, (0, True): 6}
    for other in ((0, False), (0, True)):
        for a, b in zip(results[25, False], results[other]):
            np.testing.assert_array_equal(a, b)


CUDA = mg.available_backends()["cuda"]


@pytest.mark.skipif(not CUDA["available"], reason=f"cuda backend not available: {CUDA['reason']}")
def test_gradients_on_the_gpu_go_through_the_host_and_come_back_on_the_device():
    needs_mpi4py()
    inner = nn.Linear(3, 2).to("cuda")
    model = dist.DataParallel(inner, average=False)
    (model(mg.randn(4, 3).to("cuda")) ** 2).sum().backward()
    before = [p.grad.numpy().copy() for p in inner.parameters()]
    model.sync_gradients()
    for p, g in zip(inner.parameters(), before):
        assert p.grad.device == "cuda" and type(p.grad.data) is type(p.data)
        np.testing.assert_array_equal(p.grad.numpy(), g)


# ------------------------------------------------------------------ two ranks
def test_two_ranks_train_like_one_process(tmp_path):
    """Two ranks at batch B/2 each, gradients averaged, end where one process at batch B ends."""
    needs_mpi4py()
    if mpiexec() is None:
        pytest.skip("no mpiexec (pip install mpich)")
    out = tmp_path / "ranks.npz"
    done = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(TESTS / "distributed_equivalence.py"), str(out)],
                          capture_output=True, text=True, timeout=60, env=ENV, cwd=REPO)
    assert done.returncode == 0, f"mpiexec failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    got = np.load(out)
    assert int(got["world_size"]) == 2

    x, y = eq.make_data()
    start = [p.numpy().copy() for p in eq.make_model(eq.SEED).parameters()]
    reference = eq.train(eq.make_model(eq.SEED), x, y)  # one process, the whole batch B
    assert max(np.abs(a - b).max() for a, b in zip(start, reference)) > 0.1  # training moved the weights
    for run in ("bucketed", "per_param", "overlap"):
        for r in (0, 1):  # both replicas, each started from its own seed before the broadcast
            for i, p in enumerate(reference):
                np.testing.assert_allclose(got[f"{run}_rank{r}_{i}"], p, rtol=0, atol=1e-10,
                                           err_msg=f"{run}, rank {r}, parameter {i}")
    assert int(got["bucketed_buckets"]) == 1 and int(got["per_param_buckets"]) == len(reference)
    # with overlap, backward itself started every bucket (each parameter's gradient completes in it)
    assert got["overlap_started_in_backward"].tolist() == [len(reference)] * eq.STEPS
    assert got["per_param_started_in_backward"].tolist() == [0] * eq.STEPS
    assert int(got["bucketed_allreduces"]) == eq.STEPS
    assert int(got["per_param_allreduces"]) == int(got["overlap_allreduces"]) == eq.STEPS * len(reference)


def needs_mpiexec():
    needs_mpi4py()
    if mpiexec() is None:
        pytest.skip("no mpiexec (pip install mpich)")


def launch(*args, flags=(), timeout=60):
    """Run ``mpiexec -n 2 [flags] python ARGS``; returns (CompletedProcess, seconds taken)."""
    start = time.monotonic()
    done = subprocess.run([mpiexec(), *flags, "-n", "2", sys.executable, *args],
                          capture_output=True, text=True, timeout=timeout, env=ENV, cwd=REPO)
    return done, time.monotonic() - start


def test_ranks_with_different_models_fail_with_a_clear_error_instead_of_hanging():
    needs_mpiexec()
    code = ("import minigrad.distributed as dist; from minigrad import nn; "
            "dist.DataParallel(nn.Linear(3, 2 + dist.rank()))")
    done = subprocess.run([mpiexec(), "-n", "2", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60, env=ENV, cwd=REPO)
    assert done.returncode != 0
    # both ranks find it; the first to abort may end the other before it prints
    assert re.search(r"DataParallel: rank ([01]) and rank (?!\1)[01] hold different models", done.stderr)
    assert "(2, 3)" in done.stderr and "(3, 3)" in done.stderr  # the two weight shapes


# ------------------------------------------- fit and TBPTT.fit with distributed=True
def run_fit(loop, mode, out, flags=()):
    return launch(str(TESTS / "distributed_fit.py"), loop, mode, str(out), flags=flags)


def params_of(path):
    got = np.load(path)
    return [got[f"arr_{i}"] for i in range(len([k for k in got.files if k.startswith("arr_")]))], got


def assert_like_one_process(loop, path, reference, history, what):
    """float64 (fit, tbptt): equal to rounding; float32 (keras): to float32's rounding, grown over 24 steps."""
    params, got = params_of(path)
    tol = 2e-5 if loop == "keras" else 1e-12
    for i, (a, b) in enumerate(zip(params, reference)):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol, err_msg=f"{what}, parameter {i}")
    for key in ("loss", "val_loss"):  # the logged numbers are the whole batch's and set's
        np.testing.assert_allclose(got[key], history.history[key], rtol=tol, atol=0, err_msg=f"{what}, {key}")
    np.testing.assert_allclose(got["batch_loss"], history.batch_history["loss"], rtol=tol, atol=0)


@pytest.mark.parametrize("loop", ["fit", "tbptt", "keras"])
def test_two_ranks_train_like_one_process_in_every_loop(tmp_path, loop):
    """rnn.train.fit and Keras's fit: shuffled global batches of 8 with a ragged last one (5
    examples: 3 and 2), Adam, validation (and clipping in fit). TBPTT.fit: 5 streams shared
    3 and 2, k1=5, k2=8, a per-update schedule. Both replicas end where one process ends;
    only rank 0 prints."""
    needs_mpiexec()
    done, _ = run_fit(loop, "train", tmp_path)
    assert done.returncode == 0, f"mpiexec failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    reference, history = dfit.train_one_process(loop)
    start = [p.numpy().copy() for p in dfit.make_model(loop, 1).parameters()]
    assert max(np.abs(a - b).max() for a, b in zip(start, reference)) > 0.05  # training moved the weights
    for r in (0, 1):
        assert_like_one_process(loop, tmp_path / f"result-rank{r}.npz", reference, history, f"rank {r}")
    assert done.stdout.count("Epoch 1/4") == 1 and "data-parallel over 2 ranks: rank 0 (pid" in done.stdout


@pytest.mark.parametrize("loop", ["fit", "tbptt"])
def test_a_killed_rank_ends_the_job_and_the_last_checkpoint_resumes_exactly(tmp_path, loop):
    """Rank 1 kills itself (SIGKILL) in the middle of epoch 3. The job ends at once; MPICH
    names the dead process's PID, which the first line maps to rank 1; the last checkpoint
    is intact (fit: the end of epoch 2; TBPTT: update 3 of epoch 3, with both ranks'
    carried states), and resuming from it on two ranks ends exactly where the
    uninterrupted run ends."""
    needs_mpiexec()
    done, took = run_fit(loop, "kill", tmp_path)
    assert done.returncode != 0 and took < 30
    ranks = dict((int(r), int(pid)) for r, pid in re.findall(r"rank (\d) \(pid (\d+) on", done.stdout))
    assert f"PID {ranks[1]} RUNNING AT" in done.stdout + done.stderr  # MPICH's report of the dead process
    state = mg.checkpoint.read_checkpoint(tmp_path / "ckpt.npz")
    where = (int(state["epoch"]), int(state["extra"]["batch"]))
    assert where == ((dfit.FAIL_EPOCH, 0) if loop == "fit" else (dfit.FAIL_EPOCH, 3))
    assert len(state["extra"]["by_rank"]) == 2
    assert not list(tmp_path.glob("*.tmp*"))  # no half-written file beside it
    done, _ = run_fit(loop, "resume", tmp_path)
    assert done.returncode == 0, f"mpiexec failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    assert "Epoch 3/4" in done.stdout and "Epoch 1/4" not in done.stdout
    reference, history = dfit.train_one_process(loop)
    assert_like_one_process(loop, tmp_path / "result-rank1.npz", reference, history, "resumed rank 1")


def test_a_hung_rank_makes_the_others_fail_within_the_time_limit(tmp_path):
    """Rank 1 stops responding in epoch 3; with a 3 s limit rank 0 fails naming it, the job
    is aborted, and the checkpoint of epoch 2 is intact."""
    needs_mpiexec()
    done, took = run_fit("fit", "hang", tmp_path)
    assert done.returncode != 0 and took < 40
    assert "DistributedTimeoutError" in done.stderr
    assert re.search(r"rank 0 \(pid \d+ on [^)]+\) waited 3\.\d s in all-reduce of gradient bucket 0", done.stderr)
    assert re.search(r"Not responding within \d+ s: rank 1 \(pid \d+", done.stderr)
    assert int(mg.checkpoint.read_checkpoint(tmp_path / "ckpt.npz")["epoch"]) == dfit.FAIL_EPOCH


def test_overlap_accumulates_under_no_sync_and_refuses_a_second_backward_without_it():
    """overlap=True on two ranks: two backward calls (the first under no_sync) then one sync
    give the sum of both micro-batches' gradients averaged over the ranks; a second backward
    outside no_sync, before sync_gradients, is refused with the way out."""
    needs_mpiexec()
    code = """
import numpy as np, minigrad as mg, minigrad.distributed as dist
from minigrad import nn
rank, size = dist.init()
mg.manual_seed(0)
model = dist.DataParallel(nn.Linear(3, 2).double(), bucket_mb=0, overlap=True)
x = [mg.tensor(np.full((4, 3), 1.0 + rank + 2 * k), dtype=mg.float64) for k in range(2)]
with model.no_sync():
    model(x[0]).sum().backward()
assert model._next == 0                          # nothing started inside no_sync
model(x[1]).sum().backward()
assert model._next == 2                          # both buckets started during the second backward
model.sync_gradients()
# d/dW of sum(W x + b) over 4 rows: 4 * x per row; micro-batches 1+r and 3+r, averaged over r = 0, 1
expected = 4 * ((1.0 + 3.0) + (2.0 + 4.0)) / 2
assert np.allclose(model.module.weight.grad.numpy(), expected), model.module.weight.grad.numpy()
model(x[0]).sum().backward()
try:
    model(x[1]).sum().backward()
except RuntimeError as e:
    print("refused:", e)
"""
    done, _ = launch("-c", code)
    assert "refused: DataParallel: a second backward reached a parameter before sync_gradients()" in done.stdout, \
        done.stdout + done.stderr
    assert "no_sync" in done.stdout


def test_a_failure_notice_names_the_dead_rank(monkeypatch):
    """What rank 0 prints when MPICH (under -disable-auto-cleanup) signals that a rank
    exited: the rank whose process is gone, found from the table init() gathered. (End to
    end, the launcher ends the job a fraction of a second after the notice, so a rank busy
    in a compiled kernel may not get to print it.)"""
    import socket
    from minigrad.distributed import watchdog
    needs_mpi4py()
    dist.init()  # before the table is replaced: init() fills it the first time
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    here = socket.gethostname()
    table = [(here, os.getpid()), (here, int(gone.stdout)), ("another-host", 1)]
    monkeypatch.setattr(world, "_where", table)
    monkeypatch.setattr(world, "rank", lambda: 0)
    assert watchdog.dead_ranks() == [1]
    with pytest.raises(dist.DistributedError, match=r"rank 0 \(pid \d+ on .*\): the MPI launcher reports a failed "
                                                    rf"process: rank 1 \(pid {int(gone.stdout)} on {here}\) exited"):
        watchdog._on_failed_rank(None, None)
