"""Data types: numpy's, with float32 as the default for floating-point data."""
import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
bool_ = np.dtype(np.bool_)

_default = {"float": float32}


def get_default_dtype():
    """The dtype given to floating-point data when none is asked for (float32 unless changed)."""
    return _default["float"]


def set_default_dtype(dtype):
    """Set the default floating dtype (float32 or float64), e.g. for float64 gradient checks."""
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default["float"] = dtype


def infer_dtype(data, dtype):
    """dtype for new data: the one asked for; else floats -> the default float dtype,
    integers and booleans keep their own dtype (Python ints become int64)."""
    if dtype is not None:
        return np.dtype(dtype)
    own = np.dtype(data.dtype) if hasattr(data, "dtype") else np.asarray(data).dtype
    if own.kind == "f":
        return _default["float"]
    if own.kind in "iub":
        return own
    raise TypeError(f"tensor: cannot make a tensor from data of dtype {own} "
                    "(expected numbers or booleans)")


def is_floating(dtype):
    return np.dtype(dtype).kind == "f"
