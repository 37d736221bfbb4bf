"""Programs the benchmark runs in fresh processes (`python -m bench.children.NAME ...`), each printing
one JSON value on stdout: a fresh interpreter is what a user's one-shot command pays for."""
