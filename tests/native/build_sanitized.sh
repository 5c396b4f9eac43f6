#!/bin/sh
# Build the C++ pyramid op with AddressSanitizer + UndefinedBehaviorSanitizer into $1 (a folder).
# Run Python with LD_PRELOAD="$(gcc -print-file-name=libasan.so)" to load it (see test_sanitizers.py).
set -e
out="$1"; mkdir -p "$out"
here="$(cd "$(dirname "$0")/../.." && pwd)"
suffix="$(python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
${CXX:-g++} -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
  -fno-sanitize-recover=all -shared -fPIC $(python -m pybind11 --includes) -I"$here/cpp_ops" \
  "$here/cpp_ops/pyramid.cpp" "$here/cpp_ops/bindings.cpp" -o "$out/_pyramid$suffix"
echo "$out/_pyramid$suffix"
