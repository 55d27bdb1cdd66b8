"""Error and warning texts: the engine must raise what torch raises, with the same message."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from oracle import assert_same_error, capture_warnings, same_behaviour, to_np  # noqa: E402


def _x(m, n=3, **kw):
    return m.tensor([float(i + 1) for i in range(n)], requires_grad=True, **kw)


def _set(obj, name, value):
    setattr(obj, name, value)


def _setitem(obj, idx, value):
    obj[idx] = value


def _iadd(t, v):
    t += v


def _imul(t, v):
    t *= v


# ---------------------------------------------------------------------------
# each entry: (id, code(m)) -- code must raise in torch


def _saved_exp_add(m):
    x = _x(m)
    y = x.exp()
    y.add_(1)
    y.sum().backward()


def _saved_exp_add_twice(m):
    x = _x(m)
    y = x.exp()
    y.add_(1)
    y.add_(1)
    y.sum().backward()


def _saved_exp_setitem(m):
    x = _x(m)
    y = x.exp()
    y[0] = 0.0
    y.sum().backward()


def _saved_float64_2d(m):
    x = m.ones(2, 3, dtype=m.float64, requires_grad=True)
    y = x.exp()
    y.mul_(2)
    y.sum().backward()


def _saved_input_of_pow(m):
    x = _x(m)
    a = x * 1
    b = a ** 2
    a.add_(1)
    b.sum().backward()


def _saved_input_of_sin_clone(m):
    x = _x(m)
    a = x.clone()
    b = a.sin()
    a.mul_(2)
    b.sum().backward()


def _saved_sigmoid_autograd_grad(m):
    x = _x(m)
    y = x.sigmoid()
    y.mul_(2)
    m.autograd.grad(y.sum(), x)


def _saved_leaf_modified_under_no_grad(m):
    x = _x(m)
    y = x.sin()
    with m.no_grad():
        x.mul_(2)
    y.sum().backward()


def _backward_twice(m):
    x = _x(m)
    y = x.exp().sum()
    y.backward()
    y.backward()


def _backward_twice_mul(m):
    x = _x(m)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _backward_twice_scalar_mul(m):
    x = _x(m)
    y = (2 * x).sum()
    y.backward()
    y.backward()


def _autograd_grad_twice(m):
    x = _x(m)
    y = x.exp().sum()
    m.autograd.grad(y, x)
    m.autograd.grad(y, x)


def _backward_no_grad_result(m):
    x = _x(m)
    with m.no_grad():
        y = (x * 2).sum()
    y.backward()


def _custom_fn_wrong_grad_count(m):
    class Twice(m.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g

    x = _x(m)
    Twice.apply(x, x).sum().backward()


REQUIRED = [
    # integer / bool tensors cannot require grad
    ("int_requires_grad_ctor", lambda m: m.tensor([1, 2], requires_grad=True)),
    ("int_requires_grad_zeros", lambda m: m.zeros(3, dtype=m.int64, requires_grad=True)),
    ("int_requires_grad_arange", lambda m: m.arange(3, requires_grad=True)),
    ("int_requires_grad_full", lambda m: m.full((2,), 3, requires_grad=True)),
    ("int_requires_grad_method", lambda m: m.tensor([1, 2]).requires_grad_()),
    ("bool_requires_grad_method", lambda m: m.tensor([True, False]).requires_grad_()),
    ("int_requires_grad_setter", lambda m: _set(m.tensor([1, 2]), "requires_grad", True)),
    # in-place on leaves and views of leaves
    ("inplace_leaf_add_", lambda m: _x(m).add_(1)),
    ("inplace_leaf_sub_", lambda m: _x(m).sub_(1)),
    ("inplace_leaf_mul_", lambda m: _x(m).mul_(2)),
    ("inplace_leaf_div_", lambda m: _x(m).div_(2)),
    ("inplace_leaf_zero_", lambda m: _x(m).zero_()),
    ("inplace_leaf_fill_", lambda m: _x(m).fill_(1.0)),
    ("inplace_leaf_copy_", lambda m: _x(m).copy_(m.zeros(3))),
    ("inplace_leaf_clamp_", lambda m: _x(m).clamp_(0, 1)),
    ("inplace_leaf_iadd", lambda m: _iadd(_x(m), 1)),
    ("inplace_leaf_imul", lambda m: _imul(_x(m), 2)),
    ("inplace_view_of_leaf_select", lambda m: _x(m)[0].add_(1)),
    ("inplace_view_of_leaf_slice", lambda m: _x(m)[:2].mul_(2)),
    ("inplace_view_of_leaf_view", lambda m: _x(m).view(3).zero_()),
    ("setitem_on_leaf", lambda m: _setitem(_x(m), 0, 1.0)),
    ("setitem_on_leaf_slice", lambda m: _setitem(_x(m), slice(0, 2), m.zeros(2))),
    # saved tensor modified in place
    ("saved_output_modified", _saved_exp_add),
    ("saved_output_modified_twice", _saved_exp_add_twice),
    ("saved_output_modified_setitem", _saved_exp_setitem),
    ("saved_output_modified_float64_2d", _saved_float64_2d),
    ("saved_input_modified_pow", _saved_input_of_pow),
    ("saved_input_modified_clone_sin", _saved_input_of_sin_clone),
    ("saved_modified_autograd_grad", _saved_sigmoid_autograd_grad),
    ("saved_leaf_modified_under_no_grad", _saved_leaf_modified_under_no_grad),
    # backward through the graph a second time
    ("backward_twice_exp", _backward_twice),
    ("backward_twice_mul", _backward_twice_mul),
    ("backward_twice_scalar_mul", _backward_twice_scalar_mul),
    ("autograd_grad_twice", _autograd_grad_twice),
    # backward on things that cannot be differentiated
    ("backward_no_grad_tensor", lambda m: m.tensor([1.0, 2.0]).sum().backward()),
    ("backward_result_computed_under_no_grad", _backward_no_grad_result),
    ("autograd_grad_output_without_grad", lambda m: m.autograd.grad(m.ones(2).sum(), [_x(m)])),
    ("backward_non_scalar", lambda m: (_x(m) * 2).backward()),
    ("autograd_grad_non_scalar", lambda m: (lambda x: m.autograd.grad(x * 2, x))(_x(m))),
    ("backward_wrong_shape", lambda m: (_x(m) * 2).backward(m.ones(2))),
    ("backward_wrong_shape_broadcastable", lambda m: (_x(m) * 2).backward(m.ones(1))),
    ("backward_wrong_shape_2d", lambda m: (m.ones(2, 3, requires_grad=True) * 2).backward(m.ones(3, 2))),
    ("autograd_grad_wrong_shape", lambda m: (lambda x: m.autograd.grad(x * 2, x, grad_outputs=m.ones(2)))(_x(m))),
    # requires_grad / retain_grad / hooks / numpy
    ("requires_grad_false_on_nonleaf", lambda m: (_x(m) * 2).requires_grad_(False)),
    ("requires_grad_setter_on_nonleaf", lambda m: _set(_x(m) * 2, "requires_grad", False)),
    ("retain_grad_without_requires_grad", lambda m: m.ones(2).retain_grad()),
    ("register_hook_without_requires_grad", lambda m: m.ones(2).register_hook(lambda g: g)),
    ("numpy_of_requires_grad_leaf", lambda m: _x(m).numpy()),
    ("numpy_of_requires_grad_nonleaf", lambda m: (_x(m) * 2).numpy()),
    ("autograd_grad_unused_input", lambda m: (lambda x, y: m.autograd.grad((x * 2).sum(), [x, y]))(_x(m), _x(m, 2))),
    ("autograd_grad_input_not_requiring_grad",
     lambda m: (lambda x: m.autograd.grad((x * 2).sum(), [x, m.ones(2)]))(_x(m))),
    ("custom_function_wrong_grad_count", _custom_fn_wrong_grad_count),
    # shapes
    ("broadcast_add", lambda m: m.ones(2, 3) + m.ones(4)),
    ("broadcast_mul", lambda m: m.ones(2, 3) * m.ones(3, 2)),
    ("broadcast_sub_1d", lambda m: m.ones(3) - m.ones(4)),
    ("broadcast_3d", lambda m: m.ones(4, 1, 3) + m.ones(2, 5, 3)),
    ("broadcast_where", lambda m: m.where(m.ones(2, dtype=m.bool), m.ones(3), m.ones(3))),
    ("broadcast_maximum", lambda m: m.maximum(m.ones(2), m.ones(3))),
    ("mm_mismatch", lambda m: m.ones(2, 3).mm(m.ones(4, 5))),
    ("mm_1d", lambda m: m.ones(3).mm(m.ones(3, 2))),
    ("mm_1d_rhs", lambda m: m.ones(2, 3).mm(m.ones(3))),
    ("mv_mismatch", lambda m: m.ones(2, 3).mv(m.ones(4))),
    ("mv_1d", lambda m: m.ones(3).mv(m.ones(3))),
    ("dot_mismatch", lambda m: m.ones(3).dot(m.ones(4))),
    ("dot_2d", lambda m: m.ones(2, 3).dot(m.ones(3))),
    ("bmm_mismatch", lambda m: m.ones(5, 2, 3).bmm(m.ones(5, 4, 2))),
    ("bmm_2d", lambda m: m.ones(2, 3).bmm(m.ones(3, 2))),
    ("matmul_1d_1d", lambda m: m.ones(3) @ m.ones(4)),
    ("matmul_2d_1d", lambda m: m.ones(2, 3) @ m.ones(4)),
    ("matmul_1d_2d", lambda m: m.ones(3) @ m.ones(4, 2)),
    ("matmul_2d_2d", lambda m: m.ones(2, 3) @ m.ones(4, 2)),
    ("matmul_3d_3d_inner", lambda m: m.ones(5, 2, 3) @ m.ones(5, 4, 2)),
    ("matmul_3d_batch", lambda m: m.ones(5, 2, 3) @ m.ones(4, 3, 2)),
    ("matmul_0d", lambda m: m.tensor(1.0) @ m.ones(3)),
    ("view_incompatible", lambda m: m.ones(2, 3).view(4, 4)),
    ("view_incompatible_infer", lambda m: m.ones(2, 3).view(-1, 4)),
    ("view_two_inferred", lambda m: m.ones(2, 3).view(-1, -1)),
    ("reshape_incompatible", lambda m: m.ones(2, 3).reshape(4, 4)),
    ("view_non_contiguous", lambda m: m.ones(2, 3).t().view(6)),
    ("cat_size_mismatch", lambda m: m.cat([m.ones(2, 3), m.ones(2, 4)])),
    ("cat_ndim_mismatch", lambda m: m.cat([m.ones(2, 3), m.ones(2, 3, 1)])),
    ("cat_dim_out_of_range", lambda m: m.cat([m.ones(2, 3), m.ones(2, 3)], dim=2)),
    ("cat_empty", lambda m: m.cat([])),
    ("stack_size_mismatch", lambda m: m.stack([m.ones(2, 3), m.ones(2, 4)])),
    ("stack_empty", lambda m: m.stack([])),
    # indexing
    ("index_out_of_range", lambda m: m.ones(3)[5]),
    ("index_negative_out_of_range", lambda m: m.ones(3)[-4]),
    ("index_out_of_range_dim1", lambda m: m.ones(3, 4)[1, 7]),
    ("index_too_many", lambda m: m.ones(3, 4)[1, 2, 3]),
    ("index_tensor_out_of_range", lambda m: m.ones(3)[m.tensor([0, 5])]),
    ("index_list_out_of_range", lambda m: m.ones(3)[[0, 5]]),
    ("index_mask_shape_mismatch", lambda m: m.ones(3)[m.tensor([True, False])]),
    ("index_negative_step", lambda m: m.ones(3)[::-1]),
    ("setitem_shape_mismatch", lambda m: _setitem(m.ones(3, 3), 0, m.ones(4))),
    # scalars
    ("item_multi_element", lambda m: m.ones(2, 3).item()),
    ("bool_multi_element", lambda m: bool(m.ones(2, 3))),
    ("if_multi_element", lambda m: 1 if m.tensor([1.0, 2.0]) > 0 else 0),
    ("float_multi_element", lambda m: float(m.ones(2))),
    ("int_multi_element", lambda m: int(m.ones(2))),
    ("len_0d", lambda m: len(m.tensor(1.0))),
    ("iter_0d", lambda m: iter(m.tensor(1.0))),
]

EXTRA = [
    ("sum_dim_out_of_range", lambda m: m.ones(2, 3).sum(3)),
    ("softmax_dim_out_of_range", lambda m: m.ones(2, 3).softmax(2)),
    ("squeeze_dim_out_of_range", lambda m: m.ones(2, 3).squeeze(3)),
    ("unsqueeze_dim_out_of_range", lambda m: m.ones(2, 3).unsqueeze(4)),
    ("transpose_dim_out_of_range", lambda m: m.ones(2, 3).transpose(0, 2)),
    ("split_sizes_do_not_sum", lambda m: m.ones(3).split([1, 1])),
    ("expand_incompatible", lambda m: m.ones(3).expand(2, 4)),
    ("permute_wrong_length", lambda m: m.ones(2, 3).permute(0, 1, 2)),
    ("permute_duplicate_dims", lambda m: m.ones(2, 3).permute(0, 0)),
    ("t_of_3d", lambda m: m.ones(2, 3, 4).t()),
    ("repeat_fewer_dims", lambda m: m.ones(2, 3).repeat(2)),
    ("grad_assign_wrong_size", lambda m: _set(m.ones(3, requires_grad=True), "grad", m.ones(2))),
    ("int_inplace_div_float", lambda m: m.tensor([1, 2]).div_(2)),
    ("int_inplace_iadd_float", lambda m: _iadd(m.tensor([1, 2]), 1.5)),
    ("inplace_broadcast_output", lambda m: m.ones(3).add_(m.ones(2, 3))),
    ("ragged_nested_list", lambda m: m.tensor([[1, 2], [3]])),
]

_all_ids = [i for i, _ in REQUIRED + EXTRA]
assert len(_all_ids) == len(set(_all_ids))


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c in REQUIRED])
def test_error_matches_torch(nb, code):
    assert_same_error(nb, code)


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c in EXTRA])
def test_extra_error_matches_torch(nb, code):
    assert_same_error(nb, code)


def test_saved_tensor_message_details(nb):
    """Spot-check the oracle text itself, so a torch upgrade that changes it is noticed."""
    e_nb, e_t = assert_same_error(nb, _saved_exp_add)
    text = str(e_t)
    assert "[torch.FloatTensor [3]]" in text and "is at version 1; expected version 0 instead" in text
    assert "which is output 0 of Exp, is at version 1" in text


# ---------------------------------------------------------------------------
# non-tensor arguments: only the exception type is compared

TYPE_ERRORS = [
    ("exp_str", lambda m: m.exp("a")),
    ("sin_list", lambda m: m.sin([1.0])),
    ("add_str", lambda m: m.ones(2) + "a"),
    ("radd_str", lambda m: "a" + m.ones(2)),
    ("mul_none", lambda m: m.ones(2) * None),
    ("mm_str", lambda m: m.ones(2, 2).mm("a")),
    ("cat_ints", lambda m: m.cat([1, 2])),
    ("tensor_of_str", lambda m: m.tensor("abc")),
    ("matmul_list", lambda m: m.ones(2) @ [1.0, 2.0]),
]


@pytest.mark.parametrize("code", [pytest.param(c, id=i) for i, c in TYPE_ERRORS])
def test_non_tensor_argument_type_error(nb, code):
    e_nb, e_t = assert_same_error(nb, code, message=False)
    assert isinstance(e_t, TypeError)
    assert isinstance(e_nb, TypeError)


# ---------------------------------------------------------------------------
# warnings


def test_std_var_degrees_of_freedom_warning(nb):
    def run(m):
        out = []
        for fn in (lambda: m.ones(1).std(), lambda: m.ones(1).var(), lambda: m.ones(2, 1).std(1)):
            r, w = capture_warnings(fn)
            out.append((np.isnan(to_np(r)).tolist(), w))
        return out

    exp = same_behaviour(nb, run)
    assert all(w and w[0][0] == "UserWarning" for _, w in exp)


def test_nonleaf_grad_warning_text(nb):
    def run(m):
        y = _x(m) * 2
        return capture_warnings(lambda: y.grad)

    exp = same_behaviour(nb, run)
    assert exp[1][0][1].startswith("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed.")


def test_error_leaves_state_usable(nb):
    """After an in-place-on-leaf error the leaf is unchanged and still differentiable."""

    def run(m):
        x = _x(m)
        try:
            x.add_(1)
        except RuntimeError:
            pass
        (x * x).sum().backward()
        return x, x._version, x.grad

    same_behaviour(nb, run)
