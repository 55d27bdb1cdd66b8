"""Differential tests: nbautograd._printing.format_tensor versus torch's repr.

Every case builds a NumPy array, asks real PyTorch for ``repr`` of the same
data and checks that ``format_tensor`` produces the identical string.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from nbautograd import _printing as P  # noqa: E402

DEFAULT_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


@pytest.fixture(autouse=True)
def _restore_options():
    """Every test starts and ends with default options on both sides."""
    torch.set_printoptions(profile="default")
    P.set_printoptions(profile="default")
    yield
    torch.set_printoptions(profile="default")
    P.set_printoptions(profile="default")
    torch.set_default_dtype(torch.float32)


def _has_default_dtype(t) -> bool:
    # The caller-side rule, mirroring torch._tensor_str._str_intern.
    default = torch.get_default_dtype()
    default_complex = torch.complex128 if default == torch.float64 else torch.complex64
    return t.dtype in (default, default_complex, torch.int64, torch.bool)


def _ours(arr, t, **kwargs) -> str:
    return P.format_tensor(
        arr, dtype_name=str(t.dtype), is_default_dtype=_has_default_dtype(t), **kwargs
    )


def check(arr, *, requires_grad: bool = False) -> str:
    """Assert that our repr of ``arr`` equals torch's; return it."""
    arr = np.asarray(arr)
    t = torch.from_numpy(arr.copy())
    grad_suffix = None
    if requires_grad:
        t.requires_grad_(True)
        grad_suffix = "requires_grad=True"
    expected = repr(t)
    got = _ours(arr, t, grad_suffix=grad_suffix)
    assert got == expected, f"\nnumpy: {arr!r}\nexpected:\n{expected}\ngot:\n{got}"
    return got


def set_both(**kwargs) -> None:
    torch.set_printoptions(**kwargs)
    P.set_printoptions(**kwargs)


# --------------------------------------------------------------------------
# Fixed corpus
# --------------------------------------------------------------------------

_rng = np.random.default_rng(1234)

