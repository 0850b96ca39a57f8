#include "s3_xml.hpp"

#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

namespace mews_export::s3 {
namespace {

constexpr const char* kNamespace = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr int kMaxPartNumber = 10000;

std::unexpected<Error> protocol(std::string_view what, std::string_view why) {
  return fail(ErrorKind::Protocol, "S3 " + std::string(what) + " response: " + std::string(why));
}

// --- reading ------------------------------------------------------------------

// An element's name without a namespace prefix ("s3:Key" -> "Key").
std::string_view local_name(const pugi::xml_node& node) {
  const std::string_view name = node.name();
  const auto colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

// The first child element of `node` named `name`, or an empty node.
pugi::xml_node child(const pugi::xml_node& node, std::string_view name) {
  for (const pugi::xml_node& element : node.children()) {
    if (element.type() == pugi::node_element && local_name(element) == name) return element;
  }
  return {};
}

// The text of child `name` (entities decoded, CDATA included), or nullopt when absent.
std::optional<std::string> text_of(const pugi::xml_node& node, std::string_view name) {
  const pugi::xml_node element = child(node, name);
  if (!element) return std::nullopt;
  return std::string(element.child_value());
}

std::string text_or_empty(const pugi::xml_node& node, std::string_view name) {
  return text_of(node, name).value_or("");
}

Result<std::string> required_text(const pugi::xml_node& node, std::string_view name, std::string_view what) {
  auto text = text_of(node, name);
  if (!text || text->empty()) return protocol(what, "no <" + std::string(name) + "> value");
  return std::move(*text);
}

template <class Number>
std::optional<Number> to_number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> to_bool(std::string_view text) {
  if (text == "true") return true;
  if (text == "false") return false;
  return std::nullopt;
}

Result<bool> required_bool(const pugi::xml_node& node, std::string_view name, std::string_view what) {
  const auto text = text_of(node, name);
  const auto value = text ? to_bool(*text) : std::nullopt;
  if (!value) return protocol(what, "<" + std::string(name) + "> is missing or not true/false");
  return *value;
}

Result<int> part_number(std::string_view text, std::string_view what) {
  const auto number = to_number<int>(text);
  if (!number || *number < 1 || *number > kMaxPartNumber) return protocol(what, "a part number is not in 1..10000");
  return *number;
}

// Parses `body` into `document`, refusing it over `cap` bytes. Never quotes the body.
Status load(pugi::xml_document& document, std::string_view body, std::size_t cap, std::string_view what) {
  if (body.size() > cap) {
    return protocol(what, "larger than " + std::to_string(cap) + " bytes (" + std::to_string(body.size()) +
                              "); refusing to parse it");
  }
  const pugi::xml_parse_result parsed =
      document.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!parsed) {
    return protocol(what, "malformed XML (" + std::string(parsed.description()) + " at byte " +
                              std::to_string(parsed.offset) + ")");
  }
  return {};
}

ErrorResponse read_error(const pugi::xml_node& root) {
  return ErrorResponse{.code = text_or_empty(root, "Code"),
                       .message = text_or_empty(root, "Message"),
                       .request_id = text_or_empty(root, "RequestId"),
                       .region = text_or_empty(root, "Region"),
                       .endpoint = text_or_empty(root, "Endpoint")};
}

// An <Error> where a result was expected: Api, with S3's code, message and request id.
std::unexpected<Error> s3_error(const pugi::xml_node& root) {
  const ErrorResponse response = read_error(root);
  std::string message = "S3 error " + (response.code.empty() ? std::string("(no code)") : response.code);
  if (!response.message.empty()) message += ": " + response.message;
  return std::unexpected(
      Error{.kind = ErrorKind::Api, .message = std::move(message), .request_id = response.request_id});
}

// The document's root element when its name is `root_name`; <Error> as Api.
Result<pugi::xml_node> root_named(const pugi::xml_document& document, std::string_view root_name,
                                  std::string_view what) {
  const pugi::xml_node root = document.document_element();
  if (local_name(root) == root_name) return root;
  if (local_name(root) == "Error") return s3_error(root);
  return protocol(what, "the root element is not <" + std::string(root_name) + ">");
}

// Loads `body` and returns its root element named `root_name`.
Result<pugi::xml_node> load_root(pugi::xml_document& document, std::string_view body, std::size_t cap,
                                 std::string_view root_name) {
  if (auto ok = load(document, body, cap, root_name); !ok) return std::unexpected(ok.error());
  return root_named(document, root_name, root_name);
}

Result<Part> read_part(const pugi::xml_node& element, std::string_view what) {
  auto number_text = required_text(element, "PartNumber", what);
  if (!number_text) return std::unexpected(number_text.error());
  auto number = part_number(*number_text, what);
  if (!number) return std::unexpected(number.error());
  auto etag = required_text(element, "ETag", what);
  if (!etag) return std::unexpected(etag.error());
  const auto size = to_number<std::uint64_t>(text_or_empty(element, "Size"));
  if (!size) return protocol(what, "a part has no valid <Size>");
  return Part{.number = *number, .etag = std::move(*etag), .size = *size};
}

// --- writing ------------------------------------------------------------------

struct StringWriter : pugi::xml_writer {
  std::string out;
  void write(const void* data, std::size_t size) override { out.append(static_cast<const char*>(data), size); }
};

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

Status check_parts(const std::vector<Part>& sorted) {
  if (sorted.empty()) return fail(ErrorKind::Protocol, "cannot complete a multipart upload without parts");
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    const Part& part = sorted[i];
    if (part.number < 1 || part.number > kMaxPartNumber || (i > 0 && sorted[i - 1].number == part.number)) {
      return fail(ErrorKind::Protocol, "cannot complete a multipart upload: part numbers must be distinct, 1..10000");
    }
    if (part.etag.empty() || has_control(part.etag)) {
      return fail(ErrorKind::Protocol, "cannot complete a multipart upload: part " + std::to_string(part.number) +
                                           " has an empty or malformed ETag");
    }
  }
  return {};
}

}  // namespace

