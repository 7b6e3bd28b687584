"""Unit tests of the sandbox itself: Sandbox(code_dir), session(module), call()."""
from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import stat
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch

from grader import sandbox as sandbox_module, wire
from grader.errors import SandboxUnavailable, StudentCrash, StudentException, StudentImportError, StudentTimeout
from grader.sandbox import Limits, Sandbox, check_unprivileged_interpreter, protect

ROOT = os.geteuid() == 0
LIMITS = Limits(import_timeout=8.0, call_timeout=4.0, memory_mb=512, file_mb=8, output_kill_mb=2,
                output_kb=16, reply_mb=4, tmp_mb=32)
SHARED_TMP = dataclasses.replace(LIMITS, tmp_mb=0)  # the child sees the real /tmp (and the test's files)


@pytest.fixture
def scratch():
    """A folder every user can write to (sticky, like /tmp), for files a child leaves behind."""
    path = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    os.chmod(path, 0o1777)
    yield path
    import shutil

    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sandbox(tmp_path):
    """sandbox(source, **kwargs) -> Sandbox over a folder holding module ``m`` = source."""
    made = []

    def make(source: str, *, limits: Limits = LIMITS, **kwargs) -> Sandbox:
        code = tmp_path / f"code{len(made)}"
        code.mkdir()
        (code / "m.py").write_text(textwrap.dedent(source))
        sb = Sandbox(code, limits=limits, **kwargs)
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.close()


BASIC = """
    import os, sys, time, torch

    def add(a, b=0):
        return a + b

    def identity(x):
        return x

    def whoami():
        return {"pid": os.getpid(), "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
                "cwd": os.getcwd(), "env": dict(os.environ), "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
                "argv": sys.argv, "path0": sys.path[0]}

    def spin():
        while True:
            pass

    def shout(n):
        for i in range(n):
            print("line", i)
        return n
"""


def test_calls_return_plain_data(sandbox):
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        assert s.call("add", 2, b=3) == 5
        t = torch.arange(6.0).reshape(2, 3)
        out = s.call("identity", {"t": t, "xs": [1, 2.5, "s", None, (True,)]})
        assert torch.equal(out["t"], t) and out["xs"] == [1, 2.5, "s", None, (True,)]
        assert s.call("identity", wire.Attr("add")) is not None  # module attributes can be passed by name


@pytest.mark.skipif(not ROOT, reason="isolation needs root")
def test_child_is_unprivileged_isolated_and_clean(sandbox, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "s3cret")
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        info = s.call("whoami")
        assert s.isolated
        workdir = Path(info["cwd"])
        assert workdir.is_dir()
    # a user of its own: no other session, and no real account, has this id
    assert info["uid"] == info["gid"] >= sandbox_module.SESSION_UID_BASE and info["groups"] == []
    assert info["pid"] == 2  # the worker of its own PID namespace (PID 1 is the sandbox's init)
    assert "GRADER_TEST_SECRET" not in info["env"] and info["env"]["HOME"] == info["cwd"]
    assert info["fds"][:3] == [0, 1, 2] and len(info["fds"]) <= 5  # stdio, the call socket, the listing itself
    assert info["argv"] == ["student"] and info["path0"] == str(sb.code_dir)
    assert not workdir.exists()  # removed with the session


