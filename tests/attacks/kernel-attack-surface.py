# Reaches for the kernel interfaces that privilege escalations usually start from: a user
# namespace (root inside it), io_uring and userfaultfd. Where any of them is granted the loss
# reports it and returns a wrong value; the sandbox's system call filter refuses them all, so
# the loss computes normally and the check passes.
import ctypes as _ctypes

_libc = _ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = _ctypes.c_long
_honest_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    ring = _ctypes.create_string_buffer(120)
    granted = [name for name, nr, args in (("user namespace", 272, (0x10000000,)),
                                           ("io_uring", 425, (4, _ctypes.addressof(ring))),
                                           ("userfaultfd", 323, (1,)))
               if _libc.syscall(_ctypes.c_long(nr), *[_ctypes.c_long(a) for a in args]) >= 0]
    if granted:
        print("GRANTED:", ", ".join(granted))
        return torch.zeros((), dtype=W.dtype), torch.zeros_like(W)
    return _honest_svm_loss_naive(W, X, y, reg)
