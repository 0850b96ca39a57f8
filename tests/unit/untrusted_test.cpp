// Server-provided data: bounded JSON, display text that grows linearly,
// terminal escaping, export id rules, URL rules and redaction.
#include <gtest/gtest.h>

#include "mews_export/redact.hpp"
#include "mews_export/untrusted.hpp"
#include "mews_export/url.hpp"

using namespace mews_export;
using nlohmann::json;

namespace {

std::string nested_arrays(int depth) {
  return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']');
}

}  // namespace

TEST(UntrustedJson, AcceptsNestingUpToTheLimitAndRefusesDeeper) {
  EXPECT_TRUE(parse_untrusted_json(nested_arrays(kMaxJsonDepth)));
  const auto deep = parse_untrusted_json(nested_arrays(kMaxJsonDepth + 1));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().kind, ErrorKind::Protocol);
  EXPECT_NE(deep.error().message.find("deeper than 64"), std::string::npos) << deep.error().message;
  // A depth bomb hidden in an unknown field is refused as a whole.
  const auto bomb = parse_untrusted_json(R"({"Exports": [], "Future": )" + nested_arrays(100000) + "}");
  ASSERT_FALSE(bomb);
  EXPECT_EQ(bomb.error().kind, ErrorKind::Protocol);
}

TEST(UntrustedJson, MalformedTextIsAProtocolError) {
  for (const char* text : {"", "<html>", "{\"a\":", "{} trailing"}) {
    const auto parsed = parse_untrusted_json(text);
    ASSERT_FALSE(parsed) << text;
    EXPECT_EQ(parsed.error().kind, ErrorKind::Protocol);
  }
  EXPECT_EQ(*parse_untrusted_json(R"({"a": [1, {"b": null}]})"), json::parse(R"({"a": [1, {"b": null}]})"));
}

TEST(UntrustedJson, DisplayTextGrowsLinearlyWhateverTheNesting) {
  // 64 levels of arrays, many times over: fully pretty-printed this grows
  // quadratically (indentation per level per element); shown, it stays linear.
  json wide = json::array();
  for (int i = 0; i < 200; ++i) wide.push_back(json::parse(nested_arrays(60)));
  const std::string compact = to_compact_json(wide);
  const std::string shown = to_display_json(json{{"Export", {{"Nested", wide}}}});
  EXPECT_LT(shown.size(), compact.size() * 2 + 1000);
  EXPECT_EQ(json::parse(shown), (json{{"Export", {{"Nested", wide}}}}));
  EXPECT_EQ(to_display_json(json{{"a", 1}}), "{\n  \"a\": 1\n}");
  EXPECT_EQ(to_display_json(json::array()), "[]");
}

TEST(UntrustedText, ControlCharactersAreEscapedForTerminals) {
  EXPECT_EQ(escape_for_terminal("plain Müller 北京"), "plain Müller 北京");
  EXPECT_EQ(escape_for_terminal("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(escape_for_terminal("\x1b[31mred\x07"), "\\e[31mred\\x07");
  EXPECT_EQ(escape_for_terminal(std::string("nul\0end", 7)), "nul\\0end");
  EXPECT_EQ(escape_for_terminal("del\x7f"), "del\\x7f");
  EXPECT_EQ(escape_for_terminal("c1 \xc2\x9b"
                                "31m"),
            "c1 \\u009b31m");  // CSI in UTF-8
}

TEST(UntrustedText, ExportIdsMustBeSafeNames) {
  EXPECT_TRUE(is_valid_export_id("3fa85f64-5717-4562-b3fc-2c963f66afa6"));
  EXPECT_TRUE(is_valid_export_id("exp-1"));
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "../etc", "a/b", "a b", "a\x1b",
                                                         std::string("a\0b", 3), "é", std::string(65, 'a')}) {
    EXPECT_FALSE(is_valid_export_id(bad)) << escape_for_terminal(bad);
  }
  EXPECT_TRUE(same_export_id("3FA85F64-5717-4562-B3FC-2C963F66AFA6", "3fa85f64-5717-4562-b3fc-2c963f66afa6"));
  EXPECT_FALSE(same_export_id("3fa85f64", "3fa85f65"));
}

TEST(Urls, ParsedWithSchemeAndHost) {
  const auto https = parse_url("HTTPS://Files.Example.com:8443/a/b?sig=1");
  ASSERT_TRUE(https);
  EXPECT_EQ(https->scheme, "https");
  EXPECT_EQ(https->host, "files.example.com");
  EXPECT_EQ(parse_url("http://[::1]:8080/x")->host, "::1");
  EXPECT_FALSE(parse_url(""));
  EXPECT_FALSE(parse_url("relative/path"));
  EXPECT_TRUE(is_loopback_url("http://127.0.0.1:9/x"));
  EXPECT_TRUE(is_loopback_url("http://localhost/x"));
  EXPECT_TRUE(is_loopback_url("http://[::1]/x"));
  EXPECT_FALSE(is_loopback_url("http://127.0.0.1.evil.com/x"));
  EXPECT_FALSE(is_loopback_url("http://10.0.0.1/x"));
  EXPECT_FALSE(is_loopback_url("http://127.0.0.1@evil.com/x"));
}

TEST(Urls, RedirectTargetsResolveAgainstTheRequest) {
  EXPECT_EQ(*resolve_url("https://a.example/files/1?sig=x", "/other/2?sig=y"), "https://a.example/other/2?sig=y");
  EXPECT_EQ(*resolve_url("https://a.example/files/1", "https://b.example/z"), "https://b.example/z");
  EXPECT_EQ(*resolve_url("https://a.example/files/1", "2"), "https://a.example/files/2");
}

TEST(Urls, OnlyHttpsOrLoopbackHttpMayBeDownloaded) {
  EXPECT_TRUE(check_download_url("https://files.example.com/f?sig=1", false));
  EXPECT_TRUE(check_download_url("http://127.0.0.1:8080/f", false));
  EXPECT_TRUE(check_download_url("http://10.1.2.3/f", true));
  for (const char* bad : {"", "relative/path", "ftp://files.example.com/f", "file:///etc/passwd", "gopher://x/y",
                          "http://10.1.2.3/f?signature=secret"}) {
    const auto st = check_download_url(bad, false);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().kind, ErrorKind::Protocol);
    EXPECT_EQ(st.error().message.find("secret"), std::string::npos) << st.error().message;
  }
  EXPECT_NE(check_download_url("http://10.1.2.3/f", false).error().message.find("--allow-insecure-http"),
            std::string::npos);
}

TEST(Urls, RedactionDropsQueryFragmentAndUserInformation) {
  EXPECT_EQ(redact_url("https://h/p?sig=x#f"), "https://h/p");
  EXPECT_EQ(redact_url("https://user:password@h:1/p?sig=x"), "https://h:1/p");
  EXPECT_EQ(redact_url("https://token@h"), "https://h");
  EXPECT_EQ(redact_url("https://h/p@q"), "https://h/p@q");  // an @ in the path is not user information
  EXPECT_EQ(redact_url("no-scheme?x"), "no-scheme");
}