FIXED_CASES = {
    # 0-d
    "0d_int_float": np.array(3.0, dtype=np.float32),
    "0d_frac": np.array(3.5, dtype=np.float32),
    "0d_neg": np.array(-2.25),
    "0d_nan": np.array(np.nan, dtype=np.float32),
    "0d_neginf": np.array(-np.inf),
    "0d_negzero": np.array(-0.0, dtype=np.float32),
    "0d_huge": np.array(1e20, dtype=np.float32),
    "0d_tiny": np.array(1e-20),
    "0d_int64": np.array(5),
    "0d_int32": np.array(-7, dtype=np.int32),
    "0d_bool": np.array(True),
    "0d_half": np.array(0.1, dtype=np.float16),
    # 1-d
    "1d_ints_as_float": np.array([1.0, 2.0, 3.0], dtype=np.float32),
    "1d_frac": np.array([1.5, -2.25, 3.125], dtype=np.float32),
    "1d_negzero": np.array([-0.0, 1.0], dtype=np.float32),
    "1d_negzero_frac": np.array([-0.0, 1.5], dtype=np.float32),
    "1d_all_zero": np.zeros(4, dtype=np.float32),
    "1d_all_negzero": np.array([-0.0, -0.0]),
    "1d_nan_inf": np.array([np.nan, np.inf, -np.inf, 1.0], dtype=np.float32),
    "1d_nan_inf_frac": np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32),
    "1d_only_nonfinite": np.array([np.nan, np.inf, -np.inf], dtype=np.float32),
    "1d_sci_ratio": np.array([1.0, 2000.0], dtype=np.float32),
    "1d_sci_big": np.array([1e9, 2e9], dtype=np.float32),
    "1d_sci_small": np.array([1e-5, 2e-5], dtype=np.float32),
    "1d_huge_tiny": np.array([1e20, 1e-20, -3.0], dtype=np.float64),
    "1d_exp3": np.array([1e300, 1e-300, -1e-320], dtype=np.float64),
    "1d_float_max": np.array([np.finfo(np.float64).max, 1.0]),
    "1d_int_big_floats": np.array([123456789.0, 1.0]),
    "1d_rounding_edge": np.array([9.99995, 0.5], dtype=np.float64),
    "1d_int_mode_sci": np.array([1e10, 1.0, -5.0], dtype=np.float64),
    "1d_half_extremes": np.array([65504.0, 6e-8, -1.0], dtype=np.float16),
    "1d_half_frac": np.array([0.1, 0.2, 0.3333], dtype=np.float16),
    "1d_wrap": np.arange(100, dtype=np.float32) * 1.5,
    "1d_wrap_ints": np.arange(-50, 150, dtype=np.int64) * 1000,
    "1d_int8": np.array([-128, 0, 127], dtype=np.int8),
    "1d_int16": np.array([-32768, 5], dtype=np.int16),
    "1d_int32": np.array([1, -2, 300], dtype=np.int32),
    "1d_uint8": np.array([0, 255, 17], dtype=np.uint8),
    "1d_int64_extreme": np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max]),
    "1d_bool_mixed": np.array([True, False, True]),
    "1d_bool_true": np.array([True, True]),
    "1d_single": np.array([7.0], dtype=np.float32),
    # n-d
    "2d_float": _rng.standard_normal((3, 4)).astype(np.float32),
    "2d_float64": _rng.standard_normal((4, 3)),
    "2d_wide": _rng.standard_normal((3, 30)).astype(np.float32),
    "2d_int": np.arange(12).reshape(3, 4),
    "2d_bool": _rng.random((3, 3)) > 0.5,
    "2d_column": np.arange(5.0, dtype=np.float32).reshape(5, 1),
    "2d_row": np.arange(5.0, dtype=np.float32).reshape(1, 5),
    "3d_float": _rng.standard_normal((2, 3, 4)).astype(np.float32),
    "3d_sci": (_rng.standard_normal((2, 2, 3)) * 1e12).astype(np.float32),
    "4d_float": _rng.standard_normal((2, 2, 2, 2)).astype(np.float32),
    "5d_int": np.arange(32, dtype=np.int32).reshape(2, 2, 2, 2, 2),
    "transposed": _rng.standard_normal((3, 5)).astype(np.float32).T,
    # summarization
    "sum_1d": np.arange(2000, dtype=np.float32),
    "sum_1d_int": np.arange(5000),
    "sum_2d": _rng.standard_normal((50, 50)).astype(np.float32),
    "sum_2d_narrow": _rng.standard_normal((1001, 2)).astype(np.float32),
    "sum_3d": _rng.standard_normal((20, 20, 20)),
    "sum_3d_small_axes": _rng.standard_normal((2, 3, 300)).astype(np.float32),
    "sum_bool": _rng.random((40, 40)) > 0.5,
    "sum_int8": _rng.integers(-128, 127, (30, 40)).astype(np.int8),
    "sum_sci_hidden": np.concatenate([np.ones(1000), [1e30], np.ones(1000)]),
    # complex
    "complex64": np.array([1 + 2j, -0.5 - 1j, 3.25j], dtype=np.complex64),
    "complex128_2d": (_rng.standard_normal((2, 3)) + 1j * _rng.standard_normal((2, 3))),
    "complex_int_mode": np.array([1 + 1j, 2 - 3j], dtype=np.complex64),
    "complex_0d": np.array(1.5 - 2j, dtype=np.complex128),
    "complex_sum": (_rng.standard_normal(2000) + 1j).astype(np.complex64),
}


@pytest.mark.parametrize("name", sorted(FIXED_CASES))
def test_fixed_cases(name):
    check(FIXED_CASES[name])


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.bool_,
              np.complex64, np.complex128]
)
@pytest.mark.parametrize("shape", [(0,), (0, 3), (3, 0), (2, 0, 4), (0, 0)])
def test_empty(dtype, shape):
    check(np.zeros(shape, dtype=dtype))


def test_empty_reprs_spelled_out():
    # A few literal strings so the rule is documented here too.
    assert P.format_tensor(np.zeros((0,), np.float32), dtype_name="torch.float32",
                           is_default_dtype=True) == "tensor([])"
    assert P.format_tensor(np.zeros((0,), np.int64), dtype_name="torch.int64",
                           is_default_dtype=True) == "tensor([], dtype=torch.int64)"
    assert P.format_tensor(np.zeros((0, 3), np.float32), dtype_name="torch.float32",
                           is_default_dtype=True) == "tensor([], size=(0, 3))"


