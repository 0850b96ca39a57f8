#include "logging.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>

#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"
#include "progress.hpp"

namespace mews_export::cli {
namespace {

thread_local nlohmann::json t_fields = nlohmann::json::object();

class StderrSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit StderrSink(bool json) : json_(json) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string text(msg.payload.data(), msg.payload.size());
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line;
    if (json_) {
      const auto t = std::chrono::floor<std::chrono::seconds>(msg.time);
      nlohmann::json doc = {{"time", format_utc(UtcTime{t.time_since_epoch()})},
                            {"level", std::string(level.data(), level.size())},
                            {"message", text}};
      for (const auto& [key, value] : t_fields.items()) doc[key] = value;
      line = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      // Messages may quote what a server sent (Message, Request-Id, ids): escaped.
      line = "mews-export: " + std::string(level.data(), level.size()) + ": " + escape_for_terminal(text);
    }
    line += '\n';
    std::lock_guard terminal(terminal_mutex());
    clear_progress_lines();  // the progress display redraws below on its next tick
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  bool json_;
};

}  // namespace

LogFields::LogFields(const nlohmann::json& fields) : saved_(t_fields) {
  for (const auto& [key, value] : fields.items()) t_fields[key] = value;
}

LogFields::~LogFields() { t_fields = std::move(saved_); }

void setup_logging(int verbosity, const std::string& format) {
  auto logger = std::make_shared<spdlog::logger>("mews-export", std::make_shared<StderrSink>(format == "json"));
  spdlog::level::level_enum level = spdlog::level::warn;
  if (verbosity < 0) level = spdlog::level::err;
  if (verbosity == 1) level = spdlog::level::info;
  if (verbosity >= 2) level = spdlog::level::debug;
  logger->set_level(level);
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

}  // namespace mews_export::cli
