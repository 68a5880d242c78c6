"""``gemm``: a matrix product that compiled loops can call mid-loop, on numpy's own BLAS.

A recurrence does one matrix product per time step (h_{t-1} @ W_hh^T), so the loop that
runs the sequence must call BLAS from inside compiled code. numba's own ``np.dot`` needs
SciPy, and SciPy brings a second OpenBLAS whose threads fight numpy's on a small machine
(see matmul.py). Instead we find the BLAS library numpy itself has loaded
(``backends/_blas_lib.py``), register its ``cblas_sgemm``/``cblas_dgemm`` with LLVM under
fixed names, and call them through an ``@intrinsic``. Calls by *name* (not by address)
keep ``cache=True`` working: a later process registers the names again before loading
the cached machine code.

``gemm(a, b, out, trans_a, trans_b)`` computes out = op(a) @ op(b) on 2-D blocks with
contiguous rows (C-contiguous arrays or column slices of them) of one float dtype.
Uncompiled (the "python" backend), it is ``np.dot``. Compiled,
it is the cblas call, or -- if no BLAS was found -- ``gemm_loop``, a plain loop.
Without numba installed only the interpreted form exists.
Callers that prefer a plain loop for tiny products call ``gemm_loop`` themselves.
"""
import ctypes

import numpy as np

from .._blas_lib import numpy_blas
from ._jit import HAVE_NUMBA, compiled_form, helper

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS enum values

_found = numpy_blas()
HAVE_BLAS = _found is not None
_INT_BITS = _found[3] if HAVE_BLAS else 64


@helper(inline=True)
def gemm_loop(a, b, out, trans_a, trans_b):
    """out = op(a) @ op(b) by plain loops (the innermost loop always walks contiguous memory)."""
    zero = out.dtype.type(0)
    m, n = out.shape
    kk = a.shape[0] if trans_a else a.shape[1]
    for i in range(m):
        for j in range(n):
            out[i, j] = zero
    if trans_b:  # out[i, j] = a[i, :] . b[j, :]: dot products of two contiguous rows
        for i in range(m):
            for j in range(n):
                acc = zero
                for p in range(kk):
                    acc += (a[p, i] if trans_a else a[i, p]) * b[j, p]
                out[i, j] = acc
    else:  # out[i, :] += op(a)[i, p] * b[p, :]: a row of b scaled into a row of out
        for i in range(m):
            for p in range(kk):
                s = a[p, i] if trans_a else a[i, p]
                for j in range(n):
                    out[i, j] += s * b[p, j]


def gemm(a, b, out, trans_a, trans_b):
    """out = op(a) @ op(b), op = transpose when the flag is set (interpreted: numpy's BLAS)."""
    a, b = (a.T if trans_a else a), (b.T if trans_b else b)
    if out.flags.c_contiguous:
        np.dot(a, b, out=out)
    else:  # a column block of a wider array: np.dot writes only into C-contiguous outputs
        out[...] = np.dot(a, b)


if HAVE_NUMBA:
    from llvmlite import binding as llvm
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    if HAVE_BLAS:
        _lib, _prefix, _suffix, _ = _found
        for _name in ("sgemm", "dgemm"):
            _fn = getattr(_lib, f"{_prefix}cblas_{_name}{_suffix}")
            llvm.add_symbol(f"minigrad_cblas_{_name}", ctypes.cast(_fn, ctypes.c_void_p).value)

    @intrinsic
    def _cblas_gemm(typingctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc):
        """cblas_?gemm(RowMajor, trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)."""
        dtype = c.dtype
        if not isinstance(dtype, types.Float) or a.dtype != dtype or b.dtype != dtype:
            return None

        def codegen(context, builder, sig, args):
            ta, tb, m_, n_, k_, a_, lda_, b_, ldb_, c_, ldc_ = args
            ftype = context.get_value_type(dtype)
            ity, i32 = ir.IntType(_INT_BITS), ir.IntType(32)
            ptr = ftype.as_pointer()
            fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, ity, ity, ity, ftype, ptr, ity,
                                                   ptr, ity, ftype, ptr, ity])
            name = "minigrad_cblas_sgemm" if dtype.bitwidth == 32 else "minigrad_cblas_dgemm"
            fn = cgutils.get_or_insert_function(builder.module, fnty, name)

            def data(aty, val):
                return context.make_array(aty)(context, builder, val).data

            def i(val):
                return builder.trunc(val, ity) if ity.width < val.type.width else val

            builder.call(fn, [ir.Constant(i32, _ROW_MAJOR), builder.trunc(ta, i32), builder.trunc(tb, i32),
                              i(m_), i(n_), i(k_), ir.Constant(ftype, 1.0), data(sig.args[5], a_), i(lda_),
                              data(sig.args[7], b_), i(ldb_), ir.Constant(ftype, 0.0), data(sig.args[9], c_), i(ldc_)])
            return context.get_dummy_value()

        return types.none(types.int64, types.int64, types.int64, types.int64, types.int64, a, types.int64,
                          b, types.int64, c, types.int64), codegen

    @helper
    def _blocked(x):
        """Whether BLAS can read x: contiguous rows, each starting a full row after the last."""
        return x.strides[1] == x.itemsize and x.strides[0] >= x.shape[1] * x.itemsize

    @compiled_form(gemm)
    def _gemm_compiled(a, b, out, trans_a, trans_b):
        # BLAS takes 2-D blocks whose rows are contiguous: each operand may be a C-contiguous
        # array or a column slice of one (rows of a wider array, e.g. the first 2H of 3H gate
        # columns, or one core's share of the output columns), passed with its own row
        # stride as the "leading dimension".
        if any(not isinstance(x, types.Array) or x.ndim != 2 or x.layout not in ("C", "A") for x in (a, b, out)):
            return None
        if not HAVE_BLAS:
            return lambda a, b, out, trans_a, trans_b: gemm_loop(a, b, out, trans_a, trans_b)

        def impl(a, b, out, trans_a, trans_b):
            m, n = out.shape
            kk = a.shape[0] if trans_a else a.shape[1]
            if m == 0 or n == 0:
                return
            if kk == 0:
                out[:] = 0
                return
            if not (_blocked(a) and _blocked(b) and _blocked(out)):
                gemm_loop(a, b, out, trans_a, trans_b)  # not a row-contiguous block: no BLAS form
                return
            _cblas_gemm(_TRANS if trans_a else _NO_TRANS, _TRANS if trans_b else _NO_TRANS, m, n, kk,
                        a, a.strides[0] // a.itemsize, b, b.strides[0] // b.itemsize, out,
                        out.strides[0] // out.itemsize)
        return impl

