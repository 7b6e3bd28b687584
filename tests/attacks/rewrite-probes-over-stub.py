# part: neural_net
# base: stub
# The untouched Part 3 stub, plus code that rewrites the grader's probes in its own process so
# that they answer with torch's own activations, parameter counts and the like: every value
# the parent compares would be right although the student wrote nothing, and the static check
# "written from their definitions" would read the untouched stub and find no torch activation.
import grader.probes as _gp
import torch as _torch

_TORCH = {"sigmoid": _torch.sigmoid, "tanh": _torch.tanh, "relu": _torch.relu}


def _activation(module, name, x, upstream):
    leaf = x.detach().clone().requires_grad_(True)
    y = _TORCH[name](leaf)
    (grad,) = _torch.autograd.grad(y, leaf, grad_outputs=upstream)
    return {"out": _TORCH[name](x.detach()), "grad": grad}


def _count_with(module, frozen):
    return {"count": 23 if frozen else 63}


_gp.load_all()
_gp._PROBES["neural_net.activation"] = _activation
_gp._PROBES["neural_net.count_with"] = _count_with
