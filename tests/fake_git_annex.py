"""A FAKE git-annex for faults the real one cannot produce on demand.

It speaks just enough of ``addurl --batch --json`` to answer each input line
with a success, and misbehaves as ``FAKE_ANNEX_MODE`` asks:

- ``hugeline``: before the first answer, prints one valid JSON line of over 1 MB;
- ``flood``: writes ``FAKE_ANNEX_FLOOD`` bytes (default 8 MiB) of stderr lines
  while it answers;
- ``die``: answers ``FAKE_ANNEX_ANSWERS`` lines (default 1), then exits with
  status 3 without reading more (with 0: says so on stderr and exits on its
  first line);
- ``helper``: starts a child in its own process group that would sleep for an
  hour, and leaves it behind when it exits;
- ``stubborn``: ignores SIGTERM (only SIGKILL stops it) and never exits on EOF;
- ``slowcheck``: reports every byte of an item, then is silent for
  ``FAKE_ANNEX_CHECK`` seconds (as while it checksums a big file), then answers.
- ``leftover``: puts each item's file in place as a plain file (in the current
  folder, the repository); the first process started (no ``FAKE_ANNEX_MARK``
  file yet: it makes it) kills itself with SIGKILL right then, as a git-annex
  killed between moving a download into place and adding it. A line whose path
  is taken fails as git-annex fails it ("already exists; not overwriting").
- ``hold``: not a fake at all but a hold: the run's ``addurl --json`` reads nothing until
  a writer opens the FIFO ``FAKE_ANNEX_GATE``, then becomes the real git-annex with the
  same arguments (a run's first lines wait in its input pipe, sent but not yet read).
  Anything else (the options check before it, without ``--json``) is the real one.

It writes its pid (and a helper's) to ``FAKE_ANNEX_PIDFILE`` if set. Any command but
``addurl`` (``add``, ``registerurl`` when a run stages what it left) is handed to the real
git-annex beside the Python that runs it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time


def answer(line: str) -> None:
    path = line.partition(" ")[2]
    record = {
        "command": "addurl",
        "success": True,
        "file": path,
        "input": [line],
        "key": "FAKE-s1--" + str(abs(hash(line))),
        "error-messages": [],
        "note": "fake",
    }
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def leave_a_file(line: str) -> None:
    path = line.partition(" ")[2]
    if os.path.lexists(path):
        record = {
            "command": "addurl",
            "success": False,
            "file": path,
            "input": [line],
            "error-messages": [f"{path} already exists; not overwriting"],
        }
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
        return
    content = "downloaded\n"
    progress = {
        "byte-progress": len(content),
        "total-size": len(content),
        "action": {"input": [line]},
    }
    sys.stdout.write(json.dumps(progress) + "\n")
    sys.stdout.flush()
    with open(path, "w") as handle:
        handle.write(content)
    mark = os.environ["FAKE_ANNEX_MARK"]
    if not os.path.exists(mark):
        open(mark, "w").close()
        os.kill(os.getpid(), signal.SIGKILL)
    answer(line)


def become_the_real_one() -> None:
    real = os.path.join(os.path.dirname(sys.executable), "git-annex")
    os.execv(real, [real, *sys.argv[1:]])


def main() -> int:
    mode = os.environ.get("FAKE_ANNEX_MODE", "")
    if sys.argv[1:2] != ["addurl"] or (mode == "hold" and "--json" not in sys.argv):
        become_the_real_one()
    if mode == "hold":
        with open(os.environ["FAKE_ANNEX_GATE"], "rb"):
            pass  # opening a FIFO to read blocks until the test opens it to write
        become_the_real_one()
    pidfile = os.environ.get("FAKE_ANNEX_PIDFILE")
    pids = [os.getpid()]
    if mode == "helper":
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        pids.append(helper.pid)
    if mode == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if pidfile:
        with open(pidfile, "w") as handle:
            handle.write(" ".join(map(str, pids)))
    if mode == "hugeline":
        big = {
            "command": "addurl",
            "note": "x" * (1 << 20) + "END",
            "success": True,
            "input": ["not-an-item"],
            "file": "huge",
        }
        sys.stdout.write(json.dumps(big) + "\n")
        sys.stdout.flush()
    if mode == "flood":
        total = int(os.environ.get("FAKE_ANNEX_FLOOD", str(8 << 20)))
        line = "flood " + "e" * 200 + "\n"
        for _ in range(total // len(line) + 1):
            sys.stderr.write(line)
        sys.stderr.flush()
    answers = int(os.environ.get("FAKE_ANNEX_ANSWERS", "1"))
    for count, raw in enumerate(sys.stdin, start=1):
        if mode == "leftover":
            leave_a_file(raw.rstrip("\n"))
            continue
        if mode == "slowcheck":
            line = raw.rstrip("\n")
            progress = {"byte-progress": 1000, "total-size": 1000, "action": {"input": [line]}}
            sys.stdout.write(json.dumps(progress) + "\n")
            sys.stdout.flush()
            time.sleep(float(os.environ.get("FAKE_ANNEX_CHECK", "3")))
        if mode == "die" and answers == 0:
            sys.stderr.write("fake git-annex gives up\n")
            sys.stderr.flush()
            os._exit(3)
        answer(raw.rstrip("\n"))
        if mode == "die" and count >= answers:
            os._exit(3)
    if mode == "stubborn":
        while True:
            time.sleep(60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
