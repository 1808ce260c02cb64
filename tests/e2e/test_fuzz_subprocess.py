"""Random input streams through a real ``python -m minicloud`` (pipes, not a terminal).

About 50 seeded streams: menu numbers, names with unicode/quotes/;/--/%, CIDRs, y/n, control
characters, a 10,000-character line, bytes that are not UTF-8, and input that just stops.  Each
run must exit 0 with no traceback, and the store must still open and draw its tree afterwards.

Marked ``heavy``: the first 10 of the seeded streams by default, all 50 with
``MINICLOUD_TEST_VOLUME=full`` (tests/volume.py).
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from menu_helpers import REFERENCE_TREE, Runner, minicloud_env

from tests.volume import scaled

SEED = 20_240_606
STREAMS = scaled(10, 50)

WORDS: list[bytes] = [
    *(str(n).encode() for n in range(0, 13)), b"", b"", b"", b"99", b"-1", b" 3 ",
    b"vm1", b"web", b"net-a", b"r1", b"Lab", b"LondonNet", b"Tower", b"a" * 64, b"a" * 65,
    b"O'Brien", b'say "hi"', b"a;b", b"x--y", b"100%", b"%s%n", b"two words",
    "naïve".encode(), "日本語".encode(), "emoji😀".encode(), b"$(id)", b"' OR 1=1 --",
    b"10.20.0.0/24", b"10.10.2.0/25", b"10.0.0.0/33", b"300.1.1.1/24", b"fd00::/64", b"abc",
    b"y", b"n", b"yes", b"no", b"maybe",
    b"\x00", b"\x01", b"\x1b[A", b"\x7f", b"\r", "\u2028".encode(),
    b"\xff\xfe", b"\xc3\x28", b"\xe2\x82", b"caf\xe9", b"\x80abc",
]


def make_stream(rng: random.Random, index: int) -> bytes:
    lines = [rng.choice(WORDS) for _ in range(rng.randint(0, 40))]
    if index % 5 == 0:
        lines.insert(rng.randint(0, len(lines)), b"x" * 10_000)
    if index % 7 == 0:
        lines.insert(rng.randint(0, len(lines)), bytes(rng.randrange(256) for _ in range(64)))
    data = b"\n".join(lines)
    ending = rng.choice([b"\n", b"", b"\n8\n"])
    return data + ending


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home holding the demo deployment, copied for every stream."""
    home = tmp_path_factory.mktemp("template")
    result = Runner(home)("--demo", "topology")
    assert result.code == 0, result.err
    assert result.out == REFERENCE_TREE
    return home


def run_one(template: Path, root: Path, index: int, stream: bytes) -> str | None:
    """Run one stream in a copy of the template; the problem in one line, or None."""
    home = root / f"run{index}"
    shutil.copytree(template, home)
    env = minicloud_env(home)
    try:
        proc = subprocess.run([sys.executable, "-m", "minicloud"], input=stream,
                              capture_output=True, cwd=home, env=env, timeout=60)
    except subprocess.TimeoutExpired:
        return f"stream {index}: no exit within 60 s"
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        return f"stream {index}: exit {proc.returncode}: {err[-500:]}"
    for name, text in (("stdout", out), ("stderr", err)):
        if "Traceback" in text:
            return f"stream {index}: traceback on {name}: {text[text.find('Traceback'):][:800]}"
        if "Unexpected error" in text:
            at = text.find("Unexpected error")
            return f"stream {index}: {text[at:at + 300]}"
    # Exit leaves the main menu's prompt; end of input ends that prompt's line.
    if not (out.endswith("\n") or out.endswith("Make a choice : [1] ")):
        return f"stream {index}: output ends mid-line: {out[-200:]!r}"
    after = subprocess.run([sys.executable, "-m", "minicloud", "topology"], capture_output=True,
                           cwd=home, env=env, timeout=60)
    if after.returncode != 0 or b"Traceback" in after.stderr:
        return f"stream {index}: the store no longer opens: {after.stderr[-500:]!r}"
    shutil.rmtree(home, ignore_errors=True)
    return None


@pytest.mark.heavy
def test_random_streams_through_pipes(template: Path, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    streams = [make_stream(rng, i) for i in range(STREAMS)]
    assert any(b"x" * 10_000 in s for s in streams)
    assert any(_not_utf8(s) for s in streams)
    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(lambda a: run_one(template, tmp_path, *a),
                                        enumerate(streams)) if p]
    assert not problems, "\n".join(problems)


def _not_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.parametrize("stream", [
    b"x" * 10_000 + b"\n8\n",
    b"2\n3\n" + b"\xff" * 100 + b"\ncaf\xe9\n\n8\n",
    b"4\n3\n\n\xc3\x28net\n" + b"9" * 10_000 + b"\n",
    b"\x00\x00\x00",
    b"5\n3\n\nvm\xe9\n",
], ids=["long-line", "latin1-name", "bad-utf8-then-long", "nul-bytes", "eof-mid-create"])
def test_hand_picked_streams(template: Path, tmp_path: Path, stream: bytes) -> None:
    assert run_one(template, tmp_path, 0, stream) is None
