"""The rest of the torch namespace tutorials touch: default dtype and device, device objects,
the legacy typed constructors. Compared with PyTorch."""
import pytest

torch = pytest.importorskip("torch")
import nbautograd as nb  # noqa: E402

no_gpu = pytest.mark.skipif(nb.cuda.is_available(),
                            reason="checks the error for a machine without a GPU")


def both(fn):
    out = []
    for m in (torch, nb):
        try:
            out.append(("ok", fn(m)))
        except BaseException as e:  # noqa: BLE001
            out.append(("raised", type(e).__name__, str(e).split(" (nbautograd:")[0]))
    return out


@pytest.mark.parametrize("code", [
    lambda m: repr(m.FloatTensor([1, 2])),
    lambda m: repr(m.DoubleTensor([1, 2])),
    lambda m: repr(m.LongTensor([1.7, -2.2])),
    lambda m: repr(m.IntTensor([3])),
    lambda m: repr(m.BoolTensor([1, 0])),
    lambda m: tuple(m.FloatTensor(2, 3).shape),
    lambda m: repr(m.Tensor([1, 2])),
    lambda m: (isinstance(m.randn(2), m.FloatTensor), isinstance(m.randn(2).double(),
                                                                 m.FloatTensor)),
    lambda m: (str(m.device("cuda:1")), repr(m.device("cpu")), m.device("cuda", 0) == "cuda:0",
               m.device("cpu") == m.device("cpu"), m.ones(1).device == m.device("cpu")),
    pytest.param(lambda m: m.ones(2, device="cuda"), marks=no_gpu),
], ids=["float", "double", "long_truncates", "int", "bool", "sizes", "Tensor", "isinstance",
        "device", "cuda_without_gpu"])
def test_namespace_matches_torch(code):
    t, n = both(code)
    assert n == t


def test_default_dtype_float64_everywhere():
    def run(m):
        m.set_default_dtype(m.float64)
        try:
            return (repr(m.tensor([1.5])), repr(m.ones(2)), repr(m.tensor([1.5]).float()),
                    repr(m.arange(3.)), str(m.get_default_dtype()), repr(m.tensor([1, 2]) / 2),
                    repr(m.Tensor([1, 2])), repr(m.zeros(1) + 0.5))
        finally:
            m.set_default_dtype(m.float32)
    t, n = both(run)
    assert n == t


@no_gpu
def test_set_default_device_cuda_without_gpu_raises_and_can_be_reset():
    def run(m):
        m.set_default_device("cuda")
        try:
            return m.ones(2)
        finally:
            m.set_default_device(None)
    t, n = both(run)
    assert n == t
    assert str(nb.ones(1).device) == "cpu"
    with pytest.raises(AssertionError, match="CuPy"):
        nb.ones(1, device="cuda")
