"""Fetch a data file from its upstream URL or from a mirror, check its sha256, write it atomically.

`KEXUE_DATA_MIRROR` (a directory, a `file://` URL or an http(s) prefix) replaces the upstream
source with `<mirror>/<dataset>/<file>`. urllib handles http(s) and file:// alike; we add retries on
network errors, a progress bar, the hash check and a temp-file-then-rename so that a failed or
interrupted fetch never leaves a partial file where a finished one is expected.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from kexue.errors import InputError

log = logging.getLogger(__name__)

MIRROR_ENV = "KEXUE_DATA_MIRROR"
CHUNK = 1 << 20


class FetchError(InputError, RuntimeError):
    """A file could not be fetched or did not match its expected hash."""


@dataclass(frozen=True)
class Remote:
    """One upstream file: where it lives and what its bytes hash to."""

    dataset: str  # folder name in the mirror
    name: str  # file name, in the mirror and locally
    url: str  # upstream URL
    sha256: str


def source_for(remote: Remote, mirror: str | None = None) -> str:
    """The URL to fetch `remote` from: the mirror's copy when a mirror is set, else upstream."""
    mirror = os.environ.get(MIRROR_ENV) if mirror is None else mirror
    if not mirror:
        return remote.url
    if "://" not in mirror:  # a plain directory
        return Path(mirror).expanduser().resolve().joinpath(remote.dataset, remote.name).as_uri()
    return f"{mirror.rstrip('/')}/{remote.dataset}/{remote.name}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, dest: Path, label: str, timeout: float) -> None:
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as out:
        size = resp.headers.get("Content-Length")  # file:// answers carry it too
        total = int(size) if size else None
        with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))


def fetch(
    remote: Remote,
    out_dir: Path,
    *,
    mirror: str | None = None,
    retries: int = 3,
    backoff_s: float = 2.0,
    timeout_s: float = 60.0,
) -> Path:
    """Fetch `remote` into `out_dir/remote.name` and return that path.

    A file already there with the right hash is kept. Network errors are retried `retries` times
    with exponential backoff; a missing file (HTTP 404, no such path) or a hash mismatch is not.
    On any failure nothing is left at the destination.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    dest = out_dir / remote.name
    if dest.is_file() and sha256_of(dest) == remote.sha256:
        log.info("%s: already present, hash ok", dest)
        return dest

    url = source_for(remote, mirror)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.name}.", suffix=".part", dir=out_dir)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        for attempt in range(1, retries + 2):
            try:
                _download(url, tmp, remote.name, timeout_s)
                break
            except urllib.error.HTTPError as err:
                if err.code in (403, 404, 410):
                    raise FetchError(
                        f"{remote.name}: not found at {url} (HTTP {err.code}); expected sha256 {remote.sha256}"
                    ) from None
                reason: object = err
            except urllib.error.URLError as err:
                if isinstance(err.reason, FileNotFoundError) or url.startswith("file:"):
                    raise FetchError(
                        f"{remote.name}: missing at {url} ({err.reason}); expected sha256 {remote.sha256}. "
                        f"Check {MIRROR_ENV} (now {os.environ.get(MIRROR_ENV)!r})."
                    ) from None
                reason = err.reason
            except (TimeoutError, ConnectionError, OSError) as err:
                reason = err
            if attempt > retries:
                raise FetchError(
                    f"{remote.name}: source unreachable: {url} ({reason}) after {attempt} attempts; "
                    f"expected sha256 {remote.sha256}. Without internet, set {MIRROR_ENV} to a mirror."
                )
            wait = backoff_s * 2 ** (attempt - 1)
            log.warning("%s: %s (attempt %d/%d), retrying in %.0fs", url, reason, attempt, retries + 1, wait)
            time.sleep(wait)
        got = sha256_of(tmp)
        if got != remote.sha256:
            raise FetchError(
                f"{remote.name}: sha256 mismatch for {url}: expected {remote.sha256}, got {got}. "
                "The file is corrupt or not the one this pipeline expects; nothing was written."
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private
        os.replace(tmp, dest)
        log.info("%s: fetched from %s", dest, url)
        return dest
    finally:
        tmp.unlink(missing_ok=True)


def fetch_all(remotes: list[Remote], out_dir: Path, **kwargs) -> list[Path]:
    """Fetch every file, or none: on an error the files this call fetched are removed again."""
    out_dir = Path(out_dir)
    existed = {r.name for r in remotes if (out_dir / r.name).exists()}
    done: list[Path] = []
    try:
        for remote in remotes:
            done.append(fetch(remote, out_dir, **kwargs))
    except BaseException:
        for path in done:
            if path.name not in existed:
                path.unlink(missing_ok=True)
        raise
    return done


__all__ = ["FetchError", "MIRROR_ENV", "Remote", "fetch", "fetch_all", "sha256_of", "source_for"]
