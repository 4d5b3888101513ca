"""GET /stashes: sorted live stashes, limit/offset and filters (6.2, 8.1-8.3)."""

from __future__ import annotations

import json

import pytest

from core.replies import PIECE
from tests.stashes.helpers import DEFAULT_CORS, cors_headers


def pagination(response) -> dict | None:
    header = response.headers.get("X-Pagination")
    return None if header is None else json.loads(header)


@pytest.fixture
def five(api):
    """Stashes a..e without TTLs, created out of order."""
    for path in ["c", "a", "e", "b", "d"]:
        assert api.write(path, {"name": path}).status_code == 201
    return ["a", "b", "c", "d", "e"]


# --- items -------------------------------------------------------------------


def test_list_empty_store_is_an_empty_array(api):
    assert api.items() == []


def test_list_item_has_exactly_path_content_expire(api):
    api.create("silence/i-424242/chef_client_process", {"timestamp": 1383441836})
    assert api.items() == [
        {
            "path": "silence/i-424242/chef_client_process",
            "content": {"timestamp": 1383441836},
            "expire": -1,
        }
    ]


def test_list_item_with_ttl_has_exactly_three_keys(api):
    api.create("p", {"a": {"b": [1]}}, expire=60)
    (item,) = api.items()
    assert set(item) == {"path", "content", "expire"}
    assert item["content"] == {"a": {"b": [1]}}


def test_list_has_one_item_per_stash(api, five):
    assert api.paths() == five


def test_list_is_sorted_by_code_point(api):
    paths = [
        "b", "a", "B", "A", "_", "é", "e", "z", "Z", "0", "~", " ", "a b", "a/b",
        "a-b", "ab", "aa", "\uff01", "\U0001f600", "\u00ff", "\u0100", "日本",
    ]  # fmt: skip
    for path in paths:
        api.create(path, {})
    assert api.paths() == sorted(paths)


def test_list_sort_puts_astral_characters_after_the_bmp(api):
    # Code-point (UTF-8) order, not UTF-16 order, which sorts U+1F600 before U+FF01.
    api.create("\U0001f600", {})
    api.create("\uff01", {})
    assert api.paths() == ["\uff01", "\U0001f600"]


def test_list_sort_puts_uppercase_before_lowercase(api):
    for path in ["b", "a", "B", "A"]:
        api.create(path, {})
    assert api.paths() == ["A", "B", "a", "b"]


def test_list_sort_compares_prefixes_shorter_first(api):
    for path in ["ab", "a/", "a", "a "]:
        api.create(path, {})
    assert api.paths() == ["a", "a ", "a/", "ab"]


def test_list_overwritten_stash_appears_once(api):
    api.create("p", {"v": 1}, expire=60)
    api.write("p", {"v": 2})
    api.create("p", {"v": 3})
    assert api.items() == [{"path": "p", "content": {"v": 3}, "expire": -1}]


def test_list_expire_is_minus_one_without_ttl(api):
    api.write("p", {})
    assert api.items()[0]["expire"] == -1


def test_list_expire_is_remaining_seconds_not_more_than_the_ttl(api):
    api.create("p", {}, expire=100)
    assert 1 <= api.items()[0]["expire"] <= 100


def test_list_expire_counts_down(api, shorten):
    api.create("p", {}, expire=100)
    shorten("p", 50_500)  # as if 49.5 s had passed
    assert api.items()[0]["expire"] == 51


@pytest.mark.parametrize(
    ("remaining_ms", "expire"), [(1200, 2), (1900, 2), (2600, 3), (300, 1)]
)
def test_list_expire_is_rounded_up(api, shorten, remaining_ms, expire):
    api.create("p", {}, expire=100)
    shorten("p", remaining_ms)
    assert api.items()[0]["expire"] == expire


def test_list_one_second_ttl_shows_one_not_zero(api):
    api.create("p", {}, expire=1)
    assert api.items()[0]["expire"] == 1


