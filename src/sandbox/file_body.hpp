// Streams a byte range of an export file into an httplib response in constant
// memory, shaped by a file fault (cut, stall, extra bytes, trickle, chunked,
// gzip).
#pragma once

#include <cstdint>

#include <httplib.h>

#include "export_store.hpp"
#include "faults.hpp"
#include "stopper.hpp"

namespace mews_sandbox {

// Sends bytes [start, start + length) of `file` as the body of `res` (status
// and headers other than the body's own are the caller's).
void send_file_body(httplib::Response& res, const FileRef& file, std::uint64_t start, std::uint64_t length,
                    const BodyShape& shape, Stopper& stopper);

}  // namespace mews_sandbox
