"""The download queue: destinations, edits, order, locking and retries."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_annex.items import STALE_AFTER, ItemLocked, ItemState
from tui_annex.queue import DownloadQueue
from tui_annex.validation import ValidationError

U = "http://127.0.0.1:1/"


def queue_of(*paths: str) -> DownloadQueue:
    queue = DownloadQueue()
    for path in paths:
        queue.add(U + path, path)
    return queue


def order(queue: DownloadQueue) -> list[str]:
    return [item.path for item in queue.pending()]


def test_second_item_with_the_same_destination_is_rejected() -> None:
    queue = queue_of("a.bin")
    with pytest.raises(ValidationError, match=r"already downloads to 'a\.bin'"):
        queue.add(U + "other", "./a.bin")
    assert order(queue) == ["a.bin"]


def test_a_path_cannot_be_both_a_file_and_a_folder() -> None:
    queue = queue_of("data")
    with pytest.raises(ValidationError, match="'data' is another item's file"):
        queue.add(U + "x", "data/x.bin")
    queue2 = queue_of("data/x.bin")
    with pytest.raises(ValidationError, match="'data' is a folder of another item's path"):
        queue2.add(U + "y", "data")


def test_invalid_item_changes_nothing() -> None:
    queue = queue_of("a")
    with pytest.raises(ValidationError):
        queue.add("nope://x", "b")
    with pytest.raises(ValidationError):
        queue.add(U + "b", "../b")
    assert order(queue) == ["a"] and len(queue) == 1


def test_removing_frees_the_destination() -> None:
    queue = queue_of("a", "b")
    queue.remove([queue.pending()[0].id])
    assert order(queue) == ["b"]
    queue.add(U + "again", "a")
    assert order(queue) == ["b", "a"]


def test_edit_changes_url_and_path_and_rejects_a_taken_path() -> None:
    queue = queue_of("a", "b")
    first = queue.pending()[0]
    queue.edit(first.id, url=U + "new", path="c")
    assert (first.url, first.path) == (U + "new", "c")
    with pytest.raises(ValidationError):
        queue.edit(first.id, path="b")
    with pytest.raises(ValidationError):
        queue.edit(first.id, url="bad url")
    assert (first.url, first.path) == (U + "new", "c")
    queue.add(U + "a", "a")  # the old path was released


def test_moves_follow_the_selection() -> None:
    queue = queue_of("a", "b", "c", "d", "e")
    ids = {item.path: item.id for item in queue}
    queue.move_to_top([ids["d"], ids["b"]])
    assert order(queue) == ["b", "d", "a", "c", "e"]
    queue.move_to_bottom([ids["b"]])
    assert order(queue) == ["d", "a", "c", "e", "b"]
    queue.move_up([ids["c"], ids["e"]])
    assert order(queue) == ["d", "c", "e", "a", "b"]
    queue.move_down([ids["d"]])
    assert order(queue) == ["c", "d", "e", "a", "b"]
    queue.move_up([ids["c"]])  # already first: stays
    assert order(queue) == ["c", "d", "e", "a", "b"]


@given(st.lists(st.booleans(), min_size=1, max_size=12), st.booleans())
def test_a_move_up_or_down_keeps_every_item_once(selected: list[bool], up: bool) -> None:
    queue = queue_of(*(f"f{i}" for i in range(len(selected))))
    chosen = [item.id for item, pick in zip(queue.pending(), selected, strict=True) if pick]
    before = order(queue)
    (queue.move_up if up else queue.move_down)(chosen)
    after = order(queue)
    assert sorted(after) == sorted(before)
    unchosen = [p for p, pick in zip(before, selected, strict=True) if not pick]
    assert [p for p in after if p in unchosen] == unchosen


def test_sent_items_are_locked_and_say_so() -> None:
    queue = queue_of("a", "b")
    taken = queue.take_next()
    assert taken is not None and taken.state is ItemState.SENT
    with pytest.raises(ItemLocked, match="already sent to git-annex; it cannot be edited"):
        queue.edit(taken.id, path="z")
    with pytest.raises(ItemLocked, match="cannot be removed"):
        queue.remove([taken.id, queue.pending()[0].id])
    assert order(queue) == ["b"]  # all or nothing
    with pytest.raises(ItemLocked):
        queue.move_to_top([taken.id])


def test_an_edit_after_the_feeder_took_the_item_is_refused_not_half_applied() -> None:
    queue = queue_of("a")
    item = queue.pending()[0]
    assert queue.take_next() is item
    with pytest.raises(ItemLocked):
        queue.edit(item.id, url=U + "changed", path="changed")
    assert (item.url, item.path) == (U + "a", "a")


def test_paused_queue_hands_out_nothing() -> None:
    queue = queue_of("a")
    queue.pause()
    assert queue.take_next() is None
    queue.resume()
    assert queue.take_next() is not None


def test_failed_items_can_be_retried_at_the_end() -> None:
    queue = queue_of("a", "b")
    item = queue.take_next()
    assert item is not None
    queue.mark_finished(item, success=False, key=None, errors=["404"], note=None)
    assert queue.report().failed == (item,)
    assert queue.retry_failed() == [item]
    assert order(queue) == ["b", "a"]
    assert item.errors == () and item.state is ItemState.QUEUED


def test_give_back_returns_an_unsent_item_to_the_front() -> None:
    queue = queue_of("a", "b")
    item = queue.take_next()
    assert item is not None
    queue.give_back(item)
    assert order(queue) == ["a", "b"] and item.attempts == 0


def test_report_sorts_items_by_outcome() -> None:
    queue = queue_of("a", "b", "c", "d")
    a, b, c = queue.take_next(), queue.take_next(), queue.take_next()
    assert a and b and c
    queue.mark_finished(a, success=True, key="K", errors=[], note=None)
    queue.mark_finished(b, success=False, key=None, errors=["e"], note=None)
    queue.mark_interrupted(c)
    report = queue.report()
    assert [i.path for i in report.done] == ["a"]
    assert [i.path for i in report.failed] == ["b"]
    assert [i.path for i in report.interrupted] == ["c"]
    assert [i.path for i in report.unsent] == ["d"]
    assert not report.complete


def test_speed_and_eta_follow_progress() -> None:
    queue = queue_of("a")
    item = queue.take_next()
    assert item is not None
    now = time.monotonic()
    item.record_progress(0, 1000, now=now - 1)
    item.record_progress(100, 1000, now=now)
    assert item.speed == pytest.approx(100.0)
    assert item.eta == pytest.approx(9.0)


def test_a_download_that_gets_no_data_reads_as_speed_zero() -> None:
    queue = queue_of("a")
    item = queue.take_next()
    assert item is not None
    long_ago = time.monotonic() - STALE_AFTER - 10
    item.record_progress(0, 1000, now=long_ago - 1)
    item.record_progress(100, 1000, now=long_ago)
    assert item.rate == pytest.approx(100.0)
    assert item.speed == 0 and item.eta is None


def test_validate_checks_like_add_without_adding() -> None:
    queue = queue_of("a.bin")
    assert queue.validate(U + "x", "./new.bin") == (U + "x", "new.bin")
    with pytest.raises(ValidationError, match="already downloads"):
        queue.validate(U + "x", "a.bin")
    with pytest.raises(ValidationError, match="scheme"):
        queue.validate("ftp://example.org/x", "b.bin")
    item = queue.pending()[0]
    assert queue.validate(U + "y", "a.bin", item_id=item.id) == (U + "y", "a.bin")
    assert len(queue) == 1


def test_add_records_adds_the_good_ones_and_returns_the_refusals_with_lines() -> None:
    from tui_annex.inputs import parse_lines

    queue = queue_of("taken.bin")
    text = "\n".join(
        [
            f"{U}one.bin",
            "# a comment",
            f'{{"url": "{U}two", "path": "dir/two.bin", "metadata": {{"tag": "x"}}}}',
            f"{U}other taken.bin",
            "not-a-url path.bin",
            '{"url": 3}',
            f"{U}three three with spaces.bin",
        ]
    )
    added, refused = queue.add_records(parse_lines(text, "pasted"))
    assert [item.path for item in added] == ["one.bin", "dir/two.bin", "three with spaces.bin"]
    assert added[1].metadata == {"tag": ["x"]}
    assert added[0].location == "pasted:1"
    assert [(r.line, r.source) for r in refused] == [(4, "pasted"), (5, "pasted"), (6, "pasted")]
    assert "already downloads" in refused[0].reason
    assert order(queue)[1:] == ["one.bin", "dir/two.bin", "three with spaces.bin"]


def test_add_records_names_a_derived_path_in_the_reason() -> None:
    from tui_annex.inputs import InputRecord

    queue = queue_of("one.bin")
    record = InputRecord(url=U + "one.bin", path=None, source="typed", line=1)
    added, refused = queue.add_records([record])
    assert not added and "derived from the URL" in refused[0].reason


def test_forgotten_done_items_leave_the_queue_but_stay_in_the_report() -> None:
    queue = queue_of("a", "b", "c")
    first = queue.take_next()
    assert first is not None
    queue.mark_finished(first, success=True, key="K", errors=(), note=None)
    other = queue.pending()[0]
    assert queue.forget([first.id, other.id]) == [first]
    assert first.id not in queue and other.id in queue
    assert queue.counts()[ItemState.DONE] == 0
    assert [item.path for item in queue.report().done] == ["a"]
    assert list(queue.forgotten) == [first]
    with pytest.raises(ValidationError, match="already downloads"):
        queue.add(U + "again", "a")


async def test_a_change_made_before_the_waiter_first_runs_is_not_missed() -> None:
    import asyncio

    from tui_annex.streams import wait_first

    queue = DownloadQueue()
    never = asyncio.Event()
    # wait_first wraps what it gets in tasks that run only on the next loop turn; the queue
    # is closed before that turn, as another task may do while the feeder goes to sleep.
    waiting = asyncio.ensure_future(wait_first(queue.wait_changed(), never.wait()))
    queue.close()
    await asyncio.wait_for(waiting, 5)


def test_downloads_a_restart_cut_off_go_out_while_paused_and_held_items_do_not() -> None:
    queue = DownloadQueue()
    a, b, c = (queue.add(f"https://example.org/{n}", f"{n}.bin") for n in "abc")
    for _ in range(3):
        queue.take_next()
    for item in (a, b, c):
        queue.mark_interrupted(item)
    queue.pause()
    queue.put_back([b.id])
    queue.send_again_first([c.id])
    assert [i.path for i in queue.pending()] == ["c.bin", "b.bin"]
    queue.move_to_top([b.id])  # the user puts the held one first: still not sent while paused
    assert queue.has_ready()
    assert queue.take_next() is c, "a cut-off download goes on although paused"
    assert not queue.has_ready() and queue.take_next() is None
    assert b.state is ItemState.QUEUED and b.attempts == 0 and c.attempts == 1
    queue.resume()
    assert queue.take_next() is b


def test_only_cut_off_downloads_go_out_to_a_draining_git_annex() -> None:
    queue = DownloadQueue()
    a, b = (queue.add(f"https://example.org/{n}", f"{n}.bin") for n in "ab")
    queue.take_next()
    queue.mark_interrupted(a)
    queue.send_again_first([a.id])
    assert queue.has_resumes()
    assert queue.take_next(resumes_only=True) is a
    assert not queue.has_resumes() and queue.take_next(resumes_only=True) is None
    assert queue.take_next() is b
