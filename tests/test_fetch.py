"""fetch: mirror directory / file:// URL, sha256 check, clear errors, nothing left half-written."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kexue.fashion_mnist import REMOTES
from kexue.fetch import MIRROR_ENV, FetchError, Remote, fetch, fetch_all, source_for


def _mirror_with(tmp_path: Path, files: dict[str, bytes]) -> tuple[Path, list[Remote]]:
    mirror = tmp_path / "mirror"
    (mirror / "toy").mkdir(parents=True)
    remotes = []
    for name, blob in files.items():
        (mirror / "toy" / name).write_bytes(blob)
        remotes.append(Remote("toy", name, f"http://upstream.invalid/{name}", hashlib.sha256(blob).hexdigest()))
    return mirror, remotes


def test_source_is_upstream_without_mirror(monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    assert source_for(REMOTES[0]) == REMOTES[0].url


def test_source_uses_mirror_layout(monkeypatch, tmp_path):
    monkeypatch.setenv(MIRROR_ENV, "https://example.org/mirror/")
    assert source_for(REMOTES[0]) == f"https://example.org/mirror/fashion-mnist/{REMOTES[0].name}"
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert source_for(REMOTES[0]) == (tmp_path / "fashion-mnist" / REMOTES[0].name).as_uri()


@pytest.mark.parametrize("as_uri", [False, True], ids=["directory", "file-url"])
def test_fetch_from_mirror(tmp_path, as_uri):
    mirror, remotes = _mirror_with(tmp_path, {"a.bin": b"alpha" * 1000, "b.bin": b"beta"})
    out = tmp_path / "out"
    paths = fetch_all(remotes, out, mirror=mirror.as_uri() if as_uri else str(mirror))
    assert [p.read_bytes() for p in paths] == [b"alpha" * 1000, b"beta"]
    assert sorted(p.name for p in out.iterdir()) == ["a.bin", "b.bin"]  # no temp files left


def test_real_fashion_files_from_shared_mirror(mirror, tmp_path):
    """The hashes we ship match the mirror's files (labels only: small and quick)."""
    labels = [r for r in REMOTES if "labels" in r.name]
    paths = fetch_all(labels, tmp_path, mirror=str(mirror))
    assert [p.stat().st_size for p in paths] == [29515, 5148]


def test_hash_mismatch_is_a_clear_error_and_leaves_nothing(tmp_path):
    mirror, (good, bad) = _mirror_with(tmp_path, {"a.bin": b"alpha", "b.bin": b"beta"})
    wrong = Remote(bad.dataset, bad.name, bad.url, "0" * 64)
    out = tmp_path / "out"
    with pytest.raises(FetchError) as err:
        fetch_all([good, wrong], out, mirror=str(mirror))
    msg = str(err.value)
    assert "b.bin" in msg and "0" * 64 in msg and bad.sha256 in msg and "mirror" in msg
    assert list(out.iterdir()) == []  # neither the bad file nor the good one fetched before it


def test_missing_file_names_file_source_and_hash(tmp_path):
    mirror, (remote,) = _mirror_with(tmp_path, {"a.bin": b"alpha"})
    ghost = Remote("toy", "ghost.bin", "http://upstream.invalid/ghost.bin", remote.sha256)
    with pytest.raises(FetchError) as err:
        fetch(ghost, tmp_path / "out", mirror=str(mirror))
    msg = str(err.value)
    assert "ghost.bin" in msg and (mirror / "toy" / "ghost.bin").as_uri() in msg and remote.sha256 in msg
    assert list((tmp_path / "out").iterdir()) == []


def test_unreachable_source_retries_then_fails(tmp_path):
    remote = Remote("toy", "a.bin", "http://127.0.0.1:9/a.bin", "0" * 64)  # port 9: nothing listens
    with pytest.raises(FetchError, match=r"unreachable: http://127\.0\.0\.1:9/a\.bin.*after 3 attempts.*0{64}"):
        fetch(remote, tmp_path / "out", mirror="", retries=2, backoff_s=0.01, timeout_s=2)
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_good_file_is_kept_and_bad_one_replaced(tmp_path):
    mirror, (remote,) = _mirror_with(tmp_path, {"a.bin": b"alpha"})
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.bin").write_bytes(b"corrupt")
    fetch(remote, out, mirror=str(mirror))
    assert (out / "a.bin").read_bytes() == b"alpha"
