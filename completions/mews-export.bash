# bash completion for mews-export(1)                      -*- shell-script -*-
# Installed as share/bash-completion/completions/mews-export.
# Keep in step with `mews-export --help` and `mews-export <command> --help`:
# tests/package checks that every option the program accepts is listed here.
# shellcheck disable=SC2207  # word lists: splitting compgen's output is intended

_mews_export()
{
    local cur prev words cword split=false
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -s || return
    else
        # Without the bash-completion package: option=value words are not split.
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
    fi

    local commands="add status wait download run list config sync"
    local entities="OrderItem Payment Reservation Customer Company Bill
        AvailabilityAdjustment AvailabilityBlock ResourceBlock LedgerEntry"
    local global_opts="-h --help --version --platform --client-token-file
        --access-token-file --client --profile --config --state-dir --ca-bundle
        --s3-endpoint
        -v --verbose -q --quiet --log-format --progress --json --retry
        --retry-max-time --stall-timeout --allow-insecure-http"
    local export_opts="--entity --enterprise --chain --updated-from
        --updated-to --posting-from --posting-to"
    local output_opts="-o --output-dir --stdout --parallel --split --validate"
    local wait_opts="--interval --timeout"

    # The value of an option that takes one.
    case $prev in
        --entity)
            COMPREPLY=($(compgen -W "$entities" -- "$cur"))
            return ;;
        --platform)
            COMPREPLY=($(compgen -W "demo production" -- "$cur"))
            return ;;
        --log-format)
            COMPREPLY=($(compgen -W "text json" -- "$cur"))
            return ;;
        --progress)
            COMPREPLY=($(compgen -W "auto always never" -- "$cur"))
            return ;;
        --client-token-file|--access-token-file|--config|--ca-bundle|--metrics-file)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --state-dir|-o|--output-dir)
            compopt -o filenames 2>/dev/null
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return ;;
        --interval|--timeout|--retry-max-time|--stall-timeout)
            COMPREPLY=($(compgen -W "1s 30s 1m 5m 15m 1h 2h 24h" -- "$cur"))
            return ;;
        --parallel|--max-concurrent|--split)
            COMPREPLY=($(compgen -W "1 2 4 8 16" -- "$cur"))
            return ;;
        --shard)
            # I/N: this process's index, then the number of processes.
            COMPREPLY=($(compgen -W "0/2 1/2 0/3 1/3 2/3 0/4 1/4 2/4 3/4" -- "$cur"))
            return ;;
        --retry)
            COMPREPLY=($(compgen -W "0 3 7 10" -- "$cur"))
            return ;;
        --profile)
            # The [profiles.NAME] tables of the default configuration file.
            local conf=${XDG_CONFIG_HOME:-$HOME/.config}/mews-export/config.toml
            [[ -r $conf ]] &&
                COMPREPLY=($(compgen -W "$(sed -n 's/^[[:space:]]*\[profiles\.\([^]]*\)\].*/\1/p' "$conf")" -- "$cur"))
            return ;;
        --client|--enterprise|--chain|--updated-from|--updated-to|--posting-from|--posting-to|--since)
            return ;;  # free text: nothing to offer
    esac
    [[ $split == true ]] && return

    # The command: the first word that is neither an option nor an option's value.
    local command="" i word
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        case $word in
            --platform|--client-token-file|--access-token-file|--client|--profile|--config|\
            --state-dir|--ca-bundle|--s3-endpoint|--log-format|--progress|--retry|--retry-max-time|--stall-timeout)
                ((i++)) ;;
            -*) ;;
            *)
                command=$word
                break ;;
        esac
    done

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "$commands" -- "$cur"))
        fi
        return
    fi

    local opts
    case $command in
        add) opts="$export_opts" ;;
        status) opts="--show-urls" ;;
        wait) opts="$wait_opts" ;;
        download) opts="$output_opts --force" ;;
        run) opts="$export_opts $output_opts $wait_opts --wait-pending --wait-lock --metrics-file" ;;
        list) opts="--all --offline" ;;
        config) opts="" ;;
        # --profile (repeatable here) is among the global options.
        sync) opts="--entity --all-entities --all-profiles --enterprise --chain --since
            --reset -o --output-dir --parallel --split --validate $wait_opts --max-concurrent --shard
            --metrics-file --wait-lock" ;;
        *) return ;;
    esac
    if [[ $cur == -* ]]; then
        # Global options are accepted after the command too.
        COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))
    fi
    # Export ids (status, wait, download) are not completed: see
    # `mews-export list --offline` for the exports this machine started.
} &&
    complete -F _mews_export mews-export

# ex: filetype=sh
