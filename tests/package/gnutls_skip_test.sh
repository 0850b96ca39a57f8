#!/usr/bin/env bash
# package.gnutls_skips_init: GnuTLS, which libcurl brings along, does not
# initialise itself when mews-export starts: the dynamic linker binds its
# constructor's question (_gnutls_global_init_skip) to the program's answer,
# not to GnuTLS's own default. Saves 1 MiB of peak memory (src/cli/main.cpp).
# Skipped (77) when the program does not load GnuTLS at all.
# usage: gnutls_skip_test.sh MEWS_EXPORT
set -euo pipefail
exe=$1
# Captured first: `| grep -q` would close the pipe early and, with pipefail,
# the listing's SIGPIPE would read as "not loaded" (a false skip).
libraries=$(LD_TRACE_LOADED_OBJECTS=1 "$exe")
if ! grep -q 'libgnutls\.so' <<<"$libraries"; then
  echo "$exe does not load GnuTLS: nothing to skip"
  exit 77
fi
bindings=$(LD_DEBUG=bindings "$exe" --version 2>&1 >/dev/null | grep -F "\`_gnutls_global_init_skip'" || true)
echo "${bindings:-no binding of _gnutls_global_init_skip}"
if ! grep -qE "libgnutls\.so[^ ]* \[[0-9]+\] to [^ ]*mews-export \[[0-9]+\]" <<<"$bindings"; then
  echo "FAIL: GnuTLS's _gnutls_global_init_skip is not bound to the program's definition" >&2
  exit 1
fi
echo "ok: GnuTLS asks mews-export whether to initialise"
