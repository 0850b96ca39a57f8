# fish completion for mews-export(1).
# Installed as share/fish/vendor_completions.d/mews-export.fish.
# Keep in step with `mews-export --help` and `mews-export <command> --help`:
# tests/package checks that every option the program accepts is listed here.

set -l commands add status wait download run list config sync
set -l entities OrderItem Payment Reservation Customer Company Bill AvailabilityAdjustment AvailabilityBlock ResourceBlock LedgerEntry
set -l durations 1s 30s 1m 5m 15m 1h 2h 24h

complete -c mews-export -f

# The [profiles.NAME] tables of the default configuration file.
function __mews_export_profiles
    set -l dir $XDG_CONFIG_HOME
    test -n "$dir"; or set dir ~/.config
    set -l file $dir/mews-export/config.toml
    test -r $file; and sed -n 's/^[[:space:]]*\[profiles\.\([^]]*\)\].*/\1/p' $file
end

# Commands
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a add -d 'Start an export and print its id'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a status -d 'Show exports by id'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a wait -d 'Poll exports until each is finished'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a download -d 'Download the files of a successful export'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a run -d 'Start an export (or resume ours), wait, download'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a list -d 'List the exports this machine started'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a config -d 'Show the effective settings and where each came from'
complete -c mews-export -n "not __fish_seen_subcommand_from $commands" -a sync -d 'Export what changed since the last sync, per profile and entity type'

# Global options (accepted before or after the command)
complete -c mews-export -s h -l help -d 'Print help and exit'
complete -c mews-export -l version -d 'Print the version and exit'
complete -c mews-export -l platform -x -a 'demo production' -d 'demo, production or a URL (env MEWS_PLATFORM)'
complete -c mews-export -l client-token-file -r -F -d 'File holding the ClientToken'
complete -c mews-export -l access-token-file -r -F -d 'File holding the AccessToken'
complete -c mews-export -l client -x -d 'Client name sent to Mews (env MEWS_CLIENT)'
complete -c mews-export -l profile -x -a '(__mews_export_profiles)' -d 'Configuration profile (env MEWS_PROFILE)'
complete -c mews-export -l config -r -F -d 'Configuration file (default ~/.config/mews-export/config.toml)'
complete -c mews-export -l state-dir -x -a '(__fish_complete_directories)' -d 'Where the journal lives (env MEWS_EXPORT_STATE_DIR)'
complete -c mews-export -l ca-bundle -r -F -d 'CA certificates file to trust for TLS'
complete -c mews-export -l s3-endpoint -x -d 'S3-compatible endpoint URL for -o s3://BUCKET/PREFIX'
complete -c mews-export -s v -l verbose -d 'More logs on stderr (-vv for debug)'
complete -c mews-export -s q -l quiet -d 'Errors only on stderr'
complete -c mews-export -l log-format -x -a 'text json' -d 'Log format on stderr'
complete -c mews-export -l progress -x -a 'auto always never' -d 'Progress display on stderr (auto: when a terminal)'
complete -c mews-export -l json -d 'Print results as JSON'
complete -c mews-export -l retry -x -d 'Retries of a failed request or transfer (default 7)'
complete -c mews-export -l retry-max-time -x -a "$durations" -d 'Stop retrying after this long (default 15m)'
complete -c mews-export -l stall-timeout -x -a "$durations" -d 'Abandon a transfer receiving nothing this long (default 60s)'
complete -c mews-export -l allow-insecure-http -d 'Allow plain http:// to non-loopback hosts'

# add, run: what to export
set -l export_cmds "__fish_seen_subcommand_from add run"
complete -c mews-export -n $export_cmds -l entity -x -a "$entities" -d 'Entity type (case-insensitive)'
complete -c mews-export -n $export_cmds -l enterprise -x -d 'Limit to this enterprise id (repeatable)'
complete -c mews-export -n $export_cmds -l chain -x -d 'Limit to this chain id (repeatable)'
complete -c mews-export -n $export_cmds -l updated-from -x -d 'Updated at or after T (YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ)'
complete -c mews-export -n $export_cmds -l updated-to -x -d '... and at or before T (default: five minutes ago)'
complete -c mews-export -n $export_cmds -l posting-from -x -d 'LedgerEntry: first posting date (YYYY-MM-DD)'
complete -c mews-export -n $export_cmds -l posting-to -x -d 'LedgerEntry: last posting date (YYYY-MM-DD)'

