"""labelSelector and fieldSelector on the lists (spec assets.md section 6.9)."""

from __future__ import annotations

import pytest

from sensugo.selectors import SelectorError, matches, parse
from tests.sensugo import CORE, assert_error, asset, asset_url


def labelled(name, labels, namespace="default", **fields):
    meta = {"name": name, "namespace": namespace, "labels": labels}
    return asset(name, namespace, metadata=meta, **fields)


@pytest.fixture
def fleet(sensu):
    sensu.namespace("production")
    bodies = [
        labelled("slack", {"region": "us-west-1", "sensu.io/managed_by": "sensuctl"}),
        labelled("slack-2", {"region": "us-east-1"}, filters=["a == 1", "b == 2"]),
        labelled(
            "pagerduty",
            {},
            filters=["entity.system.arm_version == 7", "entity.system.os == 'linux'"],
        ),
        labelled("influx", {"region": "eu-1"}, "production"),
    ]
    for body in bodies:
        ns = body["metadata"]["namespace"]
        assert sensu.create(body, ns).status_code == 201
    return sensu


DEFAULT = asset_url("default")


def names(sensu, url=DEFAULT, **query):
    return sorted(sensu.names(url, **query))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"labelSelector": 'region == "us-west-1"'}, ["slack"]),
        ({"labelSelector": "region == us-west-1"}, ["slack"]),
        ({"labelSelector": "sensu.io/managed_by == sensuctl"}, ["slack"]),
        ({"labelSelector": 'region != "us-west-1"'}, ["pagerduty", "slack-2"]),
        ({"labelSelector": 'region in ["us-east-1", "eu-1"]'}, ["slack-2"]),
        ({"labelSelector": "region notin [us-east-1]"}, ["pagerduty", "slack"]),
        ({"labelSelector": 'region matches "us-"'}, ["slack", "slack-2"]),
        ({"labelSelector": 'region matches "US"'}, []),
        ({"labelSelector": "missing == x"}, []),
        ({"labelSelector": "missing != x"}, ["pagerduty", "slack", "slack-2"]),
        ({"labelSelector": ""}, ["pagerduty", "slack", "slack-2"]),
        ({"fieldSelector": 'asset.name matches "slack"'}, ["slack", "slack-2"]),
        ({"fieldSelector": 'asset.name == "slack"'}, ["slack"]),
        (
            {"fieldSelector": 'asset.name in ["slack", "pagerduty"]'},
            ["pagerduty", "slack"],
        ),
        (
            {"fieldSelector": 'asset.namespace != "production"'},
            ["pagerduty", "slack", "slack-2"],
        ),
        ({"fieldSelector": 'asset.namespace == "production"'}, []),
        (
            {"fieldSelector": '"entity.system.arm_version == 7" in asset.filters'},
            ["pagerduty"],
        ),
        ({"fieldSelector": '"b == 2" notin asset.filters'}, ["pagerduty", "slack"]),
        ({"fieldSelector": 'asset.labels.region == "us-east-1"'}, ["slack-2"]),
        ({"fieldSelector": "asset.unknown == x"}, []),
        ({"fieldSelector": 'asset.name MATCHES "pager"'}, ["pagerduty"]),
        (
            {
                "labelSelector": 'region matches "us"',
                "fieldSelector": "asset.name == slack-2",
            },
            ["slack-2"],
        ),
        (
            {"labelSelector": 'region matches "us" && region != "us-west-1"'},
            ["slack-2"],
        ),
    ],
)
def test_selectors_filter_the_list(fleet, query, expected):
    assert names(fleet, **query) == expected


def test_repeated_selector_parameters_are_joined_with_and(fleet):
    url = asset_url("default") + (
        "?labelSelector=region%20matches%20us&labelSelector=region%20!%3D%20us-west-1"
    )
    response = fleet.request("GET", url)
    assert [i["metadata"]["name"] for i in response.get_json()] == ["slack-2"]


def test_selectors_on_the_all_namespaces_list(fleet):
    query = {"fieldSelector": 'asset.namespace == "production"'}
    assert names(fleet, f"{CORE}/assets", **query) == ["influx"]
    query = {"labelSelector": "region in [eu-1, us-west-1]"}
    assert names(fleet, f"{CORE}/assets", **query) == ["influx", "slack"]


def test_filtering_comes_before_paging(sensu):
    for i in range(6):
        labels = {"keep": "yes"} if i % 2 else {}
        sensu.create(labelled(f"a{i}", labels))
    first = sensu.list(limit=2, labelSelector="keep == yes")
    assert [i["metadata"]["name"] for i in first.get_json()] == ["a1", "a3"]
    token = first.headers["Sensu-Continue"]
    rest = sensu.list(limit=2, labelSelector="keep == yes", **{"continue": token})
    assert [i["metadata"]["name"] for i in rest.get_json()] == ["a5"]
    assert "Sensu-Continue" not in rest.headers


def test_namespace_list_field_selector(sensu):
    sensu.namespace("ops-1")
    url = f"{CORE}/namespaces"
    response = sensu.list(url, fieldSelector='namespace.name == "ops-1"')
    assert response.get_json() == [{"name": "ops-1"}]


@pytest.mark.parametrize(
    "selector",
    ["a = b", "a & b", "a ==", "a == b &&", 'a == "b', "&& a == b", "a in [b", "== b"],
)
@pytest.mark.parametrize("name", ["labelSelector", "fieldSelector"])
def test_selector_that_does_not_parse_is_400(sensu, name, selector):
    response = sensu.list(**{name: selector})
    message = assert_error(response, 400, 1)
    assert message.startswith(f"failed to parse {name}")


def test_selector_error_on_the_all_namespaces_and_namespace_lists(sensu):
    for url in (f"{CORE}/assets", f"{CORE}/namespaces", f"{CORE}/apikeys"):
        assert_error(sensu.list(url, labelSelector="a ="), 400, 1)


# The parser and matcher on their own.


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("k == v", {"k": "v"}, True),
        ("k == 'v'", {"k": "v"}, True),
        ("k == true", {"k": "true"}, True),
        ("k == v", {}, False),
        ("k != v", {}, True),
        ("k in [a, 'b']", {"k": "b"}, True),
        ("k in []", {"k": "b"}, False),
        ("k notin [a]", {}, True),
        ("'x' in k", {"k": "[x, y]"}, True),
        ("'x' in k", {"k": "xy,z"}, False),
        ("'x' notin k", {"k": "a,x"}, False),
        ("k in v", {"k": "v"}, True),  # right side not a key: k == v
        ("k notin v", {"k": "w"}, True),
        ("k matches 'b-c'", {"k": "ab-cd"}, True),
        ("k matches v", {}, False),
        ("  k==v&&j!=w  ", {"k": "v", "j": "x"}, True),
    ],
)
def test_selector_semantics(text, fields, expected):
    assert matches(parse(text), fields) is expected


@pytest.mark.parametrize(
    "text", ["k", "k ==", "k == v w", "k in 'v'", "k in [a,]", "k ! v", "'k"]
)
def test_selector_parse_errors(text):
    with pytest.raises(SelectorError):
        parse(text)
