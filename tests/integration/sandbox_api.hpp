// A small HTTP client of one mews-sandbox for the sandbox's own tests
// (sandbox_test.cpp and sandbox_*_test.cpp): add, getAll, polling until a
// terminal status, and GET/HEAD of file URLs, over real loopback HTTP.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/sandbox_process.hpp"

namespace mews_export::testing {

inline constexpr const char* kAdd = "/api/connector/v1/exports/add";
inline constexpr const char* kGetAll = "/api/connector/v1/exports/getAll";

class Api {
 public:
  using json = nlohmann::json;

  explicit Api(const SandboxProcess& sb) : sb_(sb), client_(sb.host(), sb.port()) {
    client_.set_connection_timeout(5, 0);
    client_.set_read_timeout(10, 0);
  }

  json auth() const {
    return json{
        {"ClientToken", sb_.client_token()}, {"AccessToken", sb_.access_token()}, {"Client", "sandbox-test 1.0"}};
  }
  httplib::Result post(const std::string& path, const json& body) {
    return client_.Post(path, body.dump(), "application/json");
  }
  httplib::Result add(const std::string& entity, json extra = json::object()) {
    json body = auth();
    body["EntityType"] = entity;
    body.update(extra);
    return post(kAdd, body);
  }
  std::string add_id(const std::string& entity, json extra = json::object()) {
    auto res = add(entity, std::move(extra));
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 200) << res->body;
    return json::parse(res->body)["Export"].value("Id", "");
  }
  // getAll of `ids` (the raw result).
  httplib::Result get_all(const json& ids) {
    json body = auth();
    body["ExportIds"] = ids;
    return post(kGetAll, body);
  }
  json get(const std::string& id) {
    auto res = get_all(json::array({id}));
    EXPECT_TRUE(res);
    if (!res) return json();
    EXPECT_EQ(res->status, 200) << res->body;
    auto exports = json::parse(res->body)["Exports"];
    return exports.empty() ? json() : exports[0];
  }
  // Polls until a terminal status (indexing may take a moment).
  json until_done(const std::string& id) {
    for (int i = 0; i < 200; ++i) {
      json e = get(id);
      std::string s = e.value("Status", "");
      if (s == "Success" || s == "Failed" || s == "Expired") return e;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "export " << id << " never finished";
    return json();
  }
  // GET (or HEAD) of a signed file URL.
  httplib::Result fetch(const std::string& url, const httplib::Headers& headers = {}, bool head = false) {
    std::string path = url.substr(url.find('/', std::string("http://").size()));
    return head ? client_.Head(path, headers) : client_.Get(path, headers);
  }
  httplib::Client& client() { return client_; }

 private:
  const SandboxProcess& sb_;
  httplib::Client client_;
};

// A scenario whose exports have `files` files of `records` records each.
inline nlohmann::json small_files(int files = 2, int records = 50) {
  return nlohmann::json{{"entities", {{"*", {{"files", files}, {"records_per_file", records}}}}}};
}

// The path and query of an absolute URL.
inline std::string path_of(const std::string& url) { return url.substr(url.find('/', 8)); }

}  // namespace mews_export::testing