Result<ErrorResponse> parse_error(std::string_view body) {
  constexpr std::string_view what = "Error";
  pugi::xml_document document;
  if (auto ok = load(document, body, kMaxResponseBytes, what); !ok) return std::unexpected(ok.error());
  const pugi::xml_node root = document.document_element();
  if (local_name(root) != "Error") return protocol(what, "the root element is not <Error>");
  ErrorResponse response = read_error(root);
  if (response.code.empty()) return protocol(what, "no <Code> value");
  return response;
}

Result<std::string> parse_initiate_multipart_upload(std::string_view body) {
  pugi::xml_document document;
  auto root = load_root(document, body, kMaxResponseBytes, "InitiateMultipartUploadResult");
  if (!root) return std::unexpected(root.error());
  return required_text(*root, "UploadId", "InitiateMultipartUploadResult");
}

Result<std::string> parse_complete_multipart_upload(std::string_view body) {
  pugi::xml_document document;
  auto root = load_root(document, body, kMaxResponseBytes, "CompleteMultipartUploadResult");
  if (!root) return std::unexpected(root.error());
  return required_text(*root, "ETag", "CompleteMultipartUploadResult");
}

Result<PartList> parse_list_parts(std::string_view body) {
  constexpr std::string_view what = "ListPartsResult";
  pugi::xml_document document;
  auto root = load_root(document, body, kMaxListResponseBytes, what);
  if (!root) return std::unexpected(root.error());
  PartList list;
  for (const pugi::xml_node& element : root->children()) {
    if (element.type() != pugi::node_element || local_name(element) != "Part") continue;
    auto part = read_part(element, what);
    if (!part) return std::unexpected(part.error());
    list.parts.push_back(std::move(*part));
  }
  auto truncated = required_bool(*root, "IsTruncated", what);
  if (!truncated) return std::unexpected(truncated.error());
  list.is_truncated = *truncated;
  const auto marker = text_of(*root, "NextPartNumberMarker");
  if (list.is_truncated || (marker && !marker->empty())) {
    const auto number = marker ? to_number<int>(*marker) : std::nullopt;
    if (!number || *number < 0 || *number > kMaxPartNumber) {
      return protocol(what, "a truncated page has no valid <NextPartNumberMarker>");
    }
    list.next_part_number_marker = *number;
  }
  return list;
}

Result<ObjectList> parse_list_objects_v2(std::string_view body) {
  constexpr std::string_view what = "ListBucketResult";
  pugi::xml_document document;
  auto root = load_root(document, body, kMaxListResponseBytes, what);
  if (!root) return std::unexpected(root.error());
  if (child(*root, "EncodingType")) return protocol(what, "URL-encoded keys (<EncodingType>) are not supported");
  ObjectList list;
  for (const pugi::xml_node& element : root->children()) {
    if (element.type() != pugi::node_element || local_name(element) != "Contents") continue;
    auto key = required_text(element, "Key", what);
    if (!key) return std::unexpected(key.error());
    list.keys.push_back(std::move(*key));
  }
  auto truncated = required_bool(*root, "IsTruncated", what);
  if (!truncated) return std::unexpected(truncated.error());
  list.is_truncated = *truncated;
  list.next_continuation_token = text_or_empty(*root, "NextContinuationToken");
  if (list.is_truncated && list.next_continuation_token.empty()) {
    return protocol(what, "a truncated page has no <NextContinuationToken>");
  }
  return list;
}

Result<std::string> complete_multipart_upload_body(std::vector<Part> parts) {
  std::sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.number < b.number; });
  if (auto ok = check_parts(parts); !ok) return std::unexpected(ok.error());
  pugi::xml_document document;
  pugi::xml_node declaration = document.append_child(pugi::node_declaration);
  declaration.append_attribute("version") = "1.0";
  declaration.append_attribute("encoding") = "UTF-8";
  pugi::xml_node root = document.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = kNamespace;
  for (const Part& part : parts) {
    pugi::xml_node element = root.append_child("Part");
    element.append_child("PartNumber").text() = part.number;
    element.append_child("ETag").text() = part.etag.c_str();
  }
  StringWriter writer;
  document.save(writer, "", pugi::format_raw, pugi::encoding_utf8);
  return std::move(writer.out);
}

}  // namespace mews_export::s3
