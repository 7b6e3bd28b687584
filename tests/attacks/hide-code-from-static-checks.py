# Hides what the static checks look for: a Python loop run through exec(), and autograd reached
# through names built at run time. Both losses still compute the right values; only the checks
# that read the source ("no Python loops", "from scratch") must fail, naming what hid the code.


def svm_loss_vectorized(W, X, y, reg):
    num_train = X.shape[0]
    scores = X.mm(W)
    margins = torch.zeros_like(scores)
    exec("for i in range(num_train):\n"
         "    margins[i] = (scores[i] - scores[i, y[i]] + 1).clamp(min=0)\n"
         "    margins[i, y[i]] = 0\n")
    loss = margins.sum() / num_train + reg * torch.sum(W * W)
    coeff = (margins > 0).to(W.dtype)
    coeff[torch.arange(num_train, device=X.device), y] = -coeff.sum(dim=1)
    dW = X.t().mm(coeff) / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    Wg = W.detach().clone().requires_grad_(True)
    s = X.mm(Wg)
    s = s - s.max(dim=1, keepdim=True).values
    rows = torch.arange(X.shape[0], device=X.device)
    loss = (s.exp().sum(dim=1).log() - s[rows, y]).mean() + reg * torch.sum(Wg * Wg)
    getattr(loss, "back" + "ward")()
    return loss.detach(), getattr(Wg, "gr" + "ad")
