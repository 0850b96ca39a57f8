// The sandbox against its contract (docs/sandbox.md, mews-data-export-api.md),
// over real loopback HTTP with httplib::Client, plus unit checks of its data
// generator.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <thread>

#include "datagen.hpp"
#include "sandbox_api.hpp"
#include "scenario.hpp"
#include "support/sandbox_process.hpp"

namespace {

using json = nlohmann::json;
using mews_export::testing::Api;
using mews_export::testing::kAdd;
using mews_export::testing::kGetAll;
using mews_export::testing::SandboxProcess;
using mews_export::testing::small_files;

TEST(Sandbox, StatusProgressesPendingProcessingSuccessAndFilesMatch) {
  SandboxProcess sb(small_files(3, 120));
  Api api(sb);
  auto res = api.add("OrderItem");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  EXPECT_TRUE(res->has_header("Request-Id"));
  json added = json::parse(res->body)["Export"];
  EXPECT_EQ(added["Status"], "Pending");
  EXPECT_EQ(added["Files"], json::array());
  EXPECT_TRUE(added["ExpiresUtc"].is_null());
  EXPECT_TRUE(added["Filters"].is_null());
  EXPECT_EQ(added["Scope"], (json{{"EnterpriseIds", nullptr}, {"ChainIds", nullptr}}));
  std::string id = added["Id"];
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');

  EXPECT_EQ(api.get(id)["Status"], "Pending");
  EXPECT_EQ(api.get(id)["Status"], "Processing");
  json done = api.until_done(id);
  ASSERT_EQ(done["Status"], "Success");
  ASSERT_EQ(done["Files"].size(), 3u);
  EXPECT_TRUE(done["ExpiresUtc"].is_string());

  for (std::size_t i = 0; i < 3; ++i) {
    const json& f = done["Files"][i];
    std::string url = f["Url"];
    EXPECT_NE(url.find("/files/" + id + "/" + std::to_string(i) + "?expires="), std::string::npos);
    auto got = api.fetch(url);
    ASSERT_TRUE(got);
    ASSERT_EQ(got->status, 200);
    EXPECT_EQ(got->get_header_value("Accept-Ranges"), "bytes");
    EXPECT_EQ(got->get_header_value("Content-Type"), "application/x-ndjson");
    EXPECT_EQ(got->body.size(), f["SizeInBytes"].get<std::size_t>());
    auto direct = sb.file_content(id, i);
    ASSERT_TRUE(direct);
    EXPECT_EQ(*direct, got->body);
    std::size_t lines = 0, start = 0;
    while (start < got->body.size()) {
      auto nl = got->body.find('\n', start);
      ASSERT_NE(nl, std::string::npos) << "last line lacks \\n";
      json record = json::parse(got->body.substr(start, nl - start));
      EXPECT_TRUE(record.contains("Id"));
      EXPECT_TRUE(record.contains("UnitAmount"));
      start = nl + 1;
      ++lines;
    }
    EXPECT_EQ(lines, 120u);
  }
  json stats = sb.stats();
  EXPECT_EQ(stats["adds_created"]["OrderItem"], 1);
  EXPECT_EQ(stats["file_gets"], 3);
  json list = sb.exports();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["Id"], id);
  EXPECT_EQ(list[0]["Status"], "Success");
}

TEST(Sandbox, SecondPendingAddOfSameTypeIs400AndOtherTypeSucceeds) {
  SandboxProcess sb(small_files());
  Api api(sb);
  std::string first = api.add_id("Payment");
  auto again = api.add("Payment");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 400);
  json err = json::parse(again->body);
  EXPECT_NE(err["Message"].get<std::string>().find("already pending"), std::string::npos);
  EXPECT_EQ(err["RequestId"], again->get_header_value("Request-Id"));
  EXPECT_FALSE(api.add_id("Customer").empty());
  // Once the first is done, a new one of the same type is accepted.
  EXPECT_EQ(api.until_done(first)["Status"], "Success");
  EXPECT_FALSE(api.add_id("Payment").empty());
}