# download, run: where to write
set -l output_cmds "__fish_seen_subcommand_from download run"
complete -c mews-export -n $output_cmds -s o -l output-dir -x -a '(__fish_complete_directories)' -d 'Write DIR/<ExportId>/part-NNN.jsonl + manifest.json'
complete -c mews-export -n $output_cmds -l stdout -d 'Write all records, in order, to standard output'
complete -c mews-export -n $output_cmds -l parallel -x -a '1 2 4 8 16' -d 'Files downloaded at once (1-64, default 4)'
complete -c mews-export -n $output_cmds -l split -x -a '1 2 4 8 16' -d 'Range requests at once per file of 64 MiB or more (default 4)'
complete -c mews-export -n $output_cmds -l validate -d 'Check that every line is a JSON object (exit 6 naming the first bad one)'
complete -c mews-export -n "__fish_seen_subcommand_from download" -l force -d 'Download again even when a verified copy exists'

# wait, run, sync: polling
set -l wait_cmds "__fish_seen_subcommand_from wait run sync"
complete -c mews-export -n $wait_cmds -l interval -x -a "$durations" -d 'Time between status checks (default 5m)'
complete -c mews-export -n $wait_cmds -l timeout -x -a "$durations" -d 'Give up waiting after this long (default 24h)'

# run
complete -c mews-export -n "__fish_seen_subcommand_from run" -l wait-pending -d 'Retry the add while a foreign export is pending'
complete -c mews-export -n "__fish_seen_subcommand_from run" -l wait-lock -d 'Wait for another active run of the same job'
complete -c mews-export -n "__fish_seen_subcommand_from run" -l metrics-file -r -F -d 'Write a Prometheus textfile of this job here'

# sync (--profile, repeatable here, is among the global options)
set -l sync_cmd "__fish_seen_subcommand_from sync"
complete -c mews-export -n $sync_cmd -l entity -x -a "$entities" -d 'Entity type to sync (repeatable)'
complete -c mews-export -n $sync_cmd -l all-entities -d 'Every entity type but LedgerEntry (which needs --since)'
complete -c mews-export -n $sync_cmd -l all-profiles -d 'Every profile of the configuration file'
complete -c mews-export -n $sync_cmd -l enterprise -x -d 'Limit to this enterprise id (repeatable)'
complete -c mews-export -n $sync_cmd -l chain -x -d 'Limit to this chain id (repeatable)'
complete -c mews-export -n $sync_cmd -l since -x -d 'First sync only: start here (YYYY-MM-DD[Thh:mm:ssZ]) instead of a full export'
complete -c mews-export -n $sync_cmd -l reset -d 'Forget the bookmark (with --since: start again from there)'
complete -c mews-export -n $sync_cmd -s o -l output-dir -x -a '(__fish_complete_directories)' -d 'Write DIR/<EntityType>/<window>/ + DIR/<EntityType>/sync.jsonl'
complete -c mews-export -n $sync_cmd -l parallel -x -a '1 2 4 8 16' -d 'Files downloaded at once (1-64, default 4)'
complete -c mews-export -n $sync_cmd -l split -x -a '1 2 4 8 16' -d 'Range requests at once per file of 64 MiB or more (default 4)'
complete -c mews-export -n $sync_cmd -l validate -d 'Check that every line is a JSON object (exit 6 naming the first bad one)'
complete -c mews-export -n $sync_cmd -l max-concurrent -x -a '1 2 4 8 16' -d 'Jobs (profile, entity) at once (1-64, default 4)'
complete -c mews-export -n $sync_cmd -l shard -x -d 'I/N: only the profiles whose position modulo N is I'
complete -c mews-export -n $sync_cmd -l metrics-file -r -F -d 'Write a Prometheus textfile of the jobs here'
complete -c mews-export -n $sync_cmd -l wait-lock -d 'Wait for another run of a job instead of failing it'

# status
complete -c mews-export -n "__fish_seen_subcommand_from status" -l show-urls -d 'With --json, keep the signed file URLs (secrets)'

# list
complete -c mews-export -n "__fish_seen_subcommand_from list" -l all -d 'Every export in the journal, not only the 20 most recent'
complete -c mews-export -n "__fish_seen_subcommand_from list" -l offline -d 'Show the journal without asking the API'
