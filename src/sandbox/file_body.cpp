#include "file_body.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include "gzip_stream.hpp"

namespace mews_sandbox {
namespace {

constexpr std::size_t kChunkBytes = 64 * 1024;
constexpr const char* kJsonLines = "application/x-ndjson";

// Without Content-Length: chunked transfer encoding, optionally gzip-compressed.
void send_chunked(httplib::Response& res, const FileRef& file, std::uint64_t start, std::uint64_t length, bool gzip) {
  if (gzip) res.set_header("Content-Encoding", "gzip");
  auto reader = std::make_shared<FileReader>(file.spec, file.index);
  auto buffer = std::make_shared<std::string>();
  auto z = gzip ? std::make_shared<GzipStream>() : nullptr;
  auto pos = std::make_shared<std::uint64_t>(0);
  auto finished = std::make_shared<bool>(false);
  res.set_chunked_content_provider(kJsonLines, [=](std::size_t, httplib::DataSink& sink) {
    if (*finished) return false;
    buffer->clear();
    if (*pos < length) {
      auto n = static_cast<std::size_t>(std::min<std::uint64_t>(kChunkBytes, length - *pos));
      reader->read(start + *pos, n, *buffer);
      if (buffer->empty()) return false;
      *pos += buffer->size();
    }
    const bool last = *pos >= length;
    if (z) {
      auto out = z->compress(*buffer, last);
      if (!out) return false;
      *buffer = std::move(*out);
    }
    if (!buffer->empty() && !sink.write(buffer->data(), buffer->size())) return false;
    if (last) {
      *finished = true;
      sink.done();
    }
    return true;
  });
}

// With Content-Length = length + extra bytes; the shape may cut the body short,
// stall before closing, or trickle it.
void send_sized(httplib::Response& res, const FileRef& file, std::uint64_t start, std::uint64_t length,
                const BodyShape& shape, Stopper& stopper) {
  auto reader = std::make_shared<FileReader>(file.spec, file.index);
  auto buffer = std::make_shared<std::string>();
  const std::uint64_t real_length = length;
  const std::uint64_t announced = length + shape.extra_bytes;
  const std::uint64_t limit = shape.cut_after.value_or(announced);
  res.set_content_provider(
      static_cast<std::size_t>(announced), kJsonLines,
      [=, &stopper](std::size_t offset, std::size_t max, httplib::DataSink& sink) {
        if (offset >= real_length && offset < limit) {
          const std::string junk(static_cast<std::size_t>(std::min<std::uint64_t>(max, limit - offset)), 'x');
          return sink.write(junk.data(), junk.size());
        }
        if (offset >= limit) {
          if (shape.cut_after && shape.stall_seconds > 0) stopper.pause(shape.stall_seconds);
          return false;  // close the connection before the announced length
        }
        if (shape.interval > 0 && offset > 0 && !stopper.pause(shape.interval)) return false;
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>({max, shape.step, limit - offset}));
        buffer->clear();
        reader->read(start + offset, n, *buffer);
        if (buffer->empty()) return false;
        return sink.write(buffer->data(), buffer->size());
      });
}

}  // namespace

void send_file_body(httplib::Response& res, const FileRef& file, std::uint64_t start, std::uint64_t length,
                    const BodyShape& shape, Stopper& stopper) {
  if (shape.chunked) return send_chunked(res, file, start, length, shape.gzip);
  if (length == 0) {
    res.set_header("Content-Length", "0");
    res.set_content("", kJsonLines);
    return;
  }
  send_sized(res, file, start, length, shape, stopper);
}

}  // namespace mews_sandbox