@pytest.mark.parametrize(
    "value", [np.float32(1.5), np.float64(-0.0), np.int64(3), np.int32(-4), np.bool_(False), np.float16(np.inf)]
)
def test_numpy_scalar_is_0d(value):
    t = torch.from_numpy(np.asarray(value).copy())
    assert _ours(value, t) == repr(t)


def test_rejects_non_numeric():
    with pytest.raises(TypeError):
        P.format_tensor(np.array(["a"]), dtype_name="x", is_default_dtype=True)


# --------------------------------------------------------------------------
# Suffixes, prefixes, wrapping
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arr",
    [
        np.array(2.0, dtype=np.float32),
        np.array([1.0, 2.0], dtype=np.float32),
        np.array([1.5, 2.0], dtype=np.float64),
        np.arange(100, dtype=np.float32) / 7,
        _rng.standard_normal((4, 4)),
        np.zeros((0, 2), dtype=np.float64),
        np.zeros((0,), dtype=np.float32),
        np.arange(2000, dtype=np.float64),
    ],
    ids=lambda a: f"{a.dtype}{a.shape}",
)
def test_requires_grad_suffix(arr):
    check(arr, requires_grad=True)


def test_grad_fn_suffix():
    arr = _rng.standard_normal((3, 3))
    t = torch.from_numpy(arr.copy()).requires_grad_(True)
    out = t.clone()
    assert _ours(arr, out, grad_suffix=f"grad_fn=<{type(out.grad_fn).__name__}>") == repr(out)


@pytest.mark.parametrize("n", range(1, 14))
def test_suffix_wrapping_boundary(n):
    # Last lines of every length near the 80-column limit, with two suffixes.
    arr = np.arange(n, dtype=np.float64) + 0.5
    check(arr, requires_grad=True)
    check(arr.astype(np.float16), requires_grad=True)
    check(arr.astype(np.int32))


@pytest.mark.parametrize("linewidth", [10, 30, 45, 60, 80, 100])
def test_suffix_wrapping_linewidth(linewidth):
    set_both(linewidth=linewidth)
    for n in (1, 3, 6, 9):
        check(np.arange(n, dtype=np.float64) * 1.25, requires_grad=True)
        check(np.arange(n * 2, dtype=np.int16).reshape(2, n))


@pytest.mark.parametrize(
    "suffixes",
    [
        ["device='cuda:0'"],
        ["device='cuda:1'", "dtype=torch.float64"],
        ["device='cuda:0'", "dtype=torch.float64", "requires_grad=True"],
        ["device='cuda:0'", "dtype=torch.float64", "grad_fn=<AddmmBackward0>"],
    ],
)
@pytest.mark.parametrize("n", [2, 6, 8, 40])
def test_device_suffix_against_torch_add_suffixes(suffixes, n):
    # CPU-only torch cannot make CUDA tensors, so compare with torch's own
    # body formatter + suffix wrapper.
    ts = torch._tensor_str
    arr = np.arange(n, dtype=np.float64) * 1.5
    expected = ts._add_suffixes("tensor(" + ts._tensor_str(torch.from_numpy(arr), 7), suffixes, 7, False)
    grad = suffixes[2] if len(suffixes) > 2 else None
    got = P.format_tensor(
        arr,
        dtype_name="torch.float64",
        is_default_dtype=len(suffixes) == 1,
        device_suffix=suffixes[0],
        grad_suffix=grad,
    )
    assert got == expected


def test_parameter_prefix():
    arr = _rng.standard_normal((3, 5)).astype(np.float32)
    p = torch.nn.Parameter(torch.from_numpy(arr.copy()))
    got = P.format_tensor(
        arr,
        dtype_name="torch.float32",
        is_default_dtype=True,
        grad_suffix="requires_grad=True",
        prefix="Parameter containing:\ntensor(",
    )
    assert got == repr(p)


