// Standard output, checked: every result the CLI prints goes through
// print_stdout(), and finish_stdout() turns a failed write into the exit code
// (1 with a message, or 141 quietly when the reader went away: `| head`).
#pragma once

#include <string_view>

namespace mews_export::cli {

// Writes `text` to stdout (buffered); a failure is remembered for finish_stdout().
void print_stdout(std::string_view text);

// Flushes and closes stdout. Returns `code` when everything printed reached
// it, or when `code` already reports a failure; otherwise 141 when the reader
// closed the pipe (nothing logged), or 1 with an error on stderr (a full disk).
int finish_stdout(int code);

}  // namespace mews_export::cli
