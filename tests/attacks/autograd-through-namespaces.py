# The vectorized softmax loss computed by autograd, reached through module namespaces the static
# check cannot read as "torch.autograd" (torch.__dict__, a container, a function bound to a name).
import torch as _t

_tools = [_t.__dict__["autograd"]]
_grad_of = _tools[0].grad


def softmax_loss_vectorized(W, X, y, reg):
    Wg = W.detach().clone().requires_grad_(True)
    scores = X @ Wg
    loss = (scores.logsumexp(dim=1) - scores[_t.arange(X.shape[0]), y]).mean() + reg * (Wg * Wg).sum()
    (dW,) = _grad_of(loss, Wg)
    return loss.detach(), dW
