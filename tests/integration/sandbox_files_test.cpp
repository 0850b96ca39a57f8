// The sandbox's file URLs beyond the basics of sandbox_test.cpp: long (padded)
// URLs, redirect targets, ETag / Last-Modified / If-Range and content that
// changes under a client (docs/sandbox.md, "API behaviour" and "Faults").
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sandbox_api.hpp"
#include "scenario.hpp"
#include "support/sandbox_process.hpp"

namespace {

using json = nlohmann::json;
using mews_export::testing::Api;
using mews_export::testing::path_of;
using mews_export::testing::SandboxProcess;
using mews_export::testing::small_files;

TEST(SandboxFiles, UrlPaddingMakesLongUrlsThatStillWork) {
  json scenario = small_files(1, 5);
  scenario["url_padding"] = 7900;
  scenario["faults"] = {{{"target", "file"}, {"after", 1}, {"action", "redirect"}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json done = api.until_done(api.add_id("Bill"));
  const std::string url = done["Files"][0]["Url"];
  EXPECT_GT(url.size(), 7900u);
  EXPECT_NE(url.find("&pad=xxxx"), std::string::npos);
  auto got = api.fetch(url);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body.size(), done["Files"][0]["SizeInBytes"].get<std::size_t>());
  // The redirect target is padded too and still accepted.
  auto moved = api.fetch(url);
  ASSERT_EQ(moved->status, 302);
  const std::string location = moved->get_header_value("Location");
  EXPECT_NE(location.find("&pad=xxxx"), std::string::npos);
  EXPECT_EQ(api.fetch(location)->status, 200);
  EXPECT_THROW(mews_sandbox::parse_scenario(json{{"url_padding", 100000}}), std::runtime_error);
}

TEST(SandboxFiles, RedirectFaultWithALocationSendsThereVerbatim) {
  json scenario = small_files(2, 5);
  scenario["faults"] = {
      {{"target", "file"}, {"file_index", 0}, {"action", "redirect"}, {"location", "ftp://127.0.0.1/f"}},
      {{"target", "file"},
       {"file_index", 1},
       {"action", "redirect"},
       {"status", 301},
       {"location", "http://127.0.0.2:9/files/x"}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json done = api.until_done(api.add_id("Bill"));
  auto first = api.fetch(done["Files"][0]["Url"]);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 302);
  EXPECT_EQ(first->get_header_value("Location"), "ftp://127.0.0.1/f");
  auto second = api.fetch(done["Files"][1]["Url"]);
  EXPECT_EQ(second->status, 301);
  EXPECT_EQ(second->get_header_value("Location"), "http://127.0.0.2:9/files/x");
  EXPECT_EQ(api.fetch(done["Files"][1]["Url"])->status, 200);  // times: 1
  EXPECT_EQ(sb.stats()["redirected_gets"], 0);
}

}  // namespace
