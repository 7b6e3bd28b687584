"""The portable session backend (grader.sandbox_portable): the sandbox's own tests, run again on it.

The tests imported from test_sandbox run here with this module's ``sandbox`` fixture, whose
sessions come from one shared portable Spawner: the same calls must give the same results and
the same messages as on the Linux backend. What differs by design is tested on its own below.
"""
from __future__ import annotations

import os
import textwrap
import time

import pytest
import torch
from test_sandbox import (  # noqa: F401 - collected here, with this module's fixture
    BASIC,
    IN_PLACE,
    LIMITS,
    ROUTES_OF_WORK,
    scratch,
    test_a_probe_s_own_bug_is_the_grader_s_error_and_what_student_code_raises_stays_the_student_s,
    test_a_probe_the_grader_does_not_have_is_the_grader_s_error_not_the_student_s,
    test_calls_return_plain_data,
    test_child_cannot_forge_plain_data_into_objects,
    test_crashes_are_named,
    test_flood_of_output_kills_the_child,
    test_grader_functions_called_by_student_code_run_in_the_parent,
    test_hostile_reply_is_never_unpickled,
    test_import_failure_is_remembered,
    test_import_that_hangs_times_out,
    test_output_is_captured_and_truncated,
    test_reply_of_millions_of_small_items_is_refused,
    test_reply_too_large,
    test_session_deadline,
    test_staged_arguments_and_wall_clock_timing,
    test_timeout_cap_bounds_every_call,
    test_timeout_kills_the_child_and_later_calls_say_why,
)

from grader import sandbox as sandbox_module, wire
from grader.errors import SandboxUnavailable, StudentCrash
from grader.sandbox import Sandbox
from grader.sandbox_portable import PortableSession, Spawner


@pytest.fixture(scope="module")
def spawner():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(sandbox_module.BACKEND_VARIABLE, "portable")  # as root, the portable backend must be asked for
        s = Spawner(reason="tests")
        yield s
        s.close()


@pytest.fixture
def sandbox(tmp_path, spawner, monkeypatch):
    """sandbox(source, **kwargs) -> a Sandbox over module ``m`` = source, on the portable backend."""
    monkeypatch.setenv(sandbox_module.BACKEND_VARIABLE, "portable")
    made = []

    def make(source: str, *, limits=LIMITS, **kwargs) -> Sandbox:
        code = tmp_path / f"code{len(made)}"
        code.mkdir()
        (code / "m.py").write_text(textwrap.dedent(source))
        sb = Sandbox(code, limits=limits, zygote=spawner, **kwargs)
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.close()


def test_sessions_are_portable_ones_and_leave_no_process_behind(sandbox):
    import psutil

    sb = sandbox(BASIC)
    with sb.session("m") as s:
        assert isinstance(s, PortableSession) and s.cpu_accounting == "psutil"
        pid = s.pid
        assert s.call("add", 1, 2) == 3
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


@pytest.mark.parametrize("route", ("exited_thread", "thread_pool", "waited_child"))
def test_cpu_time_counts_threads_and_waited_children(sandbox, route):
    """psutil reads the process's own totals (exited threads included) and those of the children it
    waited for; a grandchild or an auto-reaped child is counted nowhere (no control group here)."""
    sb = sandbox(ROUTES_OF_WORK)
    with sb.session("m") as s:
        own = s.timed_call("busy", 3_000_000)
        other = s.timed_call(route, 3_000_000)
    assert own > 0.02 and other > 0.6 * own, (own, other)


def test_without_psutil_cpu_time_is_what_the_child_reported(sandbox, monkeypatch):
    from grader import sandbox_portable

    monkeypatch.setattr(sandbox_portable, "psutil", None)
    sb = sandbox(ROUTES_OF_WORK.replace("time.process_time = lambda: 0.0", ""))
    with sb.session("m") as s:
        assert s.cpu_accounting == "replies"
        assert s.timed_call("busy", 3_000_000) > 0.02


def test_watched_inputs_travel_by_value_and_their_changes_come_back(sandbox):
    sb = sandbox(IN_PLACE + """
        def fail_after_writing(x, y):
            y.zero_()
            raise ValueError("after writing")
    """)
    x = torch.randn(5, 3, dtype=torch.float64)
    x[0, 0] = float("nan")
    y = torch.arange(1, 5)
    with sb.session("m") as s:
        wx, wy = wire.Watched(x), wire.Watched(y)
        assert s.call("scale_in_place", wx, wy) == "done"
        assert wx.modified() and not wy.modified() and wx.fd is None  # no shared memory was made
        assert torch.equal(wx.current()[1:], x[1:] * 2)
        wx2 = wire.Watched(x)
        assert torch.allclose(s.call("pure", wx2, wire.Watched(y))[1:], x[1:] * 2 + 10) and not wx2.modified()
        wy3 = wire.Watched(y)
        with pytest.raises(Exception, match="after writing"):
            s.call("fail_after_writing", wire.Watched(x), wy3)
        assert wy3.modified() and int(wy3.current().abs().sum()) == 0  # seen even when the call raised
    with pytest.raises(ValueError, match="dense CPU tensor"):
        wire.Watched(torch.randn(3).to_sparse())