class _MyTensor(torch.Tensor):
    pass


@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 2, 30)])
def test_custom_prefix_indent(shape):
    arr = np.arange(math.prod(shape), dtype=np.float32).reshape(shape) / 3
    t = torch.from_numpy(arr.copy()).as_subclass(_MyTensor)
    assert P.format_tensor(arr, dtype_name="torch.float32", is_default_dtype=True, prefix="_MyTensor(") == repr(t)


def test_default_dtype_float64():
    torch.set_default_dtype(torch.float64)
    for arr in (
        np.array([1.5, 2.0]),
        np.array([1.5, 2.0], dtype=np.float32),
        np.zeros((0,)),
        np.zeros((0,), dtype=np.float32),
        np.zeros((2, 0)),
        np.array([1 + 1j]),
        np.array([1 + 1j], dtype=np.complex64),
    ):
        check(arr)


# --------------------------------------------------------------------------
# Print options
# --------------------------------------------------------------------------

OPTION_ARRAYS = [
    np.array([1.123456789, -22.5, 0.001], dtype=np.float64),
    np.array([1.0, 2.0, 3.0], dtype=np.float32),
    np.array([1e-8, 1.0], dtype=np.float32),
    np.array([0.0, np.nan], dtype=np.float32),
    np.arange(30, dtype=np.float32).reshape(5, 6) / 3,
    np.arange(24).reshape(2, 3, 4),
    np.arange(2000, dtype=np.float32) / 9,
    _rng.standard_normal((12, 12, 12)).astype(np.float32),
    np.array(3.14159),
    _rng.random((8, 9)) > 0.3,
    np.array([1 + 2.5j, -3j], dtype=np.complex64),
]


@pytest.mark.parametrize(
    "opts",
    [
        {"precision": 0},
        {"precision": 1},
        {"precision": 2},
        {"precision": 8},
        {"precision": 12},
        {"sci_mode": True},
        {"sci_mode": False},
        {"sci_mode": True, "precision": 2},
        {"linewidth": 20},
        {"linewidth": 40},
        {"linewidth": 200},
        {"linewidth": 1},
        {"threshold": 5},
        {"threshold": 0},
        {"threshold": 5, "edgeitems": 1},
        {"threshold": 5, "edgeitems": 0},
        {"edgeitems": 0},
        {"threshold": 10, "edgeitems": 5},
        {"profile": "short"},
        {"profile": "full"},
        {"profile": "short", "precision": 6},
        {"profile": "full", "linewidth": 50},
        {"profile": "no-such-profile"},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()),
)
def test_printoptions_against_torch(opts):
    set_both(**opts)
    assert P.get_printoptions() == torch._tensor_str.get_printoptions()
    for arr in OPTION_ARRAYS:
        check(arr)
    check(np.array([0.5, 1.5]), requires_grad=True)


def test_sci_mode_reset_quirk():
    # torch resets sci_mode to None on any call that omits it.
    set_both(sci_mode=True)
    set_both(precision=3)
    assert P.get_printoptions() == torch._tensor_str.get_printoptions()
    assert P.get_printoptions()["sci_mode"] is None
    check(np.array([1.5, 2.5]))


def test_get_printoptions_defaults():
    assert P.get_printoptions() == DEFAULT_OPTS == torch._tensor_str.get_printoptions()
    P.set_printoptions(profile="full")
    assert P.get_printoptions()["threshold"] == math.inf


def test_printoptions_context_manager():
    arr = np.arange(2000, dtype=np.float32)
    with P.printoptions(threshold=math.inf, precision=2), torch._tensor_str.printoptions(
        threshold=math.inf, precision=2
    ):
        assert P.get_printoptions() == torch._tensor_str.get_printoptions()
        check(arr / 3)
    assert P.get_printoptions() == DEFAULT_OPTS
    with pytest.raises(RuntimeError):
        with P.printoptions(edgeitems=1):
            raise RuntimeError
    assert P.get_printoptions() == DEFAULT_OPTS


def test_full_profile_large_tensor():
    set_both(profile="full")
    check((np.arange(3000, dtype=np.float32) * 0.37).reshape(30, 100))


