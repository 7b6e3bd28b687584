"""Makes this interpreter lack what Windows lacks, for tests/test_platforms.py.

Put this folder first on PYTHONPATH: at start-up the modules Windows does not have (pwd, grp,
fcntl, resource, termios) can no longer be imported, and the POSIX process and descriptor-passing
functions the Linux sandbox uses (fork, setsid, process groups, user ids, memfd, send_fds and
recv_fds) are gone from os and socket. Child interpreters inherit PYTHONPATH, so they lack them too.
"""
import importlib.abc
import os
import socket
import sys

MISSING_MODULES = {"pwd", "grp", "fcntl", "resource", "termios"}
MISSING_OS = ("fork", "forkpty", "setsid", "killpg", "getpgid", "setpgid", "memfd_create", "getuid", "geteuid",
              "setuid", "setgid", "setgroups", "posix_spawn", "WIFSIGNALED", "WTERMSIG", "WEXITSTATUS")
MISSING_SOCKET = ("send_fds", "recv_fds", "AF_UNIX")


class _Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in MISSING_MODULES:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


for _name in MISSING_MODULES:
    sys.modules.pop(_name, None)
sys.meta_path.insert(0, _Refuse())
for _name in MISSING_OS:
    if hasattr(os, _name):
        delattr(os, _name)
for _name in MISSING_SOCKET:
    if hasattr(socket, _name):
        delattr(socket, _name)
os.environ["GRADER_SIMULATED_PLATFORM"] = "windows-like"
