# Tries to reach the network: a server the test opens on this machine (127.0.0.1) and a
# public DNS resolver. The graded function itself is the reference.
import socket

_reference_svm_loss_naive = svm_loss_naive


def _phone_home():
    for host, port in (("127.0.0.1", @@PORT@@), ("1.1.1.1", 53)):
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                s.sendall(b"exfiltrated")
            print("NETWORK REACHED", host)
        except OSError as exc:
            print("network refused:", host, type(exc).__name__)


def svm_loss_naive(W, X, y, reg):
    _phone_home()
    return _reference_svm_loss_naive(W, X, y, reg)
