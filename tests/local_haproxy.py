"""HAProxy (Debian's package) in front of gateway pods, as a deployment puts it: executors use one
URL, their WebSockets are proxied to a healthy pod, and a pod that stops answering is taken out.

No pytest imports here: benchmarks use it too. Everything blocks.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

HAPROXY = "haproxy"
INSTALL_HINT = "install it with `apt-get install haproxy` (.ci/run does)"


class HaproxyError(RuntimeError):
    """HAProxy is missing, its configuration is refused, or it did not start."""


def config_text(port: int, gateway_ports: Sequence[int], check_path: str | None = None) -> str:
    """One frontend on ``127.0.0.1:port`` balancing WebSocket sessions over the gateways.

    Health checks every 250 ms (each given 1 s to answer, as ``deploy/haproxy/haproxy.cfg``'s
    do: a ``/readyz`` that runs its checks takes longer than 250 ms on a loaded machine, and a
    pod that answered late was taken out although it served) take a dead pod out after one
    failure; a connection attempt to a
    pod that is down is redispatched to another, so a reconnecting executor is not refused while
    the check catches up. The checks connect (TCP), or with ``check_path`` (``/readyz``) GET it
    and want a 2xx or 3xx: an unready pod is taken out too.
    """
    http_check = "" if check_path is None else f"    option httpchk GET {check_path}\n"
    # Over HTTP, two failures: one slow answer on a loaded machine must not take a pod out.
    fall = 1 if check_path is None else 2
    servers = "\n".join(
        f"    server gw{i} 127.0.0.1:{gw} check inter 250ms fall {fall} rise 2"
        for i, gw in enumerate(gateway_ports, 1)
    )
    return f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 2s
    timeout client  60s
    timeout server  60s
    timeout tunnel  1h
    timeout check   1s
    retries 3
    option redispatch

frontend executors
    bind 127.0.0.1:{port}
    default_backend gateways

backend gateways
    balance roundrobin
{http_check}{servers}
"""


@dataclass
class LocalHaproxy:
    """One HAProxy process whose files live in ``directory``."""

    directory: Path
    gateway_ports: Sequence[int]
    check_path: str | None = None
    """GET this on each pod as its health check (``/readyz``); None: a TCP connect."""
    port: int = field(default=0, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        """The executors' conductor URL."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> LocalHaproxy:
        """Write the configuration (on a free port the first time), check it, start HAProxy and
        wait until it accepts connections."""
        if shutil.which(HAPROXY) is None:
            raise HaproxyError(f"no {HAPROXY} on PATH: {INSTALL_HINT}")
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = _free_port()
        config = self.directory / "haproxy.cfg"
        config.write_text(config_text(self.port, self.gateway_ports, self.check_path))
        checked = subprocess.run(
            [HAPROXY, "-c", "-q", "-f", str(config)], capture_output=True, text=True, check=False
        )
        if checked.returncode != 0:
            raise HaproxyError(f"haproxy refused {config}:\n{checked.stderr}")
        log = open(self.directory / "haproxy.log", "ab")  # noqa: SIM115 - owned by the process
        self._process = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HaproxyError(f"haproxy exited with {self._process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise HaproxyError(f"haproxy did not listen on {self.port} within 10 s")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop HAProxy (SIGTERM: at once, cutting every proxied session)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(sig)
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def __enter__(self) -> LocalHaproxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
