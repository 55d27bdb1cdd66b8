# The docstring examples of the grad-mode context managers (torch.no_grad, torch.enable_grad,
# torch.set_grad_enabled, torch.inference_mode), from torch/autograd/grad_mode.py of
# PyTorch 2.13, in order. Each ``>>> expr`` whose value the REPL would echo is written
# ``print(expr)``; the xdoctest directives are dropped. The one example the docstring marks
# "+SKIP: want string isn't quite right" (``y._version`` on an inference tensor raises) is
# kept, with the error printed as the REPL's last traceback line would print it.
import torch

# no_grad
x = torch.tensor([1.], requires_grad=True)
with torch.no_grad():
    y = x * 2
print(y.requires_grad)
@torch.no_grad()
def doubler(x):
    return x * 2
z = doubler(x)
print(z.requires_grad)
@torch.no_grad()
def tripler(x):
    return x * 3
z = tripler(x)
print(z.requires_grad)
# factory function exception
with torch.no_grad():
    a = torch.nn.Parameter(torch.rand(10))
print(a.requires_grad)

# enable_grad
x = torch.tensor([1.], requires_grad=True)
with torch.no_grad():
    with torch.enable_grad():
        y = x * 2
print(y.requires_grad)
y.backward()
print(x.grad)
@torch.enable_grad()
def doubler(x):
    return x * 2
with torch.no_grad():
    z = doubler(x)
print(z.requires_grad)
@torch.enable_grad()
def tripler(x):
    return x * 3
with torch.no_grad():
    z = tripler(x)
print(z.requires_grad)

# set_grad_enabled
x = torch.tensor([1.], requires_grad=True)
is_train = False
with torch.set_grad_enabled(is_train):
    y = x * 2
print(y.requires_grad)
_ = torch.set_grad_enabled(True)
y = x * 2
print(y.requires_grad)
_ = torch.set_grad_enabled(False)
y = x * 2
print(y.requires_grad)
_ = torch.set_grad_enabled(True)  # (not in the docstring: restores the default for what follows)

# inference_mode
import torch
x = torch.ones(1, 2, 3, requires_grad=True)
with torch.inference_mode():
    y = x * x
print(y.requires_grad)
try:
    y._version
except RuntimeError as e:
    print(f"{type(e).__name__}: {e}")
@torch.inference_mode()
def func(x):
    return x * x
out = func(x)
print(out.requires_grad)
@torch.inference_mode()
def doubler(x):
    return x * 2
out = doubler(x)
print(out.requires_grad)
