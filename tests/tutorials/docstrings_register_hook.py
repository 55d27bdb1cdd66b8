# The docstring example of torch.Tensor.register_hook, from torch/_tensor.py of PyTorch 2.13.
# ``>>> v.grad`` is written ``print(v.grad)`` (the docstring still shows the pre-0.4 legacy
# repr; PyTorch 2.13 prints ``tensor([2., 4., 6.])``).
import torch

v = torch.tensor([0., 0., 0.], requires_grad=True)
h = v.register_hook(lambda grad: grad * 2)  # double the gradient
v.backward(torch.tensor([1., 2., 3.]))
print(v.grad)

h.remove()  # removes the hook
