// stderr logging for the CLI: human text ("mews-export: warning: ...") or one
// JSON object per line (--log-format json).
#pragma once

#include <string>

namespace mews_export::cli {

// `verbosity`: -1 quiet (errors only), 0 warnings, 1 info, 2+ debug.
void setup_logging(int verbosity, const std::string& format);

}  // namespace mews_export::cli
