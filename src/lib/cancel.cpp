#include "mews_export/cancel.hpp"

#include <atomic>

namespace mews_export {
namespace {
std::atomic<int> g_signal{0};
std::atomic<bool> g_cancel{false};
static_assert(std::atomic<int>::is_always_lock_free && std::atomic<bool>::is_always_lock_free);
}  // namespace

void request_cancel(int signal) noexcept {
  g_signal.store(signal);
  g_cancel.store(true);
}
bool cancel_requested() noexcept { return g_cancel.load(); }
int cancel_signal() noexcept { return g_signal.load(); }
void reset_cancel() noexcept {
  g_cancel.store(false);
  g_signal.store(0);
}

}  // namespace mews_export
