"""The subscription registry: diffing, batching, pacing, sharding and classification."""

from __future__ import annotations

from collections.abc import Callable

from monitor.feed.registry import WINDOW_SECONDS, Outcome, Registry, SubKey, SubKind
from monitor.feed.testing import ManualClock
from monitor.market import Interval
from monitor.pb import marketdata_pb2 as md

SUCCESS = md.SUBSCRIPTION_STATUS_SUCCESS


def candles(uid: str, interval: Interval = Interval.M1) -> SubKey:
    return SubKey(SubKind.CANDLES, uid, interval)


def answer(
    request: md.MarketDataRequest, status: Callable[[str], int] = lambda uid: SUCCESS, blank_uid: bool = False
) -> md.MarketDataResponse:
    """What a server answers to a subscription request: one status per item, in request order."""
    which = request.WhichOneof("payload")
    if which == "subscribe_candles_request":
        req = request.subscribe_candles_request
        return md.MarketDataResponse(
            subscribe_candles_response=md.SubscribeCandlesResponse(
                tracking_id="t",
                candles_subscriptions=[
                    md.CandleSubscription(
                        instrument_uid="" if blank_uid else item.instrument_id,
                        interval=item.interval,
                        subscription_status=status(item.instrument_id),  # type: ignore[arg-type]
                        subscription_action=req.subscription_action,
                    )
                    for item in req.instruments
                ],
            )
        )
    if which == "subscribe_last_price_request":
        lp = request.subscribe_last_price_request
        return md.MarketDataResponse(
            subscribe_last_price_response=md.SubscribeLastPriceResponse(
                last_price_subscriptions=[
                    md.LastPriceSubscription(
                        instrument_uid=item.instrument_id,
                        subscription_status=status(item.instrument_id),  # type: ignore[arg-type]
                        subscription_action=lp.subscription_action,
                    )
                    for item in lp.instruments
                ]
            )
        )
    info = request.subscribe_info_request
    return md.MarketDataResponse(
        subscribe_info_response=md.SubscribeInfoResponse(
            info_subscriptions=[
                md.InfoSubscription(
                    instrument_uid=item.instrument_id,
                    subscription_status=status(item.instrument_id),  # type: ignore[arg-type]
                    subscription_action=info.subscription_action,
                )
                for item in info.instruments
            ]
        )
    )


def serve(registry: Registry, stream: int = 0) -> list[tuple[SubKey, Outcome, str]]:
    """Sends what the registry wants and feeds back successful answers."""
    results: list[tuple[SubKey, Outcome, str]] = []
    for request in registry.next_requests(stream):
        results += registry.on_response(stream, answer(request))
    return results


def test_desired_set_goes_out_as_one_batch_per_kind() -> None:
    registry = Registry(clock=ManualClock())
    keys = [
        candles("a"),
        candles("b", Interval.H1),
        SubKey(SubKind.LAST_PRICE, "a"),
        SubKey(SubKind.INFO, "a"),
    ]
    registry.set_desired(keys)
    assert registry.next_requests(0) == []  # nothing goes out before the stream is open
    registry.stream_opened(0)
    requests = registry.next_requests(0)
    kinds = sorted(r.WhichOneof("payload") or "" for r in requests)
    assert kinds == ["subscribe_candles_request", "subscribe_info_request", "subscribe_last_price_request"]
    candle_request = next(r for r in requests if r.HasField("subscribe_candles_request"))
    items = candle_request.subscribe_candles_request.instruments
    assert [(i.instrument_id, i.interval) for i in items] == [("a", 1), ("b", 4)]
    assert not candle_request.subscribe_candles_request.waiting_close
    assert registry.next_requests(0) == []  # in flight: never sent twice


def test_success_confirms_each_item() -> None:
    registry = Registry(clock=ManualClock())
    registry.set_desired([candles("a"), candles("b")])
    registry.stream_opened(0)
    results = serve(registry)
    assert {(key.uid, outcome) for key, outcome, _ in results} == {
        ("a", Outcome.CONFIRMED),
        ("b", Outcome.CONFIRMED),
    }
    assert registry.status(candles("a")) == (Outcome.CONFIRMED, "")
    assert registry.confirmed(0) == {candles("a"), candles("b")}
    assert not registry.pending(0)


def test_not_found_with_blank_ids_is_matched_by_position_and_never_retried() -> None:
    clock = ManualClock()
    registry = Registry(clock=clock)
    registry.set_desired([candles("good"), candles("bad")])
    registry.stream_opened(0)
    [request] = registry.next_requests(0)
    not_found = md.SUBSCRIPTION_STATUS_INSTRUMENT_NOT_FOUND
    response = answer(request, status=lambda uid: not_found if uid == "bad" else SUCCESS, blank_uid=True)
    results = registry.on_response(0, response)
    assert (candles("bad"), Outcome.FAILED, "instrument not found") in results
    assert registry.status(candles("good"))[0] is Outcome.CONFIRMED
    clock.advance(3600)
    assert registry.next_requests(0) == []
    assert registry.status(candles("bad")) == (Outcome.FAILED, "instrument not found")


def test_too_many_requests_is_retried_later() -> None:
    clock = ManualClock()
    registry = Registry(clock=clock)
    registry.set_desired([candles("a")])
    registry.stream_opened(0)
    [request] = registry.next_requests(0)
    results = registry.on_response(
        0, answer(request, status=lambda uid: md.SUBSCRIPTION_STATUS_TOO_MANY_REQUESTS)
    )
    assert results == [(candles("a"), Outcome.RETRY_LATER, "too many subscription requests")]
    assert registry.next_requests(0) == []
    retry_at = registry.next_send_at(0)
    assert retry_at is not None and retry_at > clock.now()
    clock.advance(retry_at - clock.now())
    assert len(registry.next_requests(0)) == 1


