# The README's two commands, and the benchmarks.
.PHONY: demo test bench
demo:
	pip install . && bfcnn-runtime
test:
	pip install -e ".[train,test]" && BFCNN_REQUIRE_CPP=1 python -m pytest -q
bench:
	python benchmarks/pyramid.py && python benchmarks/speed.py && python benchmarks/quality.py
