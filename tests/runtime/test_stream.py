"""Printed text handed on while a cell runs (runtime/stream.py; issue 18, item 5)."""

from __future__ import annotations

import json

from runtime import page
from runtime.display import MAX_BYTES
from runtime.stream import StreamCapture


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def capture(chunks: list[str], clock: Clock, burst: int = 3) -> StreamCapture:
    return StreamCapture(chunks.append, interval=0.1, burst=burst, clock=clock)


def test_text_written_now_and_then_is_sent_at_once():
    chunks: list[str] = []
    clock = Clock()
    with capture(chunks, clock) as c:
        print("first")
        assert chunks == ["first", "\n"]
        clock.now = 2.0
        print("second")
    assert chunks == ["first", "\n", "second", "\n"]
    assert c.text() == "first\nsecond", "the capture keeps everything for the final output"


def test_past_the_burst_text_waits_for_the_next_window_and_goes_in_one_chunk():
    chunks: list[str] = []
    clock = Clock()
    with capture(chunks, clock, burst=3):
        for i in range(6):
            print(i, end=";")
        assert chunks == ["0", ";", "1"], "three chunks in the window, the rest waits"
        clock.now = 0.15
        print("x", end="")
    assert chunks == ["0", ";", "1", ";2;3;4;5;x"]


def test_a_reset_drops_what_waits():
    chunks: list[str] = []
    clock = Clock()
    with capture(chunks, clock, burst=1) as c:
        print("a", end="")
        print("b", end="")
        c.reset()
        clock.now = 1.0
        print("c", end="")
    assert chunks == ["a", "c"]


def test_streaming_stops_past_the_outputs_limit():
    chunks: list[str] = []
    clock = Clock()
    with capture(chunks, clock, burst=1000):
        for _ in range(3):
            print("x" * (MAX_BYTES // 2), end="")
    assert sum(len(c) for c in chunks) <= MAX_BYTES + MAX_BYTES // 2


def test_text_waiting_in_a_busy_window_is_held_to_the_limit_too():
    chunks: list[str] = []
    clock = Clock()
    with capture(chunks, clock, burst=1):
        for _ in range(10_000):
            print("y" * 100)
        clock.now = 1.0
        print("end")
    assert sum(len(c) for c in chunks) <= MAX_BYTES + 101


def test_a_failing_receiver_costs_the_streamed_text_only():
    def broken(text: str) -> None:
        raise RuntimeError("the page went away")

    with StreamCapture(broken) as c:
        print("still captured")
    assert c.text() == "still captured"


def test_page_run_streams_what_a_cell_prints_and_returns_the_same_outputs():
    page._kernel = None
    code = "print('one')\nimport sys\nprint('two', file=sys.stderr)\nx = 5"
    plain = json.loads(page.run(code, "cell 1"))
    page._kernel = None
    chunks: list[str] = []
    streamed = json.loads(page.run(code, "cell 1", "names", emit=chunks.append))
    assert "".join(chunks) == "one\ntwo\n"
    assert streamed == plain
    page._kernel = None