def test_list_large_list_is_complete_and_sorted(api):
    paths = [f"s{i:05d}" for i in range(1205)]
    for path in reversed(paths):
        api.client.post("/stashes/" + path, data="{}")
    assert api.paths() == paths
    response = api.list("limit=10&offset=1195")
    assert [i["path"] for i in response.get_json()] == paths[1195:]
    assert pagination(response) == {"limit": 10, "offset": 1195, "total": 1205}


def test_list_ignores_unknown_parameters(api, five):
    response = api.list("foo=bar&sort=desc&order=path&page=2")
    assert [i["path"] for i in response.get_json()] == five
    assert "X-Pagination" not in response.headers


# --- limit and offset ------------------------------------------------------------


def test_list_without_limit_has_no_pagination_header(api, five):
    assert "X-Pagination" not in api.list().headers


@pytest.mark.parametrize(
    "query",
    [
        "limit=-1",
        "limit=%2B2",
        "limit=+2",
        "limit=%202",
        "limit=2%20",
        "limit=1.5",
        "limit=1e2",
        "limit=0x10",
        "limit=%EF%BC%92",  # fullwidth 2
        "limit=%D9%A2",  # Arabic-Indic 2
        "limit=2abc",
        "limit=abc",
        "limit=",
        "limit",
    ],
)
def test_list_limit_that_is_not_an_integer_means_no_pagination(api, five, query):
    response = api.list(query + "&offset=1")
    assert response.status_code == 200
    assert [i["path"] for i in response.get_json()] == five
    assert "X-Pagination" not in response.headers


def test_list_limit_pages_from_the_start(api, five):
    response = api.list("limit=2")
    assert [i["path"] for i in response.get_json()] == ["a", "b"]
    assert pagination(response) == {"limit": 2, "offset": 0, "total": 5}


def test_list_limit_and_offset_pick_a_slice(api, five):
    response = api.list("limit=2&offset=1")
    assert [i["path"] for i in response.get_json()] == ["b", "c"]
    assert pagination(response) == {"limit": 2, "offset": 1, "total": 5}


def test_list_pagination_header_is_compact_json_in_order(api, five):
    response = api.list("limit=2&offset=1")
    assert response.headers["X-Pagination"] == '{"limit":2,"offset":1,"total":5}'


def test_list_pagination_header_is_sent_once(api, five):
    assert len(api.list("limit=2").headers.get_all("X-Pagination")) == 1


def test_list_limit_with_leading_zeros_is_an_integer(api, five):
    response = api.list("limit=002&offset=003")
    assert [i["path"] for i in response.get_json()] == ["d", "e"]
    assert pagination(response) == {"limit": 2, "offset": 3, "total": 5}


@pytest.mark.parametrize(
    "offset",
    ["-5", "%2B1", "+1", "1.5", "abc", "", "%EF%BC%91", None],
    ids=lambda o: repr(o),
)
def test_list_offset_that_is_not_an_integer_counts_as_zero(api, five, offset):
    query = "limit=2" if offset is None else f"limit=2&offset={offset}"
    response = api.list(query)
    assert [i["path"] for i in response.get_json()] == ["a", "b"]
    assert pagination(response) == {"limit": 2, "offset": 0, "total": 5}


def test_list_bare_offset_counts_as_zero(api, five):
    response = api.list("limit=2&offset")
    assert pagination(response) == {"limit": 2, "offset": 0, "total": 5}


def test_list_limit_zero_is_empty_with_header(api, five):
    response = api.list("limit=0")
    assert response.status_code == 200
    assert response.get_json() == []
    assert pagination(response) == {"limit": 0, "offset": 0, "total": 5}


@pytest.mark.parametrize("offset", [5, 6, 1000])
def test_list_offset_at_or_past_the_end_is_empty_with_header(api, five, offset):
    response = api.list(f"limit=2&offset={offset}")
    assert response.status_code == 200
    assert response.get_json() == []
    assert pagination(response) == {"limit": 2, "offset": offset, "total": 5}


def test_list_last_page_may_be_short(api, five):
    response = api.list("limit=2&offset=4")
    assert [i["path"] for i in response.get_json()] == ["e"]
    assert pagination(response) == {"limit": 2, "offset": 4, "total": 5}