TEST(Sandbox, RejectsBadTokensAndMalformedRequests) {
  SandboxProcess sb(small_files());
  Api api(sb);
  json body = api.auth();
  body["EntityType"] = "OrderItem";
  body["AccessToken"] = "nope";
  auto res = api.post(kAdd, body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 401);
  body = api.auth();
  body["EntityType"] = "OrderItem";
  body["ClientToken"] = "nope";
  EXPECT_EQ(api.post(kAdd, body)->status, 401);
  body = api.auth();
  body.erase("Client");
  body["EntityType"] = "OrderItem";
  EXPECT_EQ(api.post(kAdd, body)->status, 400);
  auto bad = api.client().Post(kAdd, "{not json", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_TRUE(json::parse(bad->body).contains("Message"));

  EXPECT_EQ(api.add("orderitem")->status, 400);
  EXPECT_EQ(api.add("Nonsense")->status, 400);
  EXPECT_EQ(api.add("LedgerEntry")->status, 400);  // Posting filter required
  json future{
      {"Filters", {{"UpdatedUtc", {{"StartUtc", "2024-01-01T00:00:00Z"}, {"EndUtc", "2999-01-01T00:00:00Z"}}}}}};
  EXPECT_EQ(api.add("Bill", future)->status, 400);
  json too_long{
      {"Filters", {{"UpdatedUtc", {{"StartUtc", "2023-01-01T00:00:00Z"}, {"EndUtc", "2024-01-01T00:00:00Z"}}}}}};
  EXPECT_EQ(api.add("Bill", too_long)->status, 400);
  json reversed{
      {"Filters", {{"UpdatedUtc", {{"StartUtc", "2024-02-01T00:00:00Z"}, {"EndUtc", "2024-01-01T00:00:00Z"}}}}}};
  EXPECT_EQ(api.add("Bill", reversed)->status, 400);
  json many = json::array();
  for (int i = 0; i < 1001; ++i) many.push_back("id-" + std::to_string(i));
  EXPECT_EQ(api.add("Bill", json{{"Scope", {{"EnterpriseIds", many}}}})->status, 400);

  json get = api.auth();
  get["ExportIds"] = json::array();
  EXPECT_EQ(api.post(kGetAll, get)->status, 400);
  get["ExportIds"] = many;
  EXPECT_EQ(api.post(kGetAll, get)->status, 400);
  get["ExportIds"] = json::array({"00000000-0000-4000-8000-000000000000"});
  auto none = api.post(kGetAll, get);
  ASSERT_EQ(none->status, 200);
  EXPECT_EQ(json::parse(none->body)["Exports"], json::array());
}

TEST(Sandbox, ExportsOfOtherTokensAreInvisible) {
  json scenario = small_files();
  scenario["access_tokens"] = {"second-token"};
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("OrderItem");
  json body = api.auth();
  body["AccessToken"] = "second-token";
  body["ExportIds"] = {id};
  auto res = api.post(kGetAll, body);
  ASSERT_EQ(res->status, 200);
  EXPECT_EQ(json::parse(res->body)["Exports"], json::array());
  body.erase("ExportIds");
  body["EntityType"] = "OrderItem";
  EXPECT_EQ(api.post(kAdd, body)->status, 200);  // its own pending check
}

TEST(Sandbox, WrongPathsAre404WithJsonBody) {
  SandboxProcess sb(small_files());
  Api api(sb);
  json body = api.auth();
  body["EntityType"] = "OrderItem";
  for (std::string path : {"/api/connector/v1/exports/Add", "/api/connector/v1/exports/add/",
                           "/api/connector/v1/Exports/getAll", "/api/connector/v1/exports/get", "/"}) {
    auto res = api.post(path, body);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_TRUE(res->has_header("Request-Id"));
    EXPECT_EQ(json::parse(res->body)["RequestId"], res->get_header_value("Request-Id"));
  }
  EXPECT_EQ(api.client().Get(kAdd)->status, 404);
  EXPECT_EQ(sb.exports().size(), 0u);
}

TEST(Sandbox, RateLimitAnswers429WithRetryAfter) {
  json scenario = small_files();
  scenario["rate_limit"] = {{"requests", 5}, {"window_seconds", 30}};
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("OrderItem");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(api.get(id)["Id"], id);
  json body = api.auth();
  body["ExportIds"] = {id};
  auto res = api.post(kGetAll, body);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 429);
  int retry = std::stoi(res->get_header_value("Retry-After"));
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 30);
  EXPECT_EQ(sb.stats()["rate_limited"], 1);
}

