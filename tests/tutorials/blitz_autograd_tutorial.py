# "A Gentle Introduction to torch.autograd" (60-minute blitz), from pytorch/tutorials
# beginner_source/blitz/autograd_tutorial.py. Prose trimmed; every statement kept except:
#
# Left out (they need torchvision, which cannot be imported here, and a download of the
# pretrained resnet18 weights):
#   from torchvision.models import resnet18, ResNet18_Weights
#   model = resnet18(weights=ResNet18_Weights.DEFAULT)
#   prediction = model(data) # forward pass
#   loss = (prediction - labels).sum()
#   loss.backward() # backward pass
#   optim = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
#   optim.step() #gradient descent
#   model = resnet18(weights=ResNet18_Weights.DEFAULT)
#   for param in model.parameters():
#       param.requires_grad = False
#   model.fc = nn.Linear(512, 10)
#   optimizer = optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
import torch
data = torch.rand(1, 3, 64, 64)
labels = torch.rand(1, 1000)

# Differentiation in Autograd
import torch

a = torch.tensor([2., 3.], requires_grad=True)
b = torch.tensor([6., 4.], requires_grad=True)

Q = 3*a**3 - b**2

external_grad = torch.tensor([1., 1.])
Q.backward(gradient=external_grad)

# check if collected gradients are correct
print(9*a**2 == a.grad)
print(-2*b == b.grad)

# Exclusion from the DAG
x = torch.rand(5, 5)
y = torch.rand(5, 5)
z = torch.rand((5, 5), requires_grad=True)

a = x + y
print(f"Does `a` require gradients? : {a.requires_grad}")
b = x + z
print(f"Does `b` require gradients?: {b.requires_grad}")

from torch import nn, optim
