#!/usr/bin/env bash
# package.docs_cover_cli: the man page and the bash, zsh and fish completions
# cover every command and option the program accepts (as `mews-export --help`
# and `mews-export <command> --help` list them), and the completions offer
# no option the program does not accept.
# usage: docs_cover_cli_test.sh MEWS_EXPORT SOURCE_DIR
set -euo pipefail
exe=$1 src=$2
man=$src/docs/mews-export.1
bash_c=$src/completions/mews-export.bash
zsh_c=$src/completions/_mews-export
fish_c=$src/completions/mews-export.fish
errors=0
miss() { echo "MISSING: $*" >&2; errors=$((errors + 1)); }

# Option names from CLI11's help: the lines that start with an option.
options_of() { "$exe" "$@" --help | grep -E '^ +-' | grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | tr -d ' ,' | sort -u; }

global=$(options_of)
commands=$("$exe" --help | sed -n '/^Subcommands:/,$p' | sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p')
[[ -n $commands ]] || { echo "no subcommands found in --help" >&2; exit 1; }
echo "commands: ${commands//$'\n'/ }"
entities="OrderItem Payment Reservation Customer Company Bill AvailabilityAdjustment AvailabilityBlock ResourceBlock LedgerEntry"

in_man() { grep -qF -- "${1//-/\\-}" "$man"; }
in_bash() { grep -qE -- "(^|[ \"|(])$1([ \"|)]|\$)" "$bash_c"; }
in_zsh() { grep -qE -- "(^|[' {,()*])$1([]=+,}' )[]|\$)" "$zsh_c"; }
fish_lines=$(grep -E '^complete ' "$fish_c")
in_fish() {
  case $1 in
    --*) grep -qE -- " -l ${1#--}( |\$)" <<<"$fish_lines" ;;
    -*) grep -qE -- " -s ${1#-}( |\$)" <<<"$fish_lines" ;;
  esac
}

all_options=$global
for option in $global; do
  in_man "$option" || miss "man page: global option $option"
  in_bash "$option" || miss "bash completion: global option $option"
  in_zsh "$option" || miss "zsh completion: global option $option"
  in_fish "$option" || miss "fish completion: global option $option"
done
for command in $commands; do
  grep -qE "^\.(B|SY|TP|SS).*\b$command\b" "$man" || grep -qE "^\.B $command\$" "$man" || miss "man page: command $command"
  grep -qE "\b$command\b" "$bash_c" || miss "bash completion: command $command"
  grep -qE "'$command:" "$zsh_c" || miss "zsh completion: command $command"
  grep -qE -- "-a $command " "$fish_c" || miss "fish completion: command $command"
  for option in $(options_of "$command"); do
    all_options+=$'\n'$option
    in_man "$option" || miss "man page: $command $option"
    in_bash "$option" || miss "bash completion: $command $option"
    in_zsh "$option" || miss "zsh completion: $command $option"
    in_fish "$option" || miss "fish completion: $command $option"
  done
done
for entity in $entities; do
  for file in "$man" "$bash_c" "$zsh_c" "$fish_c"; do
    grep -qw -- "$entity" "$file" || miss "${file##*/}: entity type $entity"
  done
done

# The other way round: every long option a completion offers exists.
all_options=$(sort -u <<<"$all_options")
offered=$( (grep -oE -- '(^|[ "|(])--[a-z][a-z0-9-]*' "$bash_c" | tr -d ' "|('
  grep -oE -- "(^|[' {,()*])--[a-z][a-z0-9-]*" "$zsh_c" | tr -d " '{,()*"
  grep -oE -- ' -l [a-z][a-z0-9-]*' <<<"$fish_lines" | sed 's/^ -l /--/') | sort -u)
for option in $offered; do
  grep -qxF -- "$option" <<<"$all_options" || miss "a completion offers $option, which mews-export does not accept"
done

if ((errors > 0)); then
  echo "docs_cover_cli: FAIL: $errors missing (update docs/mews-export.1 and completions/)" >&2
  exit 1
fi
echo "docs_cover_cli: PASS ($(wc -l <<<"$all_options") options, $(wc -w <<<"$commands") commands)"