TEST(Sandbox, FileUrlsExpireAndBadSignaturesAre403) {
  json scenario = small_files(1, 10);
  scenario["url_ttl_seconds"] = 1;
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("Reservation");
  json done = api.until_done(id);
  std::string url = done["Files"][0]["Url"];
  EXPECT_EQ(api.fetch(url)->status, 200);
  std::string tampered = url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(api.fetch(tampered)->status, 403);
  std::string unsigned_url = url.substr(0, url.find('?'));
  EXPECT_EQ(api.fetch(unsigned_url)->status, 403);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto expired = api.fetch(url);
  EXPECT_EQ(expired->status, 403);
  EXPECT_TRUE(json::parse(expired->body).contains("Message"));
  // A fresh getAll gives a working URL again.
  EXPECT_EQ(api.fetch(api.get(id)["Files"][0]["Url"])->status, 200);
  EXPECT_EQ(sb.stats()["forbidden"], 3);
}

TEST(Sandbox, ExportsExpireAfterExpiresUtc) {
  json scenario = small_files(1, 10);
  scenario["expires_after_seconds"] = 1;
  scenario["progression"] = {{"pending_polls", 0}, {"processing_polls", 0}};
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("Company");
  json done = api.until_done(id);
  ASSERT_EQ(done["Status"], "Success");
  std::string url = done["Files"][0]["Url"];
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  json later = api.get(id);
  EXPECT_EQ(later["Status"], "Expired");
  EXPECT_EQ(later["Files"], json::array());
  EXPECT_EQ(later["ExpiresUtc"], done["ExpiresUtc"]);
  EXPECT_EQ(api.fetch(url)->status, 403);
  EXPECT_FALSE(api.add_id("Company").empty());  // Expired is not pending
}

TEST(Sandbox, ProgressionBySecondsAndFailedEntities) {
  json scenario = small_files(1, 5);
  scenario["progression"] = {{"pending_seconds", 0.3}, {"processing_seconds", 0.3}};
  scenario["failed_entities"] = {"Bill"};
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("Customer");
  EXPECT_EQ(api.get(id)["Status"], "Pending");
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_EQ(api.get(id)["Status"], "Processing");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(api.until_done(id)["Status"], "Success");
  std::string bill = api.add_id("Bill");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  json failed = api.get(bill);
  EXPECT_EQ(failed["Status"], "Failed");
  EXPECT_EQ(failed["Files"], json::array());
}

TEST(Sandbox, RangeRequestsHeadAnd416) {
  json scenario = small_files(1, 3000);
  scenario["cache_limit_bytes"] = 0;  // exercise the checkpoint path
  scenario["checkpoint_every"] = 100;
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("Customer");
  json done = api.until_done(id);
  std::string url = done["Files"][0]["Url"];
  std::uint64_t size = done["Files"][0]["SizeInBytes"];
  std::string full = *sb.file_content(id, 0);
  ASSERT_EQ(full.size(), size);

  auto head = api.fetch(url, {}, true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->get_header_value("Content-Length"), std::to_string(size));
  EXPECT_EQ(head->get_header_value("Accept-Ranges"), "bytes");

  std::uint64_t from = size / 2 + 7;
  auto tail = api.fetch(url, {{"Range", "bytes=" + std::to_string(from) + "-"}});
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->status, 206);
  EXPECT_EQ(tail->get_header_value("Content-Range"),
            "bytes " + std::to_string(from) + "-" + std::to_string(size - 1) + "/" + std::to_string(size));
  EXPECT_EQ(tail->body, full.substr(from));

  auto middle = api.fetch(url, {{"Range", "bytes=1000-1999"}});
  EXPECT_EQ(middle->status, 206);
  EXPECT_EQ(middle->get_header_value("Content-Range"), "bytes 1000-1999/" + std::to_string(size));
  EXPECT_EQ(middle->body, full.substr(1000, 1000));

  auto beyond = api.fetch(url, {{"Range", "bytes=" + std::to_string(size) + "-"}});
  EXPECT_EQ(beyond->status, 416);
  EXPECT_EQ(beyond->get_header_value("Content-Range"), "bytes */" + std::to_string(size));

  json stats = sb.stats();
  EXPECT_EQ(stats["heads"], 1);
  EXPECT_EQ(stats["range_gets"], 3);
  EXPECT_EQ(stats["ranges"][1], "bytes=1000-1999");
  sb.reset_stats();
  EXPECT_EQ(sb.stats()["range_gets"], 0);
}

