"""nn kernels on the GPU: scatter-add with atomics (the backward of indexing and of embedding).

An index that picks the same element twice (``x[[0, 0, 2]]``, an embedding batch that
repeats a word) must add both gradients there. Thousands of threads then write the same
address at once, so each adds with ``cuda.atomic.add``: the hardware serialises the
colliding additions and none is lost. (The order of float additions then varies from run
to run: the last bits of a repeated row's gradient are not deterministic.)
"""
from ._device import cuda, launch, offset_of, upload
from .arrays import _is_advanced, _positions, full, setitem
from .elementwise import _broadcast


@cuda.jit
def _scatter_add(out, positions, g, g_off, g_strides, g_shape):
    i = cuda.grid(1)
    if i < positions.size:
        cuda.atomic.add(out, positions[i], g[offset_of(i, g_shape, g_strides, g_off)])


# ============================================================= required kernels
def scatter_add(shape, index, g, dtype, accumulate):
    out = full(tuple(shape), 0, dtype)
    if not _is_advanced(index):
        setitem(out, index, g)  # a basic index never repeats an element: one assignment
        return out
    positions = _positions(tuple(shape), index)
    if positions.size:
        loop = positions.shape or (1,)
        if not accumulate:
            setitem(out, index, g)
        else:
            launch(_scatter_add, positions.size, out.buf, upload(positions.reshape(-1)).buf, *_broadcast(g, loop), loop)
    return out
