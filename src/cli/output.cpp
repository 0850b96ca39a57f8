#include "output.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace mews_export::cli {
namespace {

constexpr int kExitBrokenPipe = 141;  // as a filter killed by SIGPIPE would

int g_stdout_errno = 0;  // the first failed write's errno

void remember(int err) {
  if (g_stdout_errno == 0) g_stdout_errno = err != 0 ? err : EIO;
}

}  // namespace

void print_stdout(std::string_view text) {
  if (text.empty() || g_stdout_errno != 0) return;
  errno = 0;
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size()) remember(errno);
}

int finish_stdout(int code) {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0) remember(errno);
  errno = 0;
  if (std::fclose(stdout) != 0) remember(errno);
  if (g_stdout_errno == 0 || code != 0) return code;  // a failure was already reported
  if (g_stdout_errno == EPIPE) return kExitBrokenPipe;
  spdlog::error("cannot write to standard output: {}", std::strerror(g_stdout_errno));
  return 1;
}

}  // namespace mews_export::cli