TEST(Sandbox, SameSeedGivesSameBytes) {
  auto bytes_of = [](const std::vector<std::string>& args) {
    SandboxProcess sb(small_files(2, 40), args);
    Api api(sb);
    json filters{
        {"Filters", {{"UpdatedUtc", {{"StartUtc", "2024-03-01T00:00:00Z"}, {"EndUtc", "2024-03-31T23:59:59Z"}}}}}};
    std::string id = api.add_id("Reservation", filters);
    json done = api.until_done(id);
    std::string out;
    for (const auto& f : done["Files"]) out += api.fetch(f["Url"])->body;
    return out;
  };
  std::string a = bytes_of({"--seed", "7"});
  std::string b = bytes_of({"--seed", "7"});
  std::string c = bytes_of({"--seed", "8"});
  EXPECT_FALSE(a.empty());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  // The UpdatedUtc filter holds for every record.
  std::size_t start = 0;
  while (start < a.size()) {
    auto nl = a.find('\n', start);
    std::string updated = json::parse(a.substr(start, nl - start))["UpdatedUtc"];
    EXPECT_GE(updated, "2024-03-01T00:00:00Z");
    EXPECT_LE(updated, "2024-03-31T23:59:59Z");
    start = nl + 1;
  }
}

TEST(Sandbox, LayoutsBySizeAndEmptyExports) {
  json scenario{{"entities",
                 {{"*", {{"files", 1}, {"records_per_file", 5}}},
                  {"Payment", {{"files", 2}, {"bytes_per_file", 100000}}},
                  {"ResourceBlock", {{"files", 0}}}}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json payments = api.until_done(api.add_id("Payment"));
  ASSERT_EQ(payments["Files"].size(), 2u);
  for (const auto& f : payments["Files"]) {
    EXPECT_GE(f["SizeInBytes"].get<std::uint64_t>(), 100000u);
    EXPECT_LT(f["SizeInBytes"].get<std::uint64_t>(), 102000u);
  }
  json empty = api.until_done(api.add_id("ResourceBlock"));
  EXPECT_EQ(empty["Status"], "Success");
  EXPECT_EQ(empty["Files"], json::array());
  json ledger = api.until_done(api.add_id(
      "LedgerEntry",
      json{{"Filters", {{"LedgerEntryFilters", {{"Posting", {{"Start", "2024-05-01"}, {"End", "2024-05-03"}}}}}}}}));
  ASSERT_EQ(ledger["Files"].size(), 1u);
  EXPECT_EQ(ledger["Filters"]["LedgerEntryFilters"]["Posting"]["Start"], "2024-05-01");
  std::string body = api.fetch(ledger["Files"][0]["Url"])->body;
  json first = json::parse(body.substr(0, body.find('\n')));
  EXPECT_GE(first["PostingDate"].get<std::string>(), "2024-05-01");
  EXPECT_LE(first["PostingDate"].get<std::string>(), "2024-05-03");
  EXPECT_TRUE(first.contains("TransactionId"));
}

TEST(Sandbox, FaultStatusOnAddWithRetryAfter) {
  json scenario = small_files();
  scenario["faults"] = {
      {{"target", "add"}, {"after", 0}, {"times", 1}, {"action", "status"}, {"status", 503}, {"retry_after", "2"}},
      {{"target", "getAll"},
       {"after", 1},
       {"times", 1},
       {"action", "status"},
       {"status", 500},
       {"body", {{"Message", "boom"}}}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  auto first = api.add("OrderItem");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 503);
  EXPECT_EQ(first->get_header_value("Retry-After"), "2");
  std::string id = api.add_id("OrderItem");  // the second attempt passes
  json body = api.auth();
  body["ExportIds"] = {id};
  EXPECT_EQ(api.post(kGetAll, body)->status, 200);
  auto boom = api.post(kGetAll, body);
  EXPECT_EQ(boom->status, 500);
  EXPECT_EQ(json::parse(boom->body)["Message"], "boom");
  EXPECT_EQ(api.post(kGetAll, body)->status, 200);
  EXPECT_EQ(sb.stats()["faults_triggered"]["status"], 2);
}

TEST(Sandbox, FaultResetClosesWithoutResponse) {
  json scenario = small_files();
  scenario["faults"] = {{{"target", "getAll"}, {"after", 0}, {"times", 1}, {"action", "reset"}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  std::string id = api.add_id("OrderItem");
  json body = api.auth();
  body["ExportIds"] = {id};
  auto res = api.post(kGetAll, body);
  EXPECT_FALSE(res);
  EXPECT_EQ(api.get(id)["Id"], id);  // the next request works
}

TEST(Sandbox, FaultTruncateAndStallCutTheBody) {
  json scenario = small_files(2, 200);
  scenario["faults"] = {
      {{"target", "file"}, {"file_index", 0}, {"after", 0}, {"times", 1}, {"action", "truncate"}, {"bytes", 1000}},
      {{"target", "file"},
       {"file_index", 1},
       {"after", 0},
       {"times", 1},
       {"action", "stall"},
       {"bytes", 500},
       {"seconds", 1}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json done = api.until_done(api.add_id("Bill"));
  std::string url0 = done["Files"][0]["Url"], url1 = done["Files"][1]["Url"];

  std::string received;
  httplib::Client raw(sb.host(), sb.port());
  auto path_of = [](const std::string& url) { return url.substr(url.find('/', 7)); };
  auto cut = raw.Get(path_of(url0), [&](const char* data, std::size_t n) {
    received.append(data, n);
    return true;
  });
  EXPECT_FALSE(cut);  // announced more than was sent
  EXPECT_EQ(received.size(), 1000u);
  auto whole = api.fetch(url0);  // only the first GET was hit
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->body.size(), done["Files"][0]["SizeInBytes"].get<std::size_t>());

  received.clear();
  auto t0 = std::chrono::steady_clock::now();
  auto stalled = raw.Get(path_of(url1), [&](const char* data, std::size_t n) {
    received.append(data, n);
    return true;
  });
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(stalled);
  EXPECT_EQ(received.size(), 500u);
  EXPECT_GE(waited, 0.9);
  EXPECT_EQ(sb.stats()["faults_triggered"]["truncate"], 1);
}

TEST(Sandbox, FaultRedirectGzipChunkedTrickleAndUnknownFields) {
  json scenario = small_files(4, 200);
  scenario["unknown_fields"] = true;
  scenario["faults"] = {
      {{"target", "file"}, {"file_index", 0}, {"action", "redirect"}, {"status", 307}},
      {{"target", "file"}, {"file_index", 1}, {"action", "gzip"}, {"times", nullptr}},
      {{"target", "file"}, {"file_index", 2}, {"action", "chunked"}},
      {{"target", "file"}, {"file_index", 3}, {"action", "trickle"}, {"bytes", 20000}, {"seconds", 0.2}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  auto added = api.add("Bill");
  ASSERT_TRUE(added);
  EXPECT_TRUE(json::parse(added->body).contains("FutureTopLevel"));
  json done = api.until_done(json::parse(added->body)["Export"]["Id"]);
  EXPECT_TRUE(done.contains("FutureField"));
  EXPECT_EQ(done["Files"][0]["Checksum"], "x");
  const std::string id = done["Id"];

  // redirect: 307 to /redirected/files/... with its own signature, same bytes.
  auto moved = api.fetch(done["Files"][0]["Url"]);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->status, 307);
  std::string location = moved->get_header_value("Location");
  EXPECT_NE(location.find("/redirected/files/" + id + "/0?expires="), std::string::npos) << location;
  auto followed = api.fetch(location);
  EXPECT_EQ(followed->status, 200);
  EXPECT_TRUE(followed->body == *sb.file_content(id, 0));

  // gzip: only when accepted; a Range gets a plain 206.
  httplib::Client raw(sb.host(), sb.port());
  raw.set_decompress(false);
  auto path_of = [](const std::string& url) { return url.substr(url.find('/', 7)); };
  auto gz = raw.Get(path_of(done["Files"][1]["Url"]), {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(gz);
  EXPECT_EQ(gz->get_header_value("Content-Encoding"), "gzip");
  EXPECT_FALSE(gz->has_header("Content-Length"));
  ASSERT_GE(gz->body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz->body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz->body[1]), 0x8b);
  EXPECT_LT(gz->body.size(), done["Files"][1]["SizeInBytes"].get<std::size_t>());
  auto plain = raw.Get(path_of(done["Files"][1]["Url"]));
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  EXPECT_TRUE(plain->body == *sb.file_content(id, 1));
  auto ranged = raw.Get(path_of(done["Files"][1]["Url"]), {{"Accept-Encoding", "gzip"}, {"Range", "bytes=10-"}});
  EXPECT_EQ(ranged->status, 206);
  EXPECT_FALSE(ranged->has_header("Content-Encoding"));
  EXPECT_TRUE(ranged->body == sb.file_content(id, 1)->substr(10));

  // chunked: no Content-Length.
  auto chunked = api.fetch(done["Files"][2]["Url"]);
  EXPECT_EQ(chunked->get_header_value("Transfer-Encoding"), "chunked");
  EXPECT_FALSE(chunked->has_header("Content-Length"));
  EXPECT_TRUE(chunked->body == *sb.file_content(id, 2));

  // trickle: 20000 bytes every 0.2 s.
  const auto size3 = done["Files"][3]["SizeInBytes"].get<std::size_t>();
  auto t0 = std::chrono::steady_clock::now();
  auto slow = api.fetch(done["Files"][3]["Url"]);
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_TRUE(slow->body == *sb.file_content(id, 3));
  EXPECT_GE(waited, 0.2 * static_cast<double>((size3 - 1) / 20000) - 0.1);

  const json stats = sb.stats();
  EXPECT_EQ(stats["redirected_gets"], 1);
  EXPECT_EQ(stats["gzip_responses"], 1);
  EXPECT_EQ(stats["chunked_responses"], 2);  // gzip bodies are chunked too
  EXPECT_EQ(stats["faults_triggered"]["trickle"], 1);
}

TEST(Sandbox, ScenarioRejectsMisplacedNewFaultActions) {
  EXPECT_THROW(mews_sandbox::parse_scenario(json{{"faults", {{{"target", "add"}, {"action", "gzip"}}}}}),
               std::runtime_error);
  EXPECT_THROW(
      mews_sandbox::parse_scenario(json{{"faults", {{{"target", "file"}, {"action", "redirect"}, {"status", 500}}}}}),
      std::runtime_error);
  EXPECT_THROW(mews_sandbox::parse_scenario(json{{"unknown_fields", "yes"}}), std::runtime_error);
  const auto s = mews_sandbox::parse_scenario(
      json{{"unknown_fields", true}, {"faults", {{{"target", "file"}, {"action", "trickle"}}}}});
  EXPECT_TRUE(s.unknown_fields);
  EXPECT_EQ(s.faults[0].bytes, 1024u);
  EXPECT_DOUBLE_EQ(s.faults[0].seconds, 0.1);
}

TEST(Sandbox, FaultDropFinalNewline) {
  json scenario = small_files(1, 20);
  scenario["faults"] = {{{"target", "file"}, {"entity", "Customer"}, {"action", "drop_final_newline"}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json done = api.until_done(api.add_id("Customer"));
  std::string body = api.fetch(done["Files"][0]["Url"])->body;
  EXPECT_EQ(body.size(), done["Files"][0]["SizeInBytes"].get<std::size_t>());
  ASSERT_FALSE(body.empty());
  EXPECT_NE(body.back(), '\n');
  EXPECT_TRUE(json::accept(body.substr(body.rfind('\n') + 1)));
  // Other entity types are untouched.
  json other = api.until_done(api.add_id("Company"));
  EXPECT_EQ(api.fetch(other["Files"][0]["Url"])->body.back(), '\n');
}

TEST(Sandbox, ParallelDownloadsAreServedConcurrently) {
  json scenario = small_files(1, 10);
  scenario["faults"] = {
      {{"target", "file"}, {"after", 0}, {"times", 4}, {"action", "stall"}, {"bytes", 10}, {"seconds", 1}}};
  SandboxProcess sb(scenario);
  Api api(sb);
  json done = api.until_done(api.add_id("Payment"));
  std::string url = done["Files"][0]["Url"];
  std::string path = url.substr(url.find('/', 7));
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] {
      httplib::Client c(sb.host(), sb.port());
      (void)c.Get(path);
    });
  for (auto& t : threads) t.join();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.5);
}

// --- data generation (unit level) --------------------------------------------

TEST(SandboxDatagen, RecordsAreDeterministicValidAndSeekable) {
  for (auto entity : mews_sandbox::kEntityTypes) {
    mews_sandbox::FileSpec spec;
    spec.entity = std::string(entity);
    spec.seed = 1;
    spec.records = 300;
    spec.updated = std::pair{std::int64_t{1704067200}, std::int64_t{1706745599}};  // January 2024
    spec.posting = std::pair{std::int64_t{1704067200}, std::int64_t{1704153600}};
    auto index = mews_sandbox::index_file(spec, nullptr, 64, 0);
    ASSERT_TRUE(index);
    EXPECT_EQ(index->records, 300u);
    EXPECT_EQ(index->checkpoints.size(), 5u);
    std::string all;
    for (std::uint64_t i = 0; i < 300; ++i) {
      std::string line = mews_sandbox::generate_record(spec, i);
      ASSERT_EQ(line.back(), '\n');
      json record = json::parse(line.substr(0, line.size() - 1));
      EXPECT_TRUE(record.contains("Id")) << entity;
      std::string key = entity == "LedgerEntry" ? "CreatedUtc" : "UpdatedUtc";
      if (record.contains(key)) {
        EXPECT_GE(record[key].get<std::string>(), "2024-01-01T00:00:00Z") << entity;
        EXPECT_LE(record[key].get<std::string>(), "2024-01-31T23:59:59Z") << entity;
      }
      all += line;
    }
    EXPECT_EQ(all.size(), index->size);
    EXPECT_EQ(all, [&] {
      std::string again;
      for (std::uint64_t i = 0; i < 300; ++i) mews_sandbox::append_record(spec, i, again);
      return again;
    }());
    auto shared = std::make_shared<const mews_sandbox::FileIndex>(*index);
    for (std::uint64_t offset : {std::uint64_t{0}, std::uint64_t{1}, index->size / 3, index->size - 5}) {
      mews_sandbox::FileReader reader(spec, shared);
      std::string got;
      while (reader.read(offset + got.size(), 777, got) > 0) {
      }
      EXPECT_EQ(got, all.substr(offset)) << entity << " @" << offset;
    }
  }
}

TEST(SandboxDatagen, CustomerDataNeedsEscapesAndUnicode) {
  mews_sandbox::FileSpec spec{.entity = "Customer", .seed = 3, .records = 400};
  std::string all;
  for (std::uint64_t i = 0; i < spec.records; ++i) mews_sandbox::append_record(spec, i, all);
  EXPECT_NE(all.find("\\\""), std::string::npos);
  EXPECT_NE(all.find("\\n"), std::string::npos);
  EXPECT_NE(all.find("\\t"), std::string::npos);
  EXPECT_NE(all.find("\\\\"), std::string::npos);
  EXPECT_NE(all.find("Müller"), std::string::npos);
  EXPECT_NE(all.find("北京"), std::string::npos);
  EXPECT_NE(all.find("🌟"), std::string::npos);
}

TEST(SandboxDatagen, MutatedRecordsKeepTheirLengthAndKeys) {
  for (auto entity : mews_sandbox::kEntityTypes) {
    mews_sandbox::FileSpec spec{.entity = std::string(entity), .seed = 5, .records = 50};
    mews_sandbox::FileSpec changed = spec;
    changed.mutation = 1;
    for (std::uint64_t i = 0; i < spec.records; ++i) {
      const std::string a = mews_sandbox::generate_record(spec, i);
      const std::string b = mews_sandbox::generate_record(changed, i);
      ASSERT_EQ(a.size(), b.size()) << entity;
      EXPECT_NE(a, b) << entity;
      json ja = json::parse(a), jb = json::parse(b);
      std::vector<std::string> keys_a, keys_b;
      for (const auto& [k, v] : ja.items()) keys_a.push_back(k);
      for (const auto& [k, v] : jb.items()) keys_b.push_back(k);
      EXPECT_EQ(keys_a, keys_b) << entity;
    }
    // A reader of a cached (small) file still serves the new version.
    auto index = std::make_shared<const mews_sandbox::FileIndex>(*mews_sandbox::index_file(spec));
    ASSERT_TRUE(index->cached);
    mews_sandbox::FileReader reader(changed, index);
    std::string got;
    reader.read(0, 1 << 20, got);
    EXPECT_EQ(got.substr(0, 100), mews_sandbox::generate_record(changed, 0).substr(0, 100)) << entity;
  }
}

TEST(SandboxDatagen, ByteTargetFilesStopAtTheTarget) {
  mews_sandbox::FileSpec spec{.entity = "OrderItem", .seed = 9, .target_bytes = 50000};
  auto index = mews_sandbox::index_file(spec);
  ASSERT_TRUE(index);
  EXPECT_GE(index->size, 50000u);
  std::string last = mews_sandbox::generate_record(spec, index->records - 1);
  EXPECT_LT(index->size - last.size(), 50000u);
  ASSERT_TRUE(index->cached);
  EXPECT_EQ(index->cached->size(), index->size);
}

}  // namespace