def test_limit_exceeded_moves_the_item_to_another_stream() -> None:
    registry = Registry(clock=ManualClock(), max_streams=3)
    registry.set_desired([candles("a"), candles("b")])
    registry.stream_opened(0)
    [request] = registry.next_requests(0)
    limit = md.SUBSCRIPTION_STATUS_LIMIT_IS_EXCEEDED
    results = registry.on_response(0, answer(request, status=lambda uid: limit if uid == "b" else SUCCESS))
    assert (candles("b"), Outcome.MOVE_STREAM, "stream is full; moved to another stream") in results
    assert registry.streams_needed() == 2
    registry.stream_opened(1)
    assert [i.instrument_id for i in registry.next_requests(1)[0].subscribe_candles_request.instruments] == [
        "b"
    ]


def test_more_than_300_candle_subscriptions_shard_over_streams() -> None:
    registry = Registry(clock=ManualClock())
    keys = [candles(f"uid-{n:03}") for n in range(450)]
    registry.set_desired(keys)
    assert registry.streams_needed() == 2
    registry.stream_opened(0)
    registry.stream_opened(1)
    first = serve(registry, 0)
    second = serve(registry, 1)
    assert len(first) == 300 and len(second) == 150
    assert registry.confirmed() == set(keys)


def test_a_burst_of_changes_is_paced_under_the_limit() -> None:
    clock = ManualClock()
    registry = Registry(clock=clock, requests_per_minute=90)
    registry.stream_opened(0)
    sent_at: list[float] = []
    desired: list[SubKey] = []
    for n in range(150):  # 150 separate changes, as fast as a user can make them
        desired.append(candles(f"u{n}"))
        registry.set_desired(desired)
        for request in registry.next_requests(0):
            sent_at.append(clock.now())
            registry.on_response(0, answer(request))
        clock.advance(0.01)
    assert len(sent_at) == 90
    assert registry.pending(0)
    resume = registry.next_send_at(0)
    assert resume is not None and resume == sent_at[0] + WINDOW_SECONDS
    clock.advance(resume - clock.now())
    serve(registry)  # everything left goes out as one batch once the window frees
    assert registry.confirmed() == set(desired)
    assert max(sum(1 for t in sent_at if start <= t < start + 60) for start in sent_at) <= 90


def test_removing_a_key_unsubscribes_it() -> None:
    registry = Registry(clock=ManualClock())
    registry.set_desired([candles("a"), candles("b")])
    registry.stream_opened(0)
    serve(registry)
    registry.set_desired([candles("a")])
    [request] = registry.next_requests(0)
    assert request.subscribe_candles_request.subscription_action == md.SUBSCRIPTION_ACTION_UNSUBSCRIBE
    assert [i.instrument_id for i in request.subscribe_candles_request.instruments] == ["b"]
    results = registry.on_response(
        0, answer(request, status=lambda uid: md.SUBSCRIPTION_STATUS_SUBSCRIPTION_NOT_FOUND)
    )
    assert results == [(candles("b"), Outcome.REMOVED, "")]
    assert registry.confirmed() == {candles("a")}
    assert registry.status(candles("b")) == (None, "")


def test_reconnect_resends_the_desired_state_including_changes_made_meanwhile() -> None:
    registry = Registry(clock=ManualClock())
    registry.set_desired([candles("a"), candles("b")])
    registry.stream_opened(0)
    serve(registry)
    registry.set_desired([candles("a"), candles("b")])
    registry.stream_lost(0)
    assert registry.confirmed() == set()
    registry.set_desired([candles("a"), candles("c")])  # changed while the stream is down
    registry.stream_opened(0)
    requests = registry.next_requests(0)
    assert len(requests) == 1  # the desired state, not a replayed log with b's unsubscribe
    assert sorted(i.instrument_id for i in requests[0].subscribe_candles_request.instruments) == ["a", "c"]


def test_reconciliation_requeues_what_the_server_lost() -> None:
    registry = Registry(clock=ManualClock())
    registry.set_desired([candles("a"), candles("b"), SubKey(SubKind.INFO, "a")])
    registry.stream_opened(0)
    serve(registry)
    snapshot = registry.snapshot_request(0)
    assert snapshot.HasField("get_my_subscriptions")
    # The server lists only "a" for candles and says nothing about info (it holds none).
    listed = md.MarketDataResponse(
        subscribe_candles_response=md.SubscribeCandlesResponse(
            candles_subscriptions=[
                md.CandleSubscription(
                    instrument_uid="a",
                    interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE,
                    subscription_status=SUCCESS,
                )
            ]
        )
    )
    assert registry.on_response(0, listed) == [(candles("b"), Outcome.REMOVED, "missing on the server")]
    assert registry.finish_snapshot(0) == 1  # the info subscription
    requests = registry.next_requests(0)
    assert sorted(r.WhichOneof("payload") or "" for r in requests) == [
        "subscribe_candles_request",
        "subscribe_info_request",
    ]


def test_unsolicited_responses_are_ignored() -> None:
    registry = Registry(clock=ManualClock())
    registry.set_desired([candles("a")])
    registry.stream_opened(0)
    serve(registry)
    stray = md.MarketDataResponse(subscribe_candles_response=md.SubscribeCandlesResponse())
    assert registry.on_response(0, stray) == []
    assert registry.confirmed() == {candles("a")}
