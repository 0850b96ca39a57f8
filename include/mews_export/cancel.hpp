// Process-wide cancellation: the CLI's signal handler requests it; long
// operations (sleeps, transfers) check it and stop, keeping their state.
#pragma once

namespace mews_export {

// Requests cancellation; async-signal-safe. `signal` is reported by cancel_signal().
void request_cancel(int signal) noexcept;
bool cancel_requested() noexcept;
// The signal passed to request_cancel(), or 0.
int cancel_signal() noexcept;
// For tests.
void reset_cancel() noexcept;

}  // namespace mews_export