@pytest.mark.skipif(not ROOT, reason="isolation needs root")
def test_namespace_init_is_spawned_not_forked(sandbox):
    """The init holds no copy of the zygote's memory: a small interpreter started by posix_spawn."""
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        assert s.call("add", 1, 2) == 3
        init_cmdline = Path(f"/proc/{s.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        worker_parent = int(Path(f"/proc/{s._worker_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    assert b" -S -I -c" in init_cmdline
    assert worker_parent != s.pid  # the worker is the init's sibling, forked outside the namespace


@pytest.mark.skipif(not ROOT, reason="isolation needs root")
def test_child_lists_only_its_own_processes(sandbox):
    """With a mount namespace, /proc is the session's own: the grader and other sessions are not listed."""
    sb = sandbox("""
        import os

        def pids():
            return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    """)
    with sb.session("m") as s:
        if not s.private_tmp:
            pytest.skip("no mount namespace here")
        assert s.call("pids") == [1, 2]  # the session's init and the worker
    assert os.getpid() > 2


@pytest.mark.skipif(not ROOT, reason="isolation needs root")
def test_isolation_holds_when_the_init_cannot_be_spawned(sandbox, monkeypatch, scratch):
    """Fallback: the namespace's init is forked from the zygote instead of posix_spawned."""
    import grader.sandbox_zygote as zygote

    monkeypatch.setattr(zygote, "_spawn_init", lambda fds: None)
    sb = sandbox(BASIC, mode="fork")  # the zygote is forked from this process, patch included
    with sb.session("m") as s:
        info = s.call("whoami")
        assert s.isolated
        init_cmdline = Path(f"/proc/{s.pid}/cmdline").read_bytes()
    assert info["uid"] >= sandbox_module.SESSION_UID_BASE and info["pid"] == 2
    assert b" -S -I -c" not in init_cmdline.replace(b"\0", b" ")  # not the spawned init


@pytest.mark.skipif(not ROOT, reason="isolation needs root")
def test_code_is_read_only_and_hidden_paths_are_locked(sandbox, tmp_path, scratch):
    secret = scratch / "hidden_checks"
    secret.mkdir()
    os.chmod(secret, 0o755)
    (secret / "answers.py").write_text("ANSWER = 42\n")
    os.chmod(secret / "answers.py", 0o644)
    sb = sandbox(f"""
        import os

        def attempts():
            out = {{}}
            for label, fn in (("write code", lambda: open(os.path.join(os.path.dirname(__file__), "m.py"), "a")),
                              ("new file in code", lambda: open(os.path.join(os.path.dirname(__file__), "x.py"), "w")),
                              ("read secret", lambda: open("{secret}/answers.py").read()),
                              ("list secret", lambda: os.listdir("{secret}"))):
                try:
                    fn()
                    out[label] = "allowed"
                except OSError as exc:
                    out[label] = type(exc).__name__
            return out
    """, hidden_paths=[secret], limits=SHARED_TMP)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o700
    with sb.session("m") as s:
        out = s.call("attempts")
    assert out == {"write code": "PermissionError", "new file in code": "PermissionError",
                   "read secret": "PermissionError", "list secret": "PermissionError"}


def test_protect_only_tightens(tmp_path):
    a = tmp_path / "a"
    a.write_text("x")
    os.chmod(a, 0o644)
    b = tmp_path / "b"
    b.write_text("x")
    os.chmod(b, 0o600)
    changed = protect([a, b, tmp_path / "missing"])
    if ROOT:
        assert changed == [a] and stat.S_IMODE(a.stat().st_mode) == 0o600
    else:
        assert changed == []


@pytest.mark.skipif(not ROOT, reason="network namespaces need root")
def test_no_network(sandbox):
    sb = sandbox("""
        import socket

        def ifaces():
            return [name for _, name in socket.if_nameindex()]

        def connect():
            socket.create_connection(("127.0.0.1", 22), timeout=1)
    """)
    with sb.session("m") as s:
        assert s.call("ifaces") == ["lo"]
        with pytest.raises(StudentException, match="OSError|ConnectionRefused|Network is unreachable"):
            s.call("connect")


def test_import_failure_is_remembered(sandbox):
    sb = sandbox("raise ValueError('at import')\n")
    with pytest.raises(StudentImportError, match="raised ValueError while being imported: at import"):
        sb.session("m")
    t0 = time.monotonic()
    with pytest.raises(StudentImportError, match="at import"):
        sb.session("m")
    assert time.monotonic() - t0 < 0.5  # no second child


def test_import_that_hangs_times_out(sandbox):
    sb = sandbox("while True:\n    pass\n", limits=Limits(import_timeout=2.0))
    t0 = time.monotonic()
    with pytest.raises(StudentImportError, match="did not finish within 2 s"):
        sb.session("m")
    assert time.monotonic() - t0 < 10


def test_timeout_kills_the_child_and_later_calls_say_why(sandbox):
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        t0 = time.monotonic()
        with pytest.raises(StudentTimeout, match=r"spin\(\) did not return within 1 s"):
            s.call("spin", timeout=1)
        assert time.monotonic() - t0 < 5
        with pytest.raises(StudentCrash, match="was not run: .* earlier call ran out of time"):
            s.call("add", 1)
    with sb.session("m") as s2:  # a new session is a fresh child
        assert s2.call("add", 1, 1) == 2


def test_timeout_cap_bounds_every_call(sandbox):
    sb = sandbox(BASIC, limits=Limits(call_timeout_cap=1.0))
    with sb.session("m") as s:
        t0 = time.monotonic()
        with pytest.raises(StudentTimeout, match="within 1 s"):
            s.call("spin", timeout=60)
        assert time.monotonic() - t0 < 5


def test_session_deadline(sandbox):
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        s.deadline = time.monotonic() - 1
        with pytest.raises(StudentTimeout, match="time limit was already used up"):
            s.call("add", 1)


def test_output_is_captured_and_truncated(sandbox):
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        assert s.call("shout", 3) == 3
        assert s.output.splitlines() == ["line 0", "line 1", "line 2"]
        s.call("shout", 5000)
        assert len(s.output) < 16 * 1024 + 200 and "output truncated" in s.output


def test_flood_of_output_kills_the_child(sandbox):
    sb = sandbox(BASIC)
    with sb.session("m") as s:
        with pytest.raises(StudentCrash, match="printed more than 2 MB of output"):
            s.call("shout", 10**8)


def test_reply_too_large(sandbox):
    sb = sandbox("import torch\n\ndef big():\n    return torch.zeros(2 * 1024 * 1024)\n")
    with sb.session("m") as s:
        with pytest.raises(StudentCrash, match="returned too much data"):
            s.call("big")


def test_reply_of_millions_of_small_items_is_refused(sandbox):
    sb = sandbox("""
        import grader.wire

        grader.wire.to_wire = lambda value, *args, **options: value  # skip the child's own size checks

        def many():
            return list(range(3_000_000))
    """, limits=Limits(reply_mb=64))
    with sb.session("m") as s:
        with pytest.raises(StudentCrash, match="returned too much data .*nested containers"):
            s.call("many")


def test_hostile_reply_is_never_unpickled(sandbox, scratch):
    marker = scratch / "pwned"
    sb = sandbox(f"""
        import os, pickle, sys
        import grader.wire

        class Evil:
            def __reduce__(self):
                return (os.system, ("touch {marker}",))

        grader.wire.dumps = lambda obj: pickle.dumps(Evil())

        def anything():
            return 1
    """)
    with pytest.raises(StudentImportError, match="cannot read"):
        sb.session("m")
    assert not marker.exists()


def test_child_cannot_forge_plain_data_into_objects(sandbox):
    sb = sandbox("""
        import numpy as np, torch

        class T(torch.Tensor):
            pass

        def values():
            return [np.zeros(3), torch.zeros(2).as_subclass(T), torch.zeros(2, 2).to_sparse(), {"__opaque__": "x"}]
    """)
    with sb.session("m") as s:
        out = s.call("values")
    assert all(isinstance(v, wire.Opaque) for v in out[:3]), out
    assert out[0].type_name == "numpy.ndarray" and "tensor subclass" in out[1].type_name
    assert out[2].type_name == "sparse coo tensor"
    assert out[3] == {"__opaque__": "x"}  # a student's dict keys are escaped, not turned into markers


@pytest.mark.parametrize("body, message", [
    ("import os; os._exit(3)", "exit code 3"),
    ("import os; os.abort()", "aborted"),
    ("import ctypes; ctypes.c_int64.from_address(8).value", "segmentation fault"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "was killed"),
    ("import sys; sys.exit(4)", r"called exit\(\)/sys.exit\(4\)"),
    ("x = bytearray(2 * 1024 ** 3)", "ran out of memory"),
    ("open('big', 'wb').write(b'0' * (9 * 1024 * 1024))", "tried to write a file larger than 8 MB"),
])
def test_crashes_are_named(sandbox, body, message):
    sb = sandbox(f"def f():\n    {body}\n\ndef ok():\n    return 'ok'\n")
    with sb.session("m") as s:
        with pytest.raises((StudentCrash, StudentException), match=message):
            s.call("f")
    with sb.session("m") as s:
        assert s.call("ok") == "ok"


ROUTES_OF_WORK = """
    import os, signal, threading, time
    from concurrent.futures import ThreadPoolExecutor

    time.process_time = lambda: 0.0  # the student's own clock is irrelevant: the kernel's counts

    def busy(n):
        x = 0
        for i in range(n):
            x += i
        return x

    def exited_thread(n):
        t = threading.Thread(target=busy, args=(n,))
        t.start()
        t.join()

    def thread_pool(n):
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(busy, [n // 2, n // 2]))

    def waited_child(n):
        pid = os.fork()
        if pid == 0:
            busy(n)
            os._exit(0)
        os.waitpid(pid, 0)

    def auto_reaped_child(n):
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps it: its time goes to no parent
        pid = os.fork()
        if pid == 0:
            busy(n)
            os._exit(0)
        while True:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.01)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)

    def grandchild(n):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            if os.fork() == 0:  # double fork: the grandchild is nobody's to wait for
                busy(n)
                os.write(w, b"x")
                os._exit(0)
            os._exit(0)
        os.waitpid(pid, 0)
        os.read(r, 1)
        time.sleep(0.05)
"""
ROUTES = ("exited_thread", "thread_pool", "waited_child", "auto_reaped_child", "grandchild")


@pytest.mark.parametrize("route", ROUTES)
def test_cpu_time_counts_work_whatever_route_it_takes(sandbox, route):
    """CPU time is read by the parent from the kernel, and work done in a thread that has exited, a
    pool, a waited or auto-reaped child, or a grandchild counts in it (with the session's control
    group, where there is one)."""
    sb = sandbox(ROUTES_OF_WORK)
    with sb.session("m") as s:
        own = s.timed_call("busy", 3_000_000)
        other = s.timed_call(route, 3_000_000)
        accounting = s.cpu_accounting
    if accounting == "proc" and route in ("auto_reaped_child",):
        pytest.skip("without a control group an auto-reaped child's time is counted nowhere (docs/SECURITY.md)")
    assert own > 0.02 and other > 0.6 * own, (accounting, own, other)


def test_cpu_time_without_a_control_group_still_counts_exited_threads(sandbox, monkeypatch):
    from grader import sandbox as sandbox_module

    monkeypatch.setattr(sandbox_module, "_cgroup_root", lambda: None)
    sb = sandbox(ROUTES_OF_WORK)
    with sb.session("m") as s:
        assert s.cpu_accounting == "proc"
        own = s.timed_call("busy", 3_000_000)
        other = s.timed_call("exited_thread", 3_000_000)
    assert own > 0.02 and other > 0.6 * own, (own, other)


def _heartbeat_stops(path: Path) -> bool:
    deadline = time.monotonic() + 5
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.exists(), "the stray process never started"
    time.sleep(0.3)
    first = path.read_text()
    time.sleep(0.5)
    return path.read_text() == first


STRAY = """
    import os, time

    def daemon(path):
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                n = 0
                while True:
                    n += 1
                    with open(path, "w") as f:
                        f.write(str(n))
                    time.sleep(0.05)
            os._exit(0)
        time.sleep(0.3)
        return "started"
"""


def test_setsid_daemon_dies_with_the_session(sandbox, scratch):
    sb = sandbox(STRAY, limits=SHARED_TMP)
    beat = scratch / "beat"
    with sb.session("m") as s:
        assert s.call("daemon", str(beat)) == "started"
    assert _heartbeat_stops(beat)


def test_setsid_daemon_dies_with_the_session_without_namespaces(sandbox, scratch):
    """What a grader that is not root gets: a process group, plus the sandbox's subreaper."""
    sb = sandbox(STRAY, limits=SHARED_TMP)
    sb.isolated = False
    sb._uid = sb._gid = None
    beat = scratch / "beat"
    with sb.session("m") as s:
        assert s.call("daemon", str(beat)) == "started"
    assert _heartbeat_stops(beat)


def test_fork_and_thread_limits(sandbox):
    sb = sandbox("""
        import os, threading, time

        def forks():
            n = 0
            try:
                while True:
                    if os.fork() == 0:
                        time.sleep(60)
                        os._exit(0)
                    n += 1
            except OSError:
                return n

        def threads():
            n = 0
            try:
                while True:
                    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
                    n += 1
            except RuntimeError:
                return n
    """, limits=Limits(max_processes=16))
    with sb.session("m") as s:
        # the kernel counts every process of the session's own user
        assert 0 < s.call("forks") < 64
    with sb.session("m") as s:
        assert 0 < s.call("threads") < 64


def test_zygote_restarts_when_killed(sandbox):
    sb = sandbox(BASIC)
    os.kill(sb.zygote.pid, signal.SIGKILL)
    time.sleep(0.2)
    with sb.session("m") as s:
        assert s.call("add", 1, 2) == 3


@pytest.mark.skipif(not ROOT, reason="only root drops privileges")
def test_interpreter_nobody_cannot_use_is_refused(tmp_path, monkeypatch):
    private = tmp_path / "private"
    private.mkdir()
    os.chmod(private, 0o700)
    fake = private / "python3"
    fake.write_text("")
    monkeypatch.setattr(sys, "executable", str(fake))
    with pytest.raises(SandboxUnavailable, match=r"cannot use the Python interpreter .*Student code was not run"):
        check_unprivileged_interpreter()


@pytest.mark.skipif(not ROOT, reason="mount namespaces need root")
def test_private_tmp_is_bounded_and_invisible(sandbox):
    sb = sandbox("""
        import os

        def fill(folder):
            n = 0
            try:
                while True:
                    with open(os.path.join(folder, f"private-tmp-test-{os.getpid()}-{n}"), "wb") as f:
                        f.write(b"0" * (4 << 20))
                    n += 1
            except OSError as exc:
                return n, exc.errno

        def look():
            import m
            return sorted(os.listdir("/tmp")), os.path.dirname(m.__file__), os.getcwd()
    """)
    with sb.session("m") as s:
        assert s.private_tmp
        listing, code, cwd = s.call("look")
        assert code == str(sb.code_dir) and cwd.startswith(str(sb.code_dir.parent))
        assert not any(name.startswith(("pytest-of", "sandbox-test-")) for name in listing), listing
        n, err = s.call("fill", "/tmp")
        assert err == 28 and n <= 8  # ENOSPC within the 32 MB shared by /tmp and the work folder
        n2, err2 = s.call("fill", ".")
        assert err2 == 28 and n2 <= 1
    assert not list(Path("/tmp").glob("private-tmp-test-*"))


@pytest.mark.skipif(not ROOT, reason="mount namespaces need root")
def test_every_place_anyone_may_write_to_is_private_to_the_session(sandbox):
    """Not only /tmp: a folder or a file anywhere that anyone may write to (/run/lock, say) would
    carry data from one session to the next, and beyond the run, outside the bounded tmpfs."""
    base = Path("/run") if Path("/run").is_dir() else Path("/var")
    folder = Path(tempfile.mkdtemp(prefix="grader-test-open-", dir=base))
    os.chmod(folder, 0o1777)
    open_file = folder.with_suffix(".txt")
    open_file.write_text("host\n")
    os.chmod(open_file, 0o666)
    lock = Path("/run/lock")
    try:
        sandbox_module.writable_places(again=True)
        sb = sandbox(f"""
            import os

            def leave():
                with open("{folder}/left", "w") as f:
                    f.write("from an earlier session")
                with open("{open_file}", "a") as f:
                    f.write("appended")
                if os.path.isdir("{lock}"):
                    with open("{lock}/grader-test-left", "w") as f:
                        f.write("x")
                return True

            def look():
                with open("{open_file}") as f:
                    return sorted(os.listdir("{folder}")), f.read()
        """)
        with sb.session("m") as s:
            assert s.private_tmp and s.call("leave")
        with sb.session("m") as s:
            assert s.call("look") == ([], "")
        assert list(folder.iterdir()) == [] and open_file.read_text() == "host\n"
        assert not (lock / "grader-test-left").exists()
    finally:
        open_file.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
        sandbox_module.writable_places(again=True)


GPU_MODE = dataclasses.replace(LIMITS, gpu=True, cuda_host_mb=256)


def _limit_line(pid: int, name: str) -> list[str]:
    with open(f"/proc/{pid}/limits") as f:
        return next(line for line in f if line.startswith(name)).split()


def test_gpu_session_bounds_private_data_instead_of_address_space(sandbox):
    source = """
        def reserve(gb):  # address space only, as CUDA reserves it: not counted in gpu mode
            import mmap
            m = mmap.mmap(-1, gb << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0)  # PROT_NONE
            m.close()
            return "reserved"

        def hog():
            import torch
            return float(torch.ones(2 ** 28, dtype=torch.float64).sum())  # 2 GB of real data
    """
    sb = sandbox(source, limits=GPU_MODE)
    with sb.session("m") as s:
        assert _limit_line(s._worker_pid, "Max address space")[3] == "unlimited"
        assert _limit_line(s._worker_pid, "Max data size")[3] != "unlimited"
        assert s.call("reserve", 8) == "reserved"
        with pytest.raises((StudentCrash, StudentException), match="ran out of memory"):
            s.call("hog")
    with sandbox(source).session("m") as s:  # the default mode: the same reservation is refused
        assert _limit_line(s._worker_pid, "Max data size")[3] == "unlimited"
        with pytest.raises(StudentException):
            s.call("reserve", 8)


def test_gpu_session_keeps_the_choice_of_device_and_nothing_else(sandbox, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("GRADER_SECRET_SEED", "1234")
    with sandbox(BASIC, limits=GPU_MODE).session("m") as s:
        env = s.call("whoami")["env"]
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["CUDA_CACHE_PATH"].startswith(env["HOME"])
    assert "GRADER_SECRET_SEED" not in env
    with sandbox(BASIC).session("m") as s:
        assert "CUDA_VISIBLE_DEVICES" not in s.call("whoami")["env"]


def test_staged_arguments_and_wall_clock_timing(sandbox):
    sb = sandbox("""
        import time

        time.perf_counter = lambda: 0.0  # the child's clock is not the one that counts

        def describe(x, y):
            return [str(x.device), x.shape[0], float(y.sum())]

        def nap(x, y, seconds):
            time.sleep(seconds)
    """)
    x, y = torch.randn(1000, 30), torch.arange(5.0)
    with sb.session("m") as s:
        assert s.stage("xy", x, y, device="cpu") == "cpu"
        assert s.call("describe", staged="xy") == ["cpu", 1000, 10.0]
        per_call = s.timed_call("nap", staged="xy", clock="wall", repeat=4, seconds=0.05)
        assert 0.05 <= per_call < 0.5, per_call
        cpu = s.timed_call("nap", staged="xy", repeat=4, seconds=0.05)
        assert cpu < 0.04, cpu  # sleeping costs no CPU: the two clocks are different clocks
        with pytest.raises(ValueError, match="no other positional"):
            s.call("describe", x, staged="xy")
        with pytest.raises(StudentException, match="KeyError"):
            s.call("describe", staged="missing")
        if not torch.cuda.is_available():
            with pytest.raises(StudentException, match="(?i)cuda|nvidia"):
                s.stage("gpu", x, device="cuda")
            assert s.call("describe", staged="xy")[1] == 1000  # the session survives a refused device


# functions that write into their input, or leave it alone (for Watched arguments, on every backend)
IN_PLACE = """
        import torch

        def scale_in_place(x, y):
            x.mul_(2)
            return "done"

        def pure(x, y):
            return x * 2 + y.sum()
"""  # indented as the sources it is put before


def test_watched_inputs_show_in_place_changes_to_the_parent_whatever_the_child_says(sandbox):
    sb = sandbox(IN_PLACE + """
        def restore_after(x, y):
            old = x.clone()
            x.zero_()
            x.copy_(old)
            return "restored"

        def keep_for_later(x, y):
            global KEPT
            KEPT = x
            return float(x.sum())

        def write_kept():
            KEPT.fill_(7)
    """)
    x = torch.randn(5, 3, dtype=torch.float64)
    x[0, 0] = float("nan")
    y = torch.arange(4)
    with sb.session("m") as s:
        wx, wy = wire.Watched(x), wire.Watched(y)
        assert s.call("scale_in_place", wx, wy) == "done"
        assert wx.modified() and not wy.modified()
        assert torch.equal(wx.current()[1:], x[1:] * 2)
        wx2 = wire.Watched(x)
        out = s.call("pure", wx2, {"y": wire.Watched(y)}["y"])
        assert not wx2.modified() and torch.allclose(out[1:], x[1:] * 2 + 6)  # NaN compared as bytes: unchanged
        wx3 = wire.Watched(x)
        assert s.call("restore_after", wx3, wire.Watched(y)) == "restored" and not wx3.modified()
        wx4 = wire.Watched(x)
        s.call("keep_for_later", wx4, wire.Watched(y))
        assert not wx4.modified()
        s.call("write_kept")  # the child kept the shared tensor: later writes still show
        assert wx4.modified() and bool((wx4.current() == 7).all())
        empty = wire.Watched(torch.zeros(0, 3))
        assert s.call("pure", empty, wire.Watched(y)).shape == (0, 3) and not empty.modified()
        fds_before = len(os.listdir("/proc/self/fd"))
        for _ in range(5):
            w = wire.Watched(x)
            s.call("pure", w, wire.Watched(y))
            w.close()
        assert len(os.listdir("/proc/self/fd")) <= fds_before + 2  # the parent does not leak descriptors
    with pytest.raises(ValueError, match="dense CPU tensor"):
        wire.Watched(torch.randn(3).to_sparse())


def test_watched_memory_cannot_be_resized_by_the_child(sandbox):
    sb = sandbox("""
        import os

        def shrink(x):
            fds = [int(f) for f in os.listdir("/proc/self/fd")]
            results = []
            for fd in fds:
                try:
                    os.ftruncate(fd, 0)
                    results.append("shrunk")
                except OSError as exc:
                    results.append(type(exc).__name__)
            return results
    """)
    x = torch.randn(1000)
    with sb.session("m") as s:
        w = wire.Watched(x)
        s.call("shrink", w)  # its fd is closed once mapped: nothing to truncate through /proc/self/fd
        assert not w.modified() and torch.equal(w.current(), x)
    import fcntl

    seals = fcntl.fcntl(w.fd, fcntl.F_GET_SEALS)
    assert seals & fcntl.F_SEAL_SHRINK and seals & fcntl.F_SEAL_GROW and seals & fcntl.F_SEAL_SEAL


def test_grader_functions_called_by_student_code_run_in_the_parent(sandbox):
    sb = sandbox("""
        import threading

        def train(loss_func, W, steps):
            history = []
            for _ in range(steps):
                loss, grad = loss_func(W, W.sum())
                W = W - 0.1 * grad
                history.append(float(loss))
            return W, history

        def misuse(loss_func):
            try:
                loss_func("not a tensor", 0)
            except TypeError as exc:
                return "TypeError: " + str(exc)

        def threads(f):
            out = []
            ts = [threading.Thread(target=lambda: out.append(f(1))) for _ in range(4)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            return sorted(out)

        def spy_user(model, X):
            model.train(X, num_iters=5)
            return model, model.predict(X)

        def keep(f):
            global KEPT
            KEPT = f
            return f(1)

        def call_kept(f):
            try:
                return KEPT(2)
            except RuntimeError as exc:
                return "RuntimeError: " + str(exc)
    """)
    seen = []

    def loss_func(W, total):
        if not isinstance(W, torch.Tensor):
            raise TypeError(f"W must be a tensor, got {W!r}"[:80])
        seen.append((W.clone(), float(total)))
        return torch.tensor(float(len(seen))), torch.ones_like(W)

    W0 = torch.zeros(2, 3, dtype=torch.float64)
    with sb.session("m") as s:
        W, history = s.call("train", wire.Callback(loss_func), W0, 3)
        assert len(seen) == 3 and history == [1.0, 2.0, 3.0]
        assert torch.allclose(W, W0 - 0.3) and torch.allclose(seen[2][0], W0 - 0.2)
        assert s.call("misuse", wire.Callback(loss_func)).startswith("TypeError: W must be a tensor")
        assert s.call("threads", wire.Callback(lambda v: v + 1)) == [2, 2, 2, 2]
        calls = []
        spy = wire.CallbackObject("RecordingClassifier", train=lambda X, num_iters: calls.append(num_iters),
                                  predict=lambda X: torch.zeros(len(X), dtype=torch.int64))
        model, pred = s.call("spy_user", spy, torch.randn(4, 2))
        assert calls == [5] and pred.tolist() == [0, 0, 0, 0]
        assert isinstance(model, wire.Opaque) and model.type_name == "grader.RecordingClassifier"
        assert s.call("train", wire.Callback(loss_func), W0, 0)[1] == []  # the session still serves calls
        first, second = [], []
        assert s.call("keep", wire.Callback(lambda v: first.append(v) or v)) == 1
        refused = s.call("call_kept", wire.Callback(lambda v: second.append(v) or v))
        assert refused.startswith("RuntimeError: a grader function given to an earlier call") and not second
        assert first == [1]  # a function kept from an earlier call reaches neither that call's function nor this one's

        def grader_bug(W, total):
            raise KeyError("a bug in the grader's own function")

        with pytest.raises(KeyError):  # not the student's fault: it reaches the runner as a grader error
            s.call("train", wire.Callback(grader_bug), W0, 1)
        with pytest.raises(StudentCrash, match="grader failed while answering"):
            s.call("train", wire.Callback(loss_func), W0, 1)


KERNEL_PROBE = """
    import ctypes, os, subprocess, sys, threading

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def sc(nr, *args):
        r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
        return "ok" if r >= 0 else os.strerror(ctypes.get_errno())

    def refused():
        ring = ctypes.create_string_buffer(120)
        return {"unshare(CLONE_NEWUSER)": sc(272, 0x10000000),
                "clone(CLONE_NEWUSER)": sc(56, 0x10000000 | 17, 0, 0, 0, 0),
                "clone3": sc(435, 0, 0),
                "io_uring_setup": sc(425, 4, ctypes.addressof(ring)),
                "userfaultfd": sc(323, 1),
                "ptrace(PTRACE_TRACEME)": sc(101, 0, 0, 0, 0),
                "keyctl": sc(250, 0, -3, 0),
                "setns": sc(308, 0, 0)}

    def still_works():
        out = []
        t = threading.Thread(target=lambda: out.append("thread"))
        t.start()
        t.join()
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        out.append(os.WEXITSTATUS(os.waitpid(pid, 0)[1]))
        out.append(subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip())
        import torch
        out.append(float(torch.ones(300, 300).mm(torch.ones(300, 300)).sum()))
        return out
"""


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the system call filter is built for x86_64")
def test_kernel_interfaces_no_assignment_needs_are_refused(sandbox):
    with sandbox(KERNEL_PROBE, limits=SHARED_TMP).session("m") as s:
        assert s.syscall_filter
        with open(f"/proc/{s._worker_pid}/status") as f:  # read by the parent, from the kernel
            assert "Seccomp:\t2" in f.read()
        out = s.call("refused")
        assert out.pop("clone3") == os.strerror(38)  # ENOSYS: the C library falls back to clone()
        assert set(out.values()) == {os.strerror(1)}, out  # EPERM for every one
        assert s.call("still_works") == ["thread", 7, "42", 300.0 * 300 * 300]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_session_starts_cuda_under_its_limits(sandbox):
    sb = sandbox("""
        import torch

        def where(x):
            return [str(x.device), float((x * 2).sum().cpu())]
    """, limits=dataclasses.replace(GPU_MODE, cuda_host_mb=Limits().cuda_host_mb))
    with sb.session("m") as s:
        placed = s.stage("x", torch.ones(1000), device="cuda")
        assert placed.startswith("cuda:")
        assert s.call("where", staged="x") == [placed, 2000.0]
        assert s.timed_call("where", staged="x", clock="wall", repeat=10) > 0


def test_watched_inputs_work_without_memfd(sandbox, monkeypatch):
    """Systems without memfd (macOS, say) share an unlinked temporary file instead."""
    monkeypatch.delattr(os, "memfd_create")
    sb = sandbox("def scale(x):\n    x.mul_(3)\n\ndef pure(x):\n    return x + 1\n")
    x = torch.arange(6.0)
    with sb.session("m") as s:
        w, untouched = wire.Watched(x), wire.Watched(x)
        s.call("scale", w)
        s.call("pure", untouched)
        assert w.modified() and torch.equal(w.current(), x * 3) and not untouched.modified()


def _run_bpf(prog: list[tuple[int, int, int, int]], arch: int, nr: int, arg0: int = 0) -> int:
    """Evaluate a classic-BPF seccomp program on (arch, nr, args[0]): the value it returns."""
    data = {0: nr, 4: arch, 16: arg0 & 0xFFFFFFFF}
    acc, pc = 0, 0
    while True:
        code, jt, jf, k = prog[pc]
        if code == 0x20:
            acc = data[k]
        elif code == 0x06:
            return k
        else:
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[code]
            pc += jt if taken else jf
        pc += 1


HEADERS = {"x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
           "aarch64": Path("/usr/include/asm-generic/unistd.h")}


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_system_call_filter_program_for_each_architecture(machine):
    from grader import sandbox_zygote as sc

    deny = sc.SYSCALL_DENY[machine]
    arch, sys_clone, sys_clone3 = sc.SYSCALL_ARCH[machine]
    header = HEADERS[machine]
    if header.exists():  # the tables agree with this machine's kernel headers
        import re

        numbers = {m[1]: int(m[2]) for m in re.finditer(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", header.read_text())}
        assert {name: numbers[name] for name in deny} == deny
        assert (numbers["clone"], numbers["clone3"]) == (sys_clone, sys_clone3)
    prog = sc.syscall_filter_program(machine)
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    for nr in deny.values():
        assert _run_bpf(prog, arch, nr) == eperm
    allowed = set(range(0, 460)) - set(deny.values()) - {sys_clone, sys_clone3}
    assert all(_run_bpf(prog, arch, nr) == allow for nr in allowed)
    assert _run_bpf(prog, arch, sys_clone3) == enosys
    assert _run_bpf(prog, arch, sys_clone, 0x01200011) == allow  # fork's flags
    assert _run_bpf(prog, arch, sys_clone, 0x003D0F00) == allow  # a thread's flags
    assert _run_bpf(prog, arch, sys_clone, 0x10000000 | 17) == eperm  # CLONE_NEWUSER
    assert _run_bpf(prog, 0x40000003, 1) == eperm  # another calling convention (i386)
    assert _run_bpf(prog, arch, 0x40000000 + 1) == eperm  # x32 numbers


def test_memory_a_call_builds_is_read_by_the_parent(sandbox):
    """The evidence behind a hint about large intermediates: the peak of the worker's resident memory
    during one call, above its level before, read from the kernel."""
    import torch

    sb = sandbox("""
        import torch

        def small(x):
            return x.sum()

        def big(x):
            return (x[:, :, None] * torch.ones(1, 1, 400)).sum()   # 400x its input, then freed
    """)
    x = torch.ones(256, 256)
    with sb.session("m") as s:
        s.stage("x", x)
        small = s.memory_growth("small", staged="x")
        big = s.memory_growth("big", staged="x")
    if small is None or big is None:
        pytest.skip("the kernel's peak-memory counter cannot be reset here")
    nbytes = x.numel() * x.element_size()
    assert big > 200 * nbytes and small < 20 * nbytes, (small, big)


def test_a_paused_session_runs_nothing(sandbox):
    """While the grader times its yardstick elsewhere, nothing the student started keeps running."""
    sb = sandbox("""
        import threading

        counter = [0]

        def _spin():
            while True:
                counter[0] += 1

        def start():
            threading.Thread(target=_spin, daemon=True).start()

        def read():
            return counter[0]
    """)
    with sb.session("m") as s:
        s.call("start")
        time.sleep(0.2)
        before = s.cpu_time()
        with s.paused():
            time.sleep(0.5)
            during = s.cpu_time() - before
        time.sleep(0.3)
        after = s.cpu_time() - before
    assert during < 0.1 and after > 0.15, (during, after)


def test_a_probe_the_grader_does_not_have_is_the_grader_s_error_not_the_student_s(sandbox):
    from grader.errors import StudentCodeError

    sb = sandbox("def f():\n    return 1\n")
    with sb.session("m") as s:
        with pytest.raises(RuntimeError, match="no probe named 'nowhere.to_be_found'") as info:
            s.probe("nowhere.to_be_found")
        assert not isinstance(info.value, StudentCodeError)
        assert s.call("f") == 1  # the session carries on


def test_a_probe_s_own_bug_is_the_grader_s_error_and_what_student_code_raises_stays_the_student_s(sandbox):
    from grader.errors import StudentCodeError

    sb = sandbox("import torch\n\ndef relu(x):\n    raise ValueError('my relu is unfinished')\n")
    x, upstream = torch.randn(3), torch.ones(3)
    with sb.session("m") as s:
        with pytest.raises(RuntimeError, match="the probe 'neural_net.activation' failed: .*argument") as info:
            s.probe("neural_net.activation", "relu")  # the grader calls its probe without its arguments
        assert not isinstance(info.value, StudentCodeError)
        with pytest.raises(StudentException, match="my relu is unfinished"):
            s.probe("neural_net.activation", "relu", x, upstream)
        with pytest.raises(StudentException, match="AttributeError"):  # a function the module lacks
            s.probe("neural_net.activation", "sigmoid", x, upstream)


def test_the_autograd_hint_says_autograd_was_off_only_when_the_grader_switched_it_off():
    from grader import hints

    message = "element 0 of tensors does not require grad and does not have a grad_fn"
    where = '  File "m.py", line 7, in step\n    loss.backward()\n'
    off = hints.device_or_dtype_hint(message, where, autograd_off=True)
    on = hints.device_or_dtype_hint(message, where, autograd_off=False)
    assert "switched off" in off and "line 7: `loss.backward()`" in off
    assert "switched off" not in on and "does not depend on anything that requires a gradient" in on
    assert "line 7: `loss.backward()`" in on
