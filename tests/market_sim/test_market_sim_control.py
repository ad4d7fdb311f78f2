"""The pure control-message handler behind the fake's websocket (§1.3)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from market_sim.control import METHODS, ControlOutcome, handle_control


def answer(
    message: object, streams: tuple[str, ...] = (), combined: bool = False
) -> ControlOutcome:
    raw = message if isinstance(message, str) else json.dumps(message)
    return handle_control(raw, streams, combined, max_streams=3)


def test_subscribe_deduplicates_and_keeps_order() -> None:
    outcome = answer(
        {"method": "SUBSCRIBE", "params": ["b@x", "a@x", "b@x"], "id": 1}, streams=("a@x",)
    )
    assert outcome.reply == {"result": None, "id": 1}
    assert outcome.streams == ("a@x", "b@x")
    assert outcome.method == "SUBSCRIBE" and not outcome.close


def test_unsubscribe_of_unknown_stream_is_still_acked() -> None:
    outcome = answer({"method": "UNSUBSCRIBE", "params": ["zzz@x"], "id": 2}, streams=("a@x",))
    assert outcome.reply == {"result": None, "id": 2} and outcome.streams == ("a@x",)


def test_subscribe_past_the_stream_cap_asks_for_a_close() -> None:
    outcome = answer({"method": "SUBSCRIBE", "params": ["d", "e"], "id": 3}, streams=("a", "b"))
    assert outcome.close and outcome.streams is None
    assert outcome.reply == {"code": 2, "msg": "Invalid request: too many streams", "id": 3}


def test_set_property_changes_combined_only_with_a_boolean() -> None:
    assert (
        answer({"method": "SET_PROPERTY", "params": ["combined", False], "id": 4}).combined is False
    )
    rejected = answer({"method": "SET_PROPERTY", "params": ["combined", 1], "id": 4})
    assert rejected.combined is None and rejected.reply["code"] == 1
    extra = answer({"method": "SET_PROPERTY", "params": ["combined", True, 1], "id": 4})
    assert extra.reply == {"code": 2, "msg": "Invalid request: too many parameters"}


def test_keys_are_checked_in_the_order_they_arrive() -> None:
    id_first = answer('{"id":"x","method":"NOPE"}').reply
    method_first = answer('{"method":"NOPE","id":"x"}').reply
    assert id_first["msg"].endswith("request ID must be an unsigned integer")
    assert method_first["msg"].startswith("Invalid request: unknown variant `NOPE`")


def test_negative_and_boolean_ids_are_rejected() -> None:
    for bad_id in (-1, True, 1.5, None):
        reply = answer({"method": "LIST_SUBSCRIPTIONS", "id": bad_id}).reply
        assert reply == {
            "code": 2,
            "msg": "Invalid request: request ID must be an unsigned integer",
        }


def test_error_position_follows_the_text() -> None:
    reply = answer('{\n  "method": "LIST"\n}').reply
    assert reply["msg"].endswith("at line 2 column 18")
    assert answer("[1]").reply["code"] == 2


@given(st.text(max_size=60))
def test_any_text_gets_exactly_one_wellformed_reply(text: str) -> None:
    outcome = answer(text)
    assert set(outcome.reply) in ({"code", "msg"}, {"code", "msg", "id"}, {"result", "id"})
    json.dumps(outcome.reply)


@given(
    method=st.sampled_from(METHODS),
    request_id=st.integers(min_value=0, max_value=2**63),
    params=st.lists(st.text(min_size=1, max_size=12), max_size=4),
)
def test_valid_requests_echo_their_id(method: str, request_id: int, params: list[str]) -> None:
    if method in ("SET_PROPERTY", "GET_PROPERTY"):
        params = ["combined", True] if method == "SET_PROPERTY" else ["combined"]
    elif method == "LIST_SUBSCRIPTIONS":
        params = []
    outcome = answer({"method": method, "params": params, "id": request_id})
    assert outcome.reply["id"] == request_id
    assert "code" not in outcome.reply or outcome.close
