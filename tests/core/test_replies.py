"""Bodies in parts (spec 17.10): sent a piece at a time, never joined whole."""

from __future__ import annotations

from core.replies import PIECE, Reply, answer, pieces, size


def test_a_whole_body_goes_as_it_is():
    body = b"x" * (3 * PIECE)
    assert list(pieces(body)) == [body]
    assert size(body) == 3 * PIECE


def test_parts_are_joined_into_pieces_of_about_piece_bytes():
    small = [b"a" * 1024] * (3 * PIECE // 1024)
    sent = list(pieces(small))
    assert b"".join(sent) == b"".join(small)
    assert len(sent) == 3
    assert all(len(piece) <= PIECE for piece in sent)


def test_a_part_bigger_than_a_piece_goes_alone():
    big = b"b" * (PIECE + 1)
    parts = [b"[", big, b",", big, b"]"]
    assert list(pieces(parts)) == parts


def test_nothing_in_parts_sends_nothing():
    assert list(pieces([])) == []


def test_the_content_length_of_a_body_in_parts_is_their_sum():
    status, headers, body = answer(Reply(200, [b"[", b"1", b"]"]))
    assert ("Content-Length", "3") in headers
    assert body == [b"[", b"1", b"]"]
