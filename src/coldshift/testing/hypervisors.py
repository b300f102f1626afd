"""Real hypervisors on one machine: one unprivileged session-mode ``libvirtd`` per "host".

libvirt.md: each stand-in host is its own ``libvirtd`` run as a dedicated non-root user with its
own runtime, config, data and cache directories, so two of them are independent hypervisors
(separate domains, separate pools) and a volume streamed from one to the other is a real
transfer. Used by the tests, the copy benchmark, and anyone trying the libvirt driver on one
machine (``python -m coldshift.testing.hypervisors``).

Starting a daemon as another user needs root (as the tests and CI run); a caller that is not
root can still use daemons it starts as itself.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

#: the unprivileged user the stand-in hosts run as (created when absent)
SERVICE_USER = "coldshift-hv"
LIBVIRTD = "/usr/sbin/libvirtd"
_START_SECONDS = 30.0
_ROOT = os.geteuid() == 0
#: QEMU capabilities as a daemon of this machine probed them, for the next daemons
_QEMU_CACHE = Path(tempfile.gettempdir()) / f"coldshift-hv-qemu-cache-{os.geteuid()}"


def unavailable_reason() -> str | None:
    """None when real daemons can be started here, else why not."""
    if not Path(LIBVIRTD).exists():
        return f"{LIBVIRTD} is not installed (apt-get install libvirt-daemon ...)"
    if shutil.which("qemu-img") is None:
        return "qemu-img is not installed (apt-get install qemu-utils)"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "the libvirt-python binding is not installed (pip install libvirt-python)"
    return None


def ensure_service_user() -> tuple[int, int]:
    """The (uid, gid) the daemons run as: SERVICE_USER when root, else the caller's own."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        # another test process may be adding it at the same instant: whoever wins, it exists
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
             SERVICE_USER],
            check=False, capture_output=True,
        )  # fmt: skip
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid


