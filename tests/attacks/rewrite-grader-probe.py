# Rewrites every probe of the grader inside its own process, so that anything a probe reports
# is whatever the student likes, and hides two faults behind that: a loss that empties its
# input X after computing the right answer, and a training loop that runs a fixed 100
# iterations. Neither verdict comes from a probe: the grader sees the input's memory itself
# (shared with the child) and serves the mocked loss function itself (each call crosses back).
import grader.probes


def _forged(*args, **kwargs):
    return {"calls": [{}] * 7, "inputs_kept": True, "labels_kept": True, "train_calls": [{"num_iters": 37}]}


grader.probes.load_all()
for _key in list(grader.probes._PROBES):
    grader.probes._PROBES[_key] = _forged


_honest_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    loss, dW = _honest_svm_loss_naive(W, X, y, reg)
    X.zero_()
    return loss, dW


def train_linear_classifier(loss_func, W, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100, batch_size=200,
                            verbose=False):
    num_iters = 100
    if W is None:
        W = 1e-6 * torch.randn(X.shape[1], int(y.max()) + 1, device=X.device, dtype=X.dtype)
    history = []
    for _ in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, X.shape[0], batch_size)
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        history.append(loss.item())
        W = W - learning_rate * grad
    return W, history
