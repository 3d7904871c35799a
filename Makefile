# One place for the commands CI and developers run.
.PHONY: install test slow lint check bench demo docs

install:
	python -m pip install -e '.[dev]'

test:
	python -m pytest

slow:
	python -m pytest -m slow

lint:
	ruff check preflight tests bench action docs/hooks
	python -m mypy

check: lint test

bench:
	python bench/bench_probe.py
	python bench/bench_copy.py
	python bench/bench_fix.py
	python bench/bench_check.py
	python bench/bench_check.py --phone
	python bench/bench_batch.py
	python bench/bench_batch.py --phone 1080p-h264
	python bench/bench_memory.py
	python bench/bench_hdr.py
	python bench/bench_content_fix.py

demo:
	preflight demo

docs:
	NO_MKDOCS_2_WARNING=1 python -m mkdocs build --strict