@dataclass
class SessionDaemon:
    """One stand-in host: a session ``libvirtd`` in its own directory."""

    name: str
    root: Path
    uid: int
    gid: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def socket(self) -> Path:
        return self.root / "run" / "libvirt" / "libvirt-sock"

    @property
    def uri(self) -> str:
        return f"qemu+unix:///session?socket={self.socket}"

    @property
    def pool_path(self) -> Path:
        """Where this host's storage pool keeps its volumes (the catalog's ``pool_path``)."""
        return self.root / "pool"

    @property
    def log(self) -> Path:
        return self.root / "libvirtd.log"

    def start(self) -> None:
        if self.running:
            return
        for sub in ("run", "config", "data", "cache", "home", "pool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        _seed_qemu_cache(self.root / "cache")
        _chown_tree(self.root, self.uid, self.gid)
        self.socket.unlink(missing_ok=True)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.root / "home"),
            "XDG_RUNTIME_DIR": str(self.root / "run"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_DATA_HOME": str(self.root / "data"),
            "XDG_CACHE_HOME": str(self.root / "cache"),
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [LIBVIRTD, "--timeout", "0"],
                env=env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=self.uid if _ROOT else None,
                group=self.gid if _ROOT else None,
                extra_groups=[] if _ROOT else None,
            )
        self._wait_for_socket()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Stop the daemon and every guest it started (a host going away)."""
        if self.process is None:
            return
        _kill_guests(self.root)
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None
        _kill_helpers(self.root / "run")

    def _wait_for_socket(self) -> None:
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self.socket.exists() and _answers(self.uri):
                return
            if self.process is not None and self.process.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
        self.stop()
        raise RuntimeError(f"libvirtd for {self.name} did not start in {self.root}:\n{tail}")


def start_daemons(names: list[str], base: Path) -> list[SessionDaemon]:
    """Start one daemon per name under ``base`` (each in ``base/<name>``), a directory that
    the service user can reach (e.g. made by ``tempfile.mkdtemp`` in /tmp)."""
    uid, gid = ensure_service_user()
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    daemons: list[SessionDaemon] = []
    try:
        for name in names:
            daemon = SessionDaemon(name, base / name, uid, gid)
            daemon.start()
            daemons.append(daemon)
            _keep_qemu_cache(daemon)
    except BaseException:
        stop_daemons(daemons)
        raise
    return daemons


def stop_daemons(daemons: list[SessionDaemon]) -> None:
    for daemon in daemons:
        daemon.stop()


def _seed_qemu_cache(cache: Path) -> None:
    """A new daemon probes QEMU for its capabilities (4 s here) unless its cache has them:
    give it those that an earlier daemon of this machine found."""
    if _QEMU_CACHE.is_dir() and not (cache / "libvirt").exists():
        shutil.copytree(_QEMU_CACHE, cache / "libvirt")


def _keep_qemu_cache(daemon: SessionDaemon) -> None:
    if _QEMU_CACHE.is_dir():
        return
    import libvirt

    conn = libvirt.open(daemon.uri)
    try:
        conn.getCapabilities()  # probes QEMU once, and fills the daemon's cache
    finally:
        conn.close()
    found = daemon.root / "cache" / "libvirt"
    if found.is_dir():
        partial = _QEMU_CACHE.with_name(f"{_QEMU_CACHE.name}.{os.getpid()}")
        shutil.copytree(found, partial, dirs_exist_ok=True)
        try:
            partial.rename(_QEMU_CACHE)
        except OSError:  # another process kept its copy first
            shutil.rmtree(partial, ignore_errors=True)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    if os.geteuid() != 0:
        return
    os.chown(root, uid, gid)
    for path in root.rglob("*"):
        os.chown(path, uid, gid, follow_symlinks=False)


def _answers(uri: str) -> bool:
    import libvirt

    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return False
    conn.close()
    return True


def _kill_guests(root: Path) -> None:
    """The qemu processes of a session daemon outlive it: end those started from ``root``."""
    for pid_file in (root / "run" / "libvirt" / "qemu" / "run").glob("*.pid"):
        try:
            pid = int(pid_file.read_text().strip())
            os.kill(pid, signal.SIGKILL)
        except (ValueError, OSError):
            continue


def _kill_helpers(runtime_dir: Path) -> None:
    """The helper daemons a session daemon starts (virtlogd) outlive it by minutes: end those
    that run for this host (its runtime directory is in their environment)."""
    wanted = f"XDG_RUNTIME_DIR={runtime_dir}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                continue


def main(argv: list[str] | None = None) -> int:
    """Start stand-in hosts and print their catalog entries; Ctrl-C stops them."""
    parser = argparse.ArgumentParser(prog="python -m coldshift.testing.hypervisors")
    parser.add_argument("hosts", nargs="+", help="NAME:USE per host, e.g. kvm-p1:pool kvm-d1:deh")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/coldshift-hosts"))
    parser.add_argument("--availability-zone", default="local-1a")
    parser.add_argument("--host-type", default="s6")
    args = parser.parse_args(argv)
    reason = unavailable_reason()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    uses = dict(_name_and_use(host) for host in args.hosts)
    daemons = start_daemons(list(uses), args.dir)
    for daemon in daemons:
        print(
            f'[[driver.libvirt.hosts]]\nname = "{daemon.name}"\nuri = "{daemon.uri}"\n'
            f'availability_zone = "{args.availability_zone}"\nhost_type = "{args.host_type}"\n'
            f'use = "{uses[daemon.name]}"\npool_path = "{daemon.pool_path}"\n',
            flush=True,
        )
    print("# the hosts are running; Ctrl-C stops them", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        stop_daemons(daemons)
    return 0


def _name_and_use(host: str) -> tuple[str, str]:
    name, _, use = host.partition(":")
    return name, use or "pool"


if __name__ == "__main__":
    sys.exit(main())