def test_list_limit_larger_than_total_returns_everything(api, five):
    response = api.list("limit=100")
    assert [i["path"] for i in response.get_json()] == five
    assert pagination(response) == {"limit": 100, "offset": 0, "total": 5}


def test_list_pagination_header_is_sent_when_the_store_is_empty(api):
    response = api.list("limit=10")
    assert response.get_json() == []
    assert pagination(response) == {"limit": 10, "offset": 0, "total": 0}


def test_list_huge_limit_returns_everything(api, five):
    huge = "9" * 30
    response = api.list(f"limit={huge}")
    assert [i["path"] for i in response.get_json()] == five
    assert pagination(response) == {"limit": int(huge), "offset": 0, "total": 5}


def test_list_huge_offset_is_empty(api, five):
    huge = "9" * 30
    response = api.list(f"limit=1&offset={huge}")
    assert response.get_json() == []
    assert pagination(response) == {"limit": 1, "offset": int(huge), "total": 5}


def test_list_last_limit_wins(api, five):
    response = api.list("limit=1&limit=3")
    assert len(response.get_json()) == 3
    assert pagination(response)["limit"] == 3


def test_list_last_limit_wins_even_when_not_an_integer(api, five):
    response = api.list("limit=2&limit=x")
    assert len(response.get_json()) == 5
    assert "X-Pagination" not in response.headers


def test_list_last_limit_wins_over_an_earlier_invalid_one(api, five):
    response = api.list("limit=x&limit=2")
    assert len(response.get_json()) == 2


def test_list_last_offset_wins(api, five):
    response = api.list("limit=1&offset=0&offset=3")
    assert [i["path"] for i in response.get_json()] == ["d"]
    assert pagination(response)["offset"] == 3


def test_list_page_walk_returns_every_stash_once(api):
    paths = sorted(f"host-{i:02d}/check" for i in range(23))
    for path in reversed(paths):
        api.create(path, {"p": path}, expire=600 if path.endswith("3/check") else None)
    seen, offset, limit = [], 0, 5
    while True:
        response = api.list(f"limit={limit}&offset={offset}")
        total = pagination(response)["total"]
        seen += [i["path"] for i in response.get_json()]
        offset += limit
        if offset >= total:
            break
    assert seen == paths


def test_list_pagination_response_keeps_cors_headers(api, five):
    response = api.list("limit=1")
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


# --- filters -------------------------------------------------------------------


def test_list_filter_on_path(api, five):
    assert api.paths("filter.path=c") == ["c"]


def test_list_filter_on_path_is_exact_not_a_prefix(api):
    for path in ["a", "ab", "ba"]:
        api.create(path, {})
    assert api.paths("filter.path=a") == ["a"]


def test_list_filter_on_path_with_a_slash(api):
    api.create("silence/host", {})
    api.create("silence", {})
    assert api.paths("filter.path=silence/host") == ["silence/host"]
    assert api.paths("filter.path=silence%2Fhost") == ["silence/host"]


def test_list_filter_on_expire_minus_one_keeps_permanent_stashes(api):
    api.create("permanent", {})
    api.create("ttl", {}, expire=600)
    api.create("also-permanent", {}, expire=0)
    assert api.paths("filter.expire=-1") == ["also-permanent", "permanent"]


def test_list_filter_on_content_key(api):
    api.create("one", {"reason": "maintenance"})
    api.create("two", {"reason": "outage"})
    api.create("three", {})
    assert api.paths("filter.content.reason=maintenance") == ["one"]


def test_list_filter_on_nested_content_key(api):
    api.create("one", {"a": {"b": "c"}})
    api.create("two", {"a": {"b": "d"}})
    api.create("three", {"a.b": "c"})
    assert api.paths("filter.content.a.b=c") == ["one"]


def test_list_filter_is_case_sensitive(api):
    api.create("lower", {"r": "maint"})
    api.create("upper", {"r": "Maint"})
    assert api.paths("filter.content.r=Maint") == ["upper"]


