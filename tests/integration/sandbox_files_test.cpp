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
#include "utc.hpp"

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

// files_base_url moves getAll's file URLs to another server (e.g. nginx for the
// benchmark); the signed query stays, and is valid for the sandbox's own path.
TEST(SandboxFiles, FilesBaseUrlPointsFileUrlsAtAnotherServer) {
  json scenario = small_files(2, 5);
  scenario["files_base_url"] = "http://127.0.0.1:9/bench/files/";
  SandboxProcess sb(scenario);
  Api api(sb);
  const std::string id = api.add_id("Bill");
  json done = api.until_done(id);
  ASSERT_EQ(done["Files"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const std::string url = done["Files"][i]["Url"];
    const std::string prefix = "http://127.0.0.1:9/bench/files/" + id + "/" + std::to_string(i) + "?expires=";
    EXPECT_EQ(url.substr(0, prefix.size()), prefix) << url;
    EXPECT_NE(url.find("&signature="), std::string::npos) << url;
    // The same query on the sandbox's own path serves the file.
    auto got = api.client().Get("/files/" + id + "/" + std::to_string(i) + url.substr(url.find('?')));
    ASSERT_TRUE(got);
    EXPECT_EQ(got->status, 200);
    auto want = sb.file_content(id, i);
    ASSERT_TRUE(want);
    EXPECT_EQ(got->body, *want);
  }
  EXPECT_EQ(sb.stats()["forbidden"], 0);
  for (const json& bad : {json("ftp://127.0.0.1/x"), json("http://"), json("http:///x"), json("http://h/p?x=1"),
                          json("http://h/p#f"), json(5)})
    EXPECT_THROW(mews_sandbox::parse_scenario(json{{"files_base_url", bad}}), std::runtime_error) << bad;
  EXPECT_EQ(mews_sandbox::parse_scenario(json{{"files_base_url", "https://h:1/"}}).files_base_url, "https://h:1");
  EXPECT_EQ(mews_sandbox::parse_scenario(json::object()).files_base_url, "");
}

TEST(SandboxFiles, WithoutFilesBaseUrlFileUrlsPointAtTheSandbox) {
  SandboxProcess sb(small_files(1, 5));
  Api api(sb);
  const std::string id = api.add_id("Bill");
  const std::string url = api.until_done(id)["Files"][0]["Url"];
  const std::string prefix = sb.url() + "/files/" + id + "/0?expires=";
  EXPECT_EQ(url.substr(0, prefix.size()), prefix) << url;
  EXPECT_EQ(api.fetch(url)->status, 200);
}

// Every line of a file body is a JSON object.
void expect_json_lines(const std::string& body) {
  std::size_t start = 0;
  while (start < body.size()) {
    auto nl = body.find('\n', start);
    ASSERT_NE(nl, std::string::npos);
    EXPECT_TRUE(json::parse(body.substr(start, nl - start)).is_object());
    start = nl + 1;
  }
}

TEST(SandboxFiles, EtagLastModifiedAndIfRange) {
  SandboxProcess sb(small_files(1, 200));
  Api api(sb);
  json done = api.until_done(api.add_id("Customer"));
  const std::string url = done["Files"][0]["Url"];
  auto whole = api.fetch(url);
  ASSERT_EQ(whole->status, 200);
  const std::string etag = whole->get_header_value("ETag");
  const std::string date = whole->get_header_value("Last-Modified");
  EXPECT_EQ(etag.size(), 34u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(date.size(), 29u);
  EXPECT_EQ(date.substr(26), "GMT");
  EXPECT_EQ(sb.exports()[0]["Files"][0]["ETag"], etag);
  EXPECT_EQ(api.fetch(url, {}, true)->get_header_value("ETag"), etag);  // HEAD

  auto ranged = [&](const std::string& if_range) {
    return api.fetch(url, {{"Range", "bytes=100-"}, {"If-Range", if_range}});
  };
  auto same = ranged(etag);
  EXPECT_EQ(same->status, 206);
  EXPECT_EQ(same->get_header_value("ETag"), etag);
  EXPECT_EQ(same->body, whole->body.substr(100));
  EXPECT_EQ(ranged(date)->status, 206);
  for (std::string other : {std::string("\"0123\""), "W/" + etag, std::string("Thu, 01 Jan 1970 00:00:00 GMT"),
                            std::string("not a validator")}) {
    auto full = ranged(other);
    EXPECT_EQ(full->status, 200) << other;
    EXPECT_EQ(full->body, whole->body) << other;
  }
}

TEST(SandboxFiles, MutateChangesContentKeepsLengthAndChangesEtag) {
  json scenario = small_files(2, 100);
  scenario["faults"] = {{{"target", "file"}, {"file_index", 0}, {"after", 1}, {"action", "mutate"}},
                        {{"target", "file"}, {"file_index", 0}, {"after", 1}, {"action", "truncate"}, {"bytes", 10}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json done = api.until_done(api.add_id("Reservation"));
  const std::string url = done["Files"][0]["Url"];
  const std::string id = done["Id"];
  auto before = api.fetch(url);  // request #0: the original
  ASSERT_EQ(before->status, 200);
  const std::string old_etag = before->get_header_value("ETag");
  EXPECT_EQ(*sb.file_content(id, 0), before->body);

  // Request #1 mutates the file; the truncate fault hits it too (mutate does not take its place).
  httplib::Client raw(sb.host(), sb.port());
  auto cut = raw.Get(path_of(url));
  EXPECT_FALSE(cut);

  auto after = api.fetch(url, {{"Range", "bytes=50-"}, {"If-Range", old_etag}});
  ASSERT_EQ(after->status, 200);  // the old ETag no longer holds: the whole new file
  const std::string new_etag = after->get_header_value("ETag");
  EXPECT_NE(new_etag, old_etag);
  auto modified = [](const httplib::Result& r) {
    return mews_sandbox::parse_http_date(r->get_header_value("Last-Modified"));
  };
  ASSERT_TRUE(modified(before) && modified(after));
  EXPECT_GT(*modified(after), *modified(before));  // a date validator changes too
  EXPECT_EQ(after->body.size(), before->body.size());
  EXPECT_EQ(after->body.size(), done["Files"][0]["SizeInBytes"].get<std::size_t>());
  EXPECT_NE(after->body, before->body);
  expect_json_lines(after->body);
  EXPECT_EQ(*sb.file_content(id, 0), after->body);
  json exports = sb.exports();
  EXPECT_EQ(exports[0]["Files"][0]["ContentVersion"], 1);
  EXPECT_EQ(exports[0]["Files"][0]["ETag"], new_etag);
  EXPECT_EQ(exports[0]["Files"][1]["ContentVersion"], 0);

  auto resumed = api.fetch(url, {{"Range", "bytes=50-"}, {"If-Range", new_etag}});
  EXPECT_EQ(resumed->status, 206);
  EXPECT_EQ(resumed->body, after->body.substr(50));
  EXPECT_EQ(sb.stats()["faults_triggered"]["mutate"], 1);
}

}  // namespace
