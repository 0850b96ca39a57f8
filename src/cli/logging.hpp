// stderr logging for the CLI: human text ("mews-export: warning: ...") or one
// JSON object per line (--log-format json).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace mews_export::cli {

// `verbosity`: -1 quiet (errors only), 0 warnings, 1 info, 2+ debug.
void setup_logging(int verbosity, const std::string& format);

// Adds `fields` (e.g. {"export_id": ...}) to every JSON log line this thread
// writes while the object lives. Text logs are unchanged.
class LogFields {
 public:
  explicit LogFields(const nlohmann::json& fields);
  ~LogFields();
  LogFields(const LogFields&) = delete;
  LogFields& operator=(const LogFields&) = delete;

 private:
  nlohmann::json saved_;
};

}  // namespace mews_export::cli