def test_a_paused_session_runs_nothing_and_resumes(sandbox):
    """As on Linux, with psutil's suspend and resume (its CPU counters tick in hundredths of a
    second, and a spare interpreter may be booting beside the session meanwhile)."""
    sb = sandbox("""
        import threading

        def _spin():
            while True:
                pass

        def start():
            threading.Thread(target=_spin, daemon=True).start()
    """)
    with sb.session("m") as s:
        s.call("start")
        time.sleep(0.2)
        before = s.cpu_time()
        with s.paused():
            time.sleep(0.6)
            during = s.cpu_time() - before
        time.sleep(0.6)
        after = s.cpu_time() - before - during
    assert during < 0.05 and after > 0.2, (during, after)


def test_a_reply_s_watched_values_of_the_wrong_kind_are_ignored():
    w = wire.Watched(torch.zeros(2, 2))
    for forged in ("x", torch.zeros(3), torch.zeros(2, 2, dtype=torch.int64), None):
        w.receive(forged)
        assert not w.modified()
    w.receive(torch.ones(2, 2))
    assert w.modified() and torch.equal(w.current(), torch.ones(2, 2))


def test_memory_held_past_the_limit_stops_the_child_where_no_kernel_limit_applies(sandbox, monkeypatch):
    """The parent's watchdog bounds the resident memory of the session's processes (Windows and macOS
    have no address-space limit; here a child process holds the memory, out of the worker's limit)."""
    sb = sandbox("""
        import subprocess, sys

        def hog():
            code = "x = bytearray(700 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(30)"
            subprocess.run([sys.executable, "-c", code])
    """)
    with sb.session("m") as s:
        t0 = time.monotonic()
        with pytest.raises(StudentCrash, match="used more than 512 MB of memory"):
            s.call("hog", timeout=60)
        assert time.monotonic() - t0 < 30


def test_as_root_the_portable_backend_must_be_asked_for(tmp_path, monkeypatch):
    if not sandbox_module.is_root():
        pytest.skip("only root is refused the portable backend")
    monkeypatch.delenv(sandbox_module.BACKEND_VARIABLE, raising=False)
    spawner = Spawner(reason="missing here: /proc")
    try:
        (tmp_path / "m.py").write_text("x = 1\n")
        with pytest.raises(SandboxUnavailable, match="cannot run student code as another user"):
            Sandbox(tmp_path, zygote=spawner)
    finally:
        spawner.close()


def test_the_backend_is_chosen_from_what_the_system_has(monkeypatch):
    monkeypatch.delenv(sandbox_module.BACKEND_VARIABLE, raising=False)
    expected = "linux" if not sandbox_module._linux_backend_missing() else "portable"
    assert sandbox_module.backend()[0] == expected
    monkeypatch.setattr(sandbox_module.sys, "platform", "win32")
    kind, why = sandbox_module.backend()
    assert kind == "portable" and "win32" in why
    monkeypatch.setattr(sandbox_module.sys, "platform", "linux")
    monkeypatch.delattr(sandbox_module.os, "fork")
    assert sandbox_module.backend() == ("portable", "missing here: fork")
    monkeypatch.setenv(sandbox_module.BACKEND_VARIABLE, "portable")
    assert sandbox_module.backend()[0] == "portable"


def test_a_child_that_cannot_start_is_the_grader_s_failure_with_its_output(monkeypatch, tmp_path):
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "sitecustomize.py").write_text("raise SystemExit('broken interpreter here')\n")
    spawner = Spawner()
    try:
        with pytest.raises(SandboxUnavailable, match="ended while starting(.|\n)*broken interpreter here"):
            spawner.take()
    finally:
        spawner.close()
    assert os.environ["PYTHONPATH"] == str(tmp_path)


def test_a_connection_without_the_child_s_token_is_refused(tmp_path):
    """Anyone on the machine may connect to the loopback port first; only the child that read the token
    from its stdin is taken, whatever connected before it (a wrong token, none at all)."""
    import socket

    from grader.sandbox_portable import _Interpreter

    interp = _Interpreter(tmp_path, 1)
    try:
        port = interp.listener.getsockname()[1]
        rogues = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
        rogues[0].sendall(b"not-the-token\n")
        rogues[1].close()  # connects and says nothing
        conn = interp.connect()
        assert conn.getpeername() != rogues[0].getsockname()
        assert rogues[0].recv(1) == b""  # closed by the grader, never served
        rogues[0].close()
        from grader import wire

        wire.send_frame(conn, wire.dumps({"op": "spawn", "portable": True, "module": "", "code_dir": str(tmp_path),
                                          "workdir": str(tmp_path), "seed": 0, "memory_bytes": 1 << 30,
                                          "file_bytes": 1 << 20, "cpu_seconds": 60, "gpu": False}))
        reply = wire.loads(wire.recv_frame(conn, time.monotonic() + 30))
        assert reply["ok"] and reply["phase"] == "import"  # the real child, serving
    finally:
        interp.close()
