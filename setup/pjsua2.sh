#!/usr/bin/env bash
# Builds pjsua2 (the Python SWIG binding of pjproject) with a high-capacity config_site.h and
# caches it as a wheel; installs the wheel into the given Python's environment.
#
# Why build: the registry wheels cap a process at 4 or 32 calls (see README, "Dependencies").
# Source: the pjproject 2.12.1 tree inside Debian's `ring` source package, or PJPROJECT_SRC.
#
# usage: setup/pjsua2.sh PYTHON
#   PJPROJECT_SRC=/path/to/pjproject   use this tree instead of Debian's source package
#   HOTLINE_CACHE=DIR                  cache folder (default ~/.cache/hotline12345)
set -euo pipefail

PY=${1:?usage: setup/pjsua2.sh PYTHON}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${HOTLINE_CACHE:-$HOME/.cache/hotline12345}
WHEELHOUSE=${WHEELHOUSE:-$CACHE/wheelhouse}
CONFIGURE_FLAGS="--enable-epoll --enable-shared --disable-video --disable-sound --disable-v4l2
 --disable-libyuv --disable-libwebrtc --disable-openh264 --disable-ffmpeg --disable-sdl
 --disable-vpx --disable-bcg729 --disable-silk --disable-ilbc-codec --disable-g7221-codec
 --disable-opencore-amr --disable-libsrtp --with-external-gsm --with-external-speex"
# v4 in the key: bump when this script changes the wheel's contents.
KEY=$( { echo v6; cat "$HERE/config_site.h"; echo "$CONFIGURE_FLAGS"; "$PY" -c 'import sys; print(sys.version_info[:2])'; echo "${PJPROJECT_SRC:-debian-ring}"; } | sha256sum | cut -c1-12)
VERSION="2.12.1+hotline.$KEY"
PYTAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')

installed=$("$PY" -c 'import importlib.metadata as m; print(m.version("pjsua2"))' 2>/dev/null || true)
if [[ "$installed" == "$VERSION" ]]; then
  exit 0
fi

wheel=$(ls "$WHEELHOUSE"/pjsua2-2.12.1*hotline.$KEY-*.whl 2>/dev/null | head -n1 || true)
if [[ -z "$wheel" ]]; then
  echo "setup: building pjsua2 $VERSION (a few minutes, once; cached in $WHEELHOUSE)"
  mkdir -p "$WHEELHOUSE" "$CACHE"
  WORK=$(mktemp -d "$CACHE/build.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT

  if [[ -n "${PJPROJECT_SRC:-}" ]]; then
    cp -a "$PJPROJECT_SRC" "$WORK/pjproject"
  else
    # Debian's `ring` source package carries the pjproject tree. A private apt configuration
    # fetches it without touching the system's sources.
    SRCDIR="$CACHE/ring-src"
    if ! ls "$SRCDIR"/ring_*.orig.tar.* >/dev/null 2>&1; then
      APTDIR="$CACHE/apt"
      mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" "$SRCDIR"
      cat > "$APTDIR/sources.list.d/ring-src.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
      APTOPTS=(-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$APTDIR/sources.list.d"
               -o Dir::State::Lists="$APTDIR/lists" -o APT::Sandbox::User=root)
      apt-get "${APTOPTS[@]}" update -q
      (cd "$SRCDIR" && apt-get "${APTOPTS[@]}" source --download-only ring)
    fi
    orig=$(ls "$SRCDIR"/ring_*.orig.tar.* | head -n1)
    mkdir -p "$WORK/ring"
    tar -xf "$orig" -C "$WORK/ring" --wildcards '*/daemon/contrib/tarballs-unpacked/pjproject-*'
    tree=$(find "$WORK/ring" -maxdepth 8 -type f -name aconfigure -path '*pjproject*' -printf '%h\n' | head -n1)
    [[ -n "$tree" ]] || { echo "setup: no pjproject tree found in $orig" >&2; exit 1; }
    mv "$tree" "$WORK/pjproject"
    rm -rf "$WORK/ring"
  fi

  cd "$WORK/pjproject"
  cp "$HERE/config_site.h" pjlib/include/pj/config_site.h
  # shellcheck disable=SC2086
  ./configure --prefix="$WORK/prefix" $CONFIGURE_FLAGS CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC" > "$WORK/configure.log" 2>&1 \
    || { tail -n 40 "$WORK/configure.log" >&2; exit 1; }
  make dep > "$WORK/make.log" 2>&1 && make -j"$(nproc)" >> "$WORK/make.log" 2>&1 \
    || { tail -n 60 "$WORK/make.log" >&2; exit 1; }
  "$PY" -m pip install -q setuptools wheel
  # -threads: every pjsua2 call releases the GIL (libHandleEvents waits in epoll without holding
  # it) and callbacks take it back; without it the pj thread starves the asyncio loop.
  make -C pjsip-apps/src/swig/python PYTHON_EXE="$PY" USE_THREADS="-threads -DSWIG_NO_EXPORT_ITERATOR_METHODS" > "$WORK/swig.log" 2>&1 \
    || { tail -n 60 "$WORK/swig.log" >&2; exit 1; }

  # Package as `pjsua2/` with the pj shared libraries beside the extension ($ORIGIN rpath), so
  # ctypes can reach pjmedia's C API (see ivr/sip/capture.py) from the same copies pjsua2 uses.
  STAGE="$WORK/stage"
  mkdir -p "$STAGE/pjsua2"
  ext=$(find pjsip-apps/src/swig/python/build -name '_pjsua2*.so' | head -n1)
  cp pjsip-apps/src/swig/python/pjsua2.py "$STAGE/pjsua2/__init__.py"
  cp "$ext" "$STAGE/pjsua2/"
  # Every shared library the build produced (the extension links them through the build tree's lib dirs).
  find . -path '*/lib/lib*.so.*' \( -type f -o -type l \) -name '*.so.[0-9]' -exec cp -L {} "$STAGE/pjsua2/" \;
  for f in "$STAGE"/pjsua2/*.so*; do patchelf --set-rpath '$ORIGIN' "$f"; done
  cat > "$STAGE/setup.py" <<EOF
from setuptools import setup
from setuptools.dist import Distribution

class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True

setup(name="pjsua2", version="$VERSION", packages=["pjsua2"],
      package_data={"pjsua2": ["*.so", "*.so.*"]}, distclass=BinaryDistribution,
      description="pjsua2 2.12.1 built for the 12345 hotline (PJSUA_MAX_CALLS 1024)")
EOF
  (cd "$STAGE" && "$PY" setup.py -q bdist_wheel --python-tag "$PYTAG" -d "$WHEELHOUSE" > "$WORK/wheel.log" 2>&1) \
    || { tail -n 30 "$WORK/wheel.log" >&2; exit 1; }
  wheel=$(ls "$WHEELHOUSE"/pjsua2-2.12.1*hotline.$KEY-*.whl | head -n1)
  echo "setup: pjsua2 wheel cached: $wheel"
fi

"$PY" -m pip install -q --force-reinstall --no-deps "$wheel"
