"""Shared timing helper for the benchmark scripts."""

import socket
import subprocess
import sys
import time
from pathlib import Path


def best_of(fn, repeat=3):
    """Fastest wall time of ``repeat`` calls, seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed_child(argv: list[str], env: dict, workdir: Path) -> tuple[float, float] | None:
    """Run ``argv`` (its arguments read from a file in ``workdir``, so long file lists fit)
    in a child process: (seconds, the largest descendant's peak RSS in MB), or None if it
    failed."""
    args_file = workdir / f"args-{abs(hash(tuple(argv))) % 10**8}.txt"
    args_file.write_text("\n".join(argv))
    code = ("import resource, subprocess, time; t = time.perf_counter(); "
            f"subprocess.run(open({str(args_file)!r}).read().split('\\n'), check=True, "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "print(time.perf_counter() - t, "
            "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, check=False)
    if done.returncode:
        return None
    secs, rss = done.stdout.split()
    return float(secs), float(rss)


def wait_until_up(proc: subprocess.Popen, url: str) -> None:
    """Wait (up to 60 s) for the server ``proc`` to answer ``url``/health; killed and
    SystemExit if it does not."""
    import httpx  # lazy: only the scripts that start a server need it

    for _ in range(300):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")