@pytest.mark.parametrize(
    ("wanted", "matching"), [("true", ["b", "s"]), ("false", ["f", "g"])]
)
def test_list_filter_booleans_match_booleans_and_strings(api, wanted, matching):
    api.create("b", {"on": True})
    api.create("s", {"on": "true"})
    api.create("f", {"on": False})
    api.create("g", {"on": "false"})
    api.create("n", {"on": 1})
    api.create("u", {"on": "True"})
    assert api.paths(f"filter.content.on={wanted}") == matching


def test_list_filter_boolean_does_not_match_other_spellings(api):
    api.create("b", {"on": True})
    for wanted in ["True", "TRUE", "1", "yes"]:
        assert api.paths(f"filter.content.on={wanted}") == []


def test_list_filter_integers_compare_as_plain_decimal(api):
    api.create("three", {"n": 3})
    api.create("minus", {"n": -1})
    api.create("text", {"n": "3"})
    api.create("big", {"n": 12345678901234567890})
    assert api.paths("filter.content.n=3") == ["text", "three"]
    assert api.paths("filter.content.n=-1") == ["minus"]
    assert api.paths("filter.content.n=12345678901234567890") == ["big"]


def test_list_filter_integer_does_not_match_other_spellings(api):
    api.create("three", {"n": 3})
    for wanted in ["03", "3.0", "%2B3", "3e0", "%203"]:
        assert api.paths(f"filter.content.n={wanted}") == [], wanted


@pytest.mark.parametrize(
    ("content", "wanted"),
    [
        ({}, "x"),
        ({"x": None}, "null"),
        ({"x": None}, "None"),
        ({"x": {}}, "{}"),
        ({"x": {"y": 1}}, '{"y":1}'),
        ({"x": {"y": 1}}, "[object Object]"),
        ({"x": []}, "[]"),
        ({"x": [1]}, "[1]"),
        ({"x": ["a"]}, "a"),
        ({"x": ["a"]}, '["a"]'),
    ],
    ids=lambda v: json.dumps(v),
)
def test_list_filter_missing_null_object_or_array_never_matches(api, content, wanted):
    api.create("p", content)
    assert api.paths("filter.content.x=" + wanted) == []


def test_list_filter_through_a_non_object_never_matches(api):
    api.create("string", {"a": "b"})
    api.create("array", {"a": [{"b": "c"}]})
    api.create("list-index", {"a": ["c"]})
    assert api.paths("filter.content.a.b=b") == []
    assert api.paths("filter.content.a.0.b=c") == []
    assert api.paths("filter.content.a.0=c") == []


def test_list_filter_on_content_itself_never_matches(api):
    api.create("p", {})
    assert api.paths("filter.content={}") == []


def test_list_filter_on_missing_top_level_key_never_matches(api, five):
    assert api.paths("filter.name=a") == []


def test_list_filter_with_empty_value_is_ignored(api, five):
    assert api.paths("filter.path=") == five
    assert api.paths("filter.content.name=&filter.path=b") == ["b"]


def test_list_filter_with_empty_key_path_is_ignored(api, five):
    assert api.paths("filter.=a") == five


def test_list_filters_are_combined_with_and(api):
    api.create("both", {"r": "m", "who": "ann"})
    api.create("r-only", {"r": "m", "who": "bob"})
    api.create("who-only", {"r": "x", "who": "ann"})
    assert api.paths("filter.content.r=m&filter.content.who=ann") == ["both"]
    assert api.paths("filter.content.r=m&filter.path=who-only") == []


def test_list_repeated_filter_last_wins(api, five):
    assert api.paths("filter.path=a&filter.path=d") == ["d"]


def test_list_filter_without_limit_has_no_pagination_header(api, five):
    assert "X-Pagination" not in api.list("filter.path=a").headers


def test_list_filter_applies_before_paging(api):
    for i in range(10):
        api.create(f"s{i}", {"even": i % 2 == 0})
    response = api.list("filter.content.even=true&limit=2&offset=1")
    assert [i["path"] for i in response.get_json()] == ["s2", "s4"]
    assert pagination(response) == {"limit": 2, "offset": 1, "total": 5}


