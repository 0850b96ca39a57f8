#!/usr/bin/env bash
# package.install_consumer: `cmake --install` the build into a staging prefix,
# check the installation layout (product contract, "Installation layout"),
# run the installed programs, then configure, build and run the consumer
# project (tests/package/consumer) against the staged CMake package.
#
# Arguments are key=value (see tests/package/CMakeLists.txt): build_dir,
# work_dir, consumer_src, config, cmake, generator, make_program,
# cxx_compiler, cxx_flags, link_flags, version, bindir, libdir, includedir,
# datadir, mandir, cmakedir.
set -euo pipefail

declare -A arg=([cmake]=cmake [config]="" [make_program]="" [cxx_compiler]="" [cxx_flags]="" [link_flags]=""
  [bindir]=bin [libdir]=lib [includedir]=include [datadir]=share [mandir]=share/man [cmakedir]=lib/cmake/mews_export)
for kv in "$@"; do arg[${kv%%=*}]=${kv#*=}; done
for key in build_dir work_dir consumer_src version generator; do
  [[ -n ${arg[$key]:-} ]] || { echo "install_test: missing $key=..." >&2; exit 2; }
done

fail() { echo "install_test: FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

work=${arg[work_dir]}
staging=$work/staging
rm -rf -- "$work"
mkdir -p -- "$work"

step "cmake --install ${arg[build_dir]} --prefix $staging"
config_args=()
[[ -n ${arg[config]} ]] && config_args=(--config "${arg[config]}")
"${arg[cmake]}" --install "${arg[build_dir]}" --prefix "$staging" "${config_args[@]}" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "cmake --install failed"; }

step "installation layout"
bindir=${arg[bindir]} libdir=${arg[libdir]} includedir=${arg[includedir]}
datadir=${arg[datadir]} mandir=${arg[mandir]} cmakedir=${arg[cmakedir]}
required=(
  "$bindir/mews-export"
  "$bindir/mews-sandbox"
  "$mandir/man1/mews-export.1"
  "$datadir/bash-completion/completions/mews-export"
  "$datadir/zsh/site-functions/_mews-export"
  "$datadir/fish/vendor_completions.d/mews-export.fish"
  "$includedir/mews_export/api_client.hpp"
  "$includedir/mews_export/error.hpp"
  "$includedir/mews_export/model.hpp"
  "$includedir/mews_export/validate.hpp"
  "$includedir/mews_export/version.hpp"
  "$cmakedir/mews_exportConfig.cmake"
  "$cmakedir/mews_exportConfigVersion.cmake"
  "$cmakedir/mews_export_targets.cmake"
)
missing=0
for path in "${required[@]}"; do
  if [[ -e $staging/$path ]]; then echo "ok   $path"; else echo "MISSING $path" >&2; missing=1; fi
done
# Every public header of the source tree is installed.
for header in "${arg[consumer_src]}"/../../../include/mews_export/*.hpp; do
  path=$includedir/mews_export/${header##*/}
  [[ -e $staging/$path ]] || { echo "MISSING $path" >&2; missing=1; }
done
# The library: static (libmews_export.a) or shared (libmews_export.so*).
if compgen -G "$staging/$libdir/libmews_export.*" >/dev/null; then
  echo "ok   $(cd "$staging" && find "$libdir" -maxdepth 1 -name 'libmews_export.*' | sort | head -1)"
else
  echo "MISSING $libdir/libmews_export.{a,so}" >&2
  missing=1
fi
[[ -x $staging/$bindir/mews-export && -x $staging/$bindir/mews-sandbox ]] || { echo "programs not executable" >&2; missing=1; }
((missing == 0)) || fail "installation layout incomplete (listing below)"$'\n'"$(cd "$staging" && find . | sort)"

step "exported targets carry no build-only settings"
targets=$(cat "$staging/$cmakedir"/mews_export_targets*.cmake)
for bad in mews_export_warnings mews_export_sanitizers -Wall -Wextra -Werror -fsanitize; do
  grep -q -- "$bad" <<<"$targets" && fail "the exported targets mention $bad"
done
build_dir_real=$(cd "${arg[build_dir]}" && pwd -P)
src_dir_real=$(cd "${arg[consumer_src]}/../../.." && pwd -P)
for dir in "$build_dir_real" "$src_dir_real"; do
  grep -rqF -- "$dir/" "$staging/$cmakedir" && fail "the CMake package refers to the build or source tree ($dir)"
done
echo ok

step "installed programs run"
out=$("$staging/$bindir/mews-export" --version) || fail "mews-export --version exited $?"
[[ $out == "mews-export ${arg[version]}" ]] || fail "mews-export --version printed '$out'"
echo "$out"
"$staging/$bindir/mews-export" --help >/dev/null || fail "mews-export --help exited $?"
"$staging/$bindir/mews-sandbox" --help >/dev/null 2>&1 || fail "mews-sandbox --help exited $?"
if command -v man >/dev/null 2>&1; then
  MANWIDTH=80 man -l "$staging/$mandir/man1/mews-export.1" 2>/dev/null | grep -q 'mews-export' ||
    fail "man -l cannot render the installed man page"
fi
echo ok

step "consumer project: find_package(mews_export) from $staging"
consumer_build=$work/consumer-build
configure=("${arg[cmake]}" -S "${arg[consumer_src]}" -B "$consumer_build" -G "${arg[generator]}"
  -DCMAKE_PREFIX_PATH="$staging"
  -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON
  -DEXPECTED_MEWS_EXPORT_VERSION="${arg[version]}")
[[ -n ${arg[make_program]} ]] && configure+=(-DCMAKE_MAKE_PROGRAM="${arg[make_program]}")
[[ -n ${arg[cxx_compiler]} ]] && configure+=(-DCMAKE_CXX_COMPILER="${arg[cxx_compiler]}")
[[ -n ${arg[config]} ]] && configure+=(-DCMAKE_BUILD_TYPE="${arg[config]}")
configure+=(-DCMAKE_CXX_FLAGS="${arg[cxx_flags]}" -DCMAKE_EXE_LINKER_FLAGS="${arg[link_flags]}")
"${configure[@]}" >"$work/consumer-configure.log" 2>&1 ||
  { cat "$work/consumer-configure.log" >&2; fail "configuring the consumer failed"; }
found=$(sed -n 's/^mews_export_DIR:PATH=//p' "$consumer_build/CMakeCache.txt")
[[ $(cd "$found" && pwd -P) == $(cd "$staging/$cmakedir" && pwd -P) ]] ||
  fail "find_package(mews_export) found '$found', not the staged package"
echo "mews_export_DIR=$found"
"${arg[cmake]}" --build "$consumer_build" "${config_args[@]}" >"$work/consumer-build.log" 2>&1 ||
  { cat "$work/consumer-build.log" >&2; fail "building the consumer failed"; }

consumer=$(find "$consumer_build" -type f -name consumer -perm -u+x | head -1)
[[ -n $consumer ]] || fail "the consumer program was not built"
rc=0
output=$("$consumer") || rc=$?
((rc == 0)) || { echo "$output"; fail "the consumer exited $rc"; }
echo "$output"
grep -qx 'consumer: OK' <<<"$output" || fail "the consumer did not print 'consumer: OK'"
grep -qx "version: ${arg[version]}" <<<"$output" || fail "the consumer did not print the version"
grep -qx 'format_utc: 2026-01-02T00:00:00Z' <<<"$output" || fail "the consumer did not print format_utc"

echo "install_test: PASS"
