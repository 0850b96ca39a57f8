// Small helpers shared by the sandbox's HTTP parts: the wall clock in Unix
// seconds, hex encoding, random UUIDs and strict unsigned number parsing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mews_sandbox {

// Seconds since the Unix epoch, from the system clock.
std::int64_t now_unix();
// Lower-case hex of `n` bytes at `data`.
std::string hex(const unsigned char* data, std::size_t n);
// A random version 4 UUID ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx").
std::string random_uuid();
// `s` as an unsigned decimal number; nullopt unless `s` is only digits and fits.
std::optional<std::uint64_t> to_u64(std::string_view s);

}  // namespace mews_sandbox
