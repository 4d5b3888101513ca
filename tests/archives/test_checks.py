"""The whole-stream check of 5.3 on its own: gzip read to its end in bounded pieces,
every tar header parsed (spec archives.md 5.3)."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from archives import checks
from tests.archives.helpers import tarball


def _zeros_tar(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("bin/zeros")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    return buf.getvalue()


def test_gzip_inflating_a_thousandfold_is_read_in_bounded_pieces(tmp_path):
    path = tmp_path / "zeros.tar.gz"
    path.write_bytes(gzip.compress(_zeros_tar(16 << 20), compresslevel=9))
    assert path.stat().st_size < 100_000
    assert checks.inspect(str(path), checks.TAR_GZIP) == []
    with open(path, "rb") as raw:
        stream = checks._Gunzip(raw)
        pieces = []
        while piece := stream.read(4 << 20):
            pieces.append(len(piece))
    assert sum(pieces) >= 16 << 20
    assert max(pieces) <= checks._READ


def test_gzip_members_one_after_another_are_one_stream(tmp_path):
    data = _zeros_tar(3 << 20)
    path = tmp_path / "two.tar.gz"
    path.write_bytes(gzip.compress(data[: 1 << 20]) + gzip.compress(data[1 << 20 :]))
    assert checks.inspect(str(path), checks.TAR_GZIP) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (tarball()[:-9], "gzip stream is truncated"),
        (tarball() + b"junk", "data after the gzip stream"),
        (
            gzip.compress(b"x" * 1000, mtime=0),
            "gzip file does not contain a tar archive",
        ),
    ],
)
def test_damaged_gzip_is_refused(tmp_path, data, reason):
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(data)
    with pytest.raises(checks.Refused, match=reason):
        checks.inspect(str(path), checks.TAR_GZIP)


@pytest.mark.parametrize("cut", [512 + 100, 512 + 4096, 1024 + 8192])
def test_plain_tar_cut_short_is_damaged_though_its_data_is_not_read(tmp_path, cut):
    # A header, then 16 KiB of member data: cut within the data, which the check
    # seeks past rather than reads.
    data = tarball({"bin/x": bytes(range(256)) * 64}, compress=False)
    path = tmp_path / "cut.tar"
    path.write_bytes(data[:cut])
    with pytest.raises(checks.Refused, match="archive is damaged"):
        checks.inspect(str(path), checks.TAR)