def test_list_filtered_page_walk_returns_every_match_once(api):
    for i in range(17):
        api.create(f"s{i:02d}", {"k": "yes" if i % 3 else "no"})
    matching = [f"s{i:02d}" for i in range(17) if i % 3]
    seen, offset = [], 0
    while True:
        response = api.list(f"filter.content.k=yes&limit=4&offset={offset}")
        seen += [i["path"] for i in response.get_json()]
        offset += 4
        if offset >= pagination(response)["total"]:
            break
    assert seen == matching


def test_list_filter_with_no_match_still_sends_the_header(api, five):
    response = api.list("filter.path=zzz&limit=3")
    assert response.get_json() == []
    assert pagination(response) == {"limit": 3, "offset": 0, "total": 0}


@pytest.mark.parametrize(
    "query", ["filter.content.r=in+maintenance", "filter.content.r=in%20maintenance"]
)
def test_list_filter_value_plus_and_percent_20_are_spaces(api, query):
    api.create("p", {"r": "in maintenance"})
    api.create("q", {"r": "in+maintenance"})
    assert api.paths(query) == ["p"]


def test_list_filter_value_percent_2b_is_a_plus(api):
    api.create("p", {"r": "in maintenance"})
    api.create("q", {"r": "in+maintenance"})
    assert api.paths("filter.content.r=in%2Bmaintenance") == ["q"]


def test_list_filter_value_non_ascii_is_decoded_as_utf8(api):
    api.create("p", {"who": "élève 😀"})
    api.create("q", {"who": "eleve"})
    assert api.paths("filter.content.who=%C3%A9l%C3%A8ve+%F0%9F%98%80") == ["p"]


def test_list_filter_key_is_decoded_too(api):
    api.create("p", {"clé": "v"})
    api.create("q", {"cle": "v"})
    assert api.paths("filter.content.cl%C3%A9=v") == ["p"]


def test_list_filter_on_non_ascii_path(api):
    api.create("日本/x", {})
    api.create("x", {})
    assert api.paths("filter.path=%E6%97%A5%E6%9C%AC%2Fx") == ["日本/x"]


@pytest.mark.parametrize(
    "query",
    ["filter.path=%FF", "filter.content.%FF=x", "limit=%FF", "offset=%C3&limit=1"],
)
def test_list_query_that_is_not_utf8_is_not_a_server_error(api, five, query):
    assert api.list(query).status_code < 500


def test_list_skips_an_unreadable_stored_value(api, redis_client, bucket):
    # A value no write of ours makes (an import gone wrong, a hand edit).
    api.create("a", {"v": 1})
    api.create("c", {"v": 3})
    redis_client.set(bucket("b").prefix + "b", b"{not json")
    redis_client.zadd(bucket("b").paths, {"b": 0})
    assert api.paths() == ["a", "c"]


def test_list_page_larger_than_a_redis_batch_comes_back_whole(api, app):
    store = app.extensions["stashes"]
    paths = [f"p{i:05d}" for i in range(2_500)]
    for path in paths:
        app.extensions["client"].run(
            store.put(path, b"{}", 60 if len(path) % 2 else None)
        )
    response = api.list("limit=2400&offset=50")
    assert [item["path"] for item in response.get_json()] == paths[50:2450]
    assert response.headers["X-Pagination"] == '{"limit":2400,"offset":50,"total":2500}'
    assert len(api.items()) == 2_500


# --- big lists (17.10) ---------------------------------------------------------


@pytest.mark.parametrize("query", ["", "?limit=3", "?filter.content.kind=big"])
def test_a_list_bigger_than_a_piece_is_whole_and_exact(api, client, query):
    blob = "x" * (PIECE // 2)
    for name in ["b", "a", "c"]:
        assert api.write(name, {"kind": "big", "blob": blob}).status_code == 201
    response = client.get("/stashes" + query)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.data)
    assert [item["path"] for item in response.get_json()] == ["a", "b", "c"]
    head = client.head("/stashes" + query)
    assert head.headers["Content-Length"] == response.headers["Content-Length"]
    assert head.data == b""
