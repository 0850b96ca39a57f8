#!/usr/bin/env bash
# package.deb: build the Debian package with `cpack -G DEB` and check its
# metadata (Package, Maintainer, Depends from dpkg-shlibdeps) and its contents
# (`dpkg -c`): the programs, the man page, the completions, the headers, the
# library and its CMake package, all under /usr.
# Exits 77 (skipped) when dpkg-deb or dpkg-shlibdeps (Debian package
# dpkg-dev) is not installed.
#
# Arguments are key=value: build_dir, work_dir, config, cpack, version,
# libdir, includedir, cmakedir.
set -euo pipefail

declare -A arg=([cpack]=cpack [config]="" [libdir]=lib [includedir]=include [cmakedir]=lib/cmake/mews_export)
for kv in "$@"; do arg[${kv%%=*}]=${kv#*=}; done
for key in build_dir work_dir version; do
  [[ -n ${arg[$key]:-} ]] || { echo "deb_test: missing $key=..." >&2; exit 2; }
done

for tool in dpkg-deb dpkg-shlibdeps; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "deb_test: SKIP: $tool is not installed (apt-get install dpkg-dev)"
    exit 77
  fi
done

fail() { echo "deb_test: FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

work=${arg[work_dir]}
rm -rf -- "$work"
mkdir -p -- "$work"

step "cpack -G DEB"
cpack_args=(-G DEB --config "${arg[build_dir]}/CPackConfig.cmake" -B "$work")
[[ -n ${arg[config]} ]] && cpack_args+=(-C "${arg[config]}")
"${arg[cpack]}" "${cpack_args[@]}" >"$work/cpack.log" 2>&1 || { cat "$work/cpack.log" >&2; fail "cpack failed"; }
shopt -s nullglob
debs=("$work"/mews-export_*.deb)
((${#debs[@]} == 1)) || fail "expected one mews-export_*.deb in $work, found: ${debs[*]:-none}"
deb=${debs[0]}
echo "${deb##*/}"

step "control fields"
field() { dpkg-deb -f "$deb" "$1"; }
dpkg-deb -f "$deb"
[[ $(field Package) == mews-export ]] || fail "Package is '$(field Package)'"
[[ $(field Version) == "${arg[version]}"* ]] || fail "Version '$(field Version)' is not ${arg[version]}*"
[[ $(field Maintainer) == *@* ]] || fail "Maintainer '$(field Maintainer)' has no e-mail address"
[[ -n $(field Description) ]] || fail "no Description"
depends=$(field Depends)
for lib in libc6 libcurl libssl; do
  [[ $depends == *"$lib"* ]] || fail "Depends '$depends' lacks $lib (dpkg-shlibdeps not run?)"
done

step "dpkg -c"
dpkg-deb -c "$deb" >"$work/contents.txt"
cat "$work/contents.txt"
paths=$(awk '{print $NF}' "$work/contents.txt")
libdir=${arg[libdir]} includedir=${arg[includedir]} cmakedir=${arg[cmakedir]}
required=(
  ./usr/bin/mews-export
  ./usr/bin/mews-sandbox
  ./usr/share/man/man1/mews-export.1
  ./usr/share/bash-completion/completions/mews-export
  ./usr/share/zsh/site-functions/_mews-export
  ./usr/share/fish/vendor_completions.d/mews-export.fish
  "./usr/$includedir/mews_export/api_client.hpp"
  "./usr/$includedir/mews_export/version.hpp"
  "./usr/$cmakedir/mews_exportConfig.cmake"
  "./usr/$cmakedir/mews_exportConfigVersion.cmake"
  "./usr/$cmakedir/mews_export_targets.cmake"
)
missing=0
for path in "${required[@]}"; do
  grep -qxF -- "$path" <<<"$paths" || { echo "MISSING $path" >&2; missing=1; }
done
grep -qE "^\./usr/$libdir/libmews_export\.(a|so)" <<<"$paths" || { echo "MISSING ./usr/$libdir/libmews_export.*" >&2; missing=1; }
((missing == 0)) || fail "the package lacks files"
# Nothing outside /usr; the programs are executable.
grep -vE '^\./(usr(/.*)?)?$' <<<"$paths" && fail "files outside /usr"
grep -E ' \./usr/bin/mews-(export|sandbox)$' "$work/contents.txt" | grep -qv '^-rwxr-xr-x' &&
  fail "a program is not mode 0755"

echo "deb_test: PASS"