def test_huge_tensor_is_summarized_before_formatting():
    arr = np.random.default_rng(0).standard_normal((2000, 2000)).astype(np.float32)
    start = time.perf_counter()
    text = P.format_tensor(arr, dtype_name="torch.float32", is_default_dtype=True)
    assert time.perf_counter() - start < 1.0
    assert text == repr(torch.from_numpy(arr))


# --------------------------------------------------------------------------
# Hypothesis corpus
# --------------------------------------------------------------------------

_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e20, -1e20, 1e-20, 1e8, 1e-4, 999.0, 1000.0, 12345.678,
             math.nan, math.inf, -math.inf]
_FLOAT_DTYPES = [np.float16, np.float32, np.float64]
_INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8]


def _float_elements(dtype):
    width = {np.float16: 16, np.float32: 32, np.float64: 64}[dtype]
    return st.one_of(
        st.sampled_from(_SPECIALS),
        st.integers(-1000, 1000).map(float),
        st.floats(width=width, allow_nan=True, allow_infinity=True),
        st.floats(-100, 100, width=width),
    )


@st.composite
def small_arrays(draw):
    dtype = draw(st.sampled_from(_FLOAT_DTYPES + _INT_DTYPES + [np.bool_, np.complex64, np.complex128]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    if dtype in _FLOAT_DTYPES:
        elements = _float_elements(dtype)
    elif dtype in (np.complex64, np.complex128):
        part = np.float32 if dtype is np.complex64 else np.float64
        elements = st.builds(complex, _float_elements(part), _float_elements(part))
    elif dtype is np.bool_:
        elements = st.booleans()
    else:
        info = np.iinfo(dtype)
        elements = st.integers(int(info.min), int(info.max))
    with np.errstate(over="ignore"):
        return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def large_arrays(draw):
    """>1000 elements built from a seed (hypothesis elements would be slow)."""
    dtype = draw(st.sampled_from(_FLOAT_DTYPES + [np.int32, np.int64, np.bool_]))
    ndim = draw(st.integers(1, 3))
    side = {1: (1001, 3000), 2: (32, 60), 3: (11, 16)}[ndim]
    shape = tuple(draw(st.integers(*side)) if i == 0 else draw(st.integers(1, side[1]))
                  for i in range(ndim))
    if math.prod(shape) <= 1000:
        shape = (1001,) + shape[1:]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype is np.bool_:
        return rng.random(shape) > 0.5
    if dtype in (np.int32, np.int64):
        hi = 10 ** draw(st.integers(0, 9))
        return rng.integers(-hi, hi + 1, shape).astype(dtype)
    scale = 10.0 ** draw(st.integers(-25, 25))
    values = rng.standard_normal(shape) * scale
    if draw(st.booleans()):
        values = np.round(values)
    flat = values.reshape(-1)
    for special in draw(st.lists(st.sampled_from(_SPECIALS), max_size=4)):
        flat[rng.integers(0, flat.size)] = special
    with np.errstate(over="ignore"):
        return values.astype(dtype)


option_sets = st.fixed_dictionaries(
    {},
    optional={
        "precision": st.integers(0, 10),
        "linewidth": st.integers(10, 160),
        "sci_mode": st.sampled_from([None, True, False]),
        "threshold": st.sampled_from([0, 5, 50, 1000, math.inf]),
        "edgeitems": st.integers(0, 4),
    },
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arr=small_arrays(), requires_grad=st.booleans())
def test_hypothesis_small_default_options(arr, requires_grad):
    check(arr, requires_grad=requires_grad and arr.dtype.kind == "f")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arr=large_arrays())
def test_hypothesis_large_summarized(arr):
    check(arr)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arr=st.one_of(small_arrays(), large_arrays()), opts=option_sets, requires_grad=st.booleans())
def test_hypothesis_with_options(arr, opts, requires_grad):
    try:
        set_both(**opts)
        check(arr, requires_grad=requires_grad and arr.dtype.kind == "f")
    finally:
        set_both(profile="default")


def test_docstring_examples():
    import doctest

    result = doctest.testmod(P)
    assert result.attempted > 0 and result.failed == 0
