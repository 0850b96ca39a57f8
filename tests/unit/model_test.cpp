#include <gtest/gtest.h>

#include "mews_export/model.hpp"

using namespace mews_export;
using nlohmann::json;

TEST(Model, ParsesAFullExportAndKeepsUnknownFields) {
  const auto raw = json::parse(R"({
    "Id": "e1", "Status": "Success", "EntityType": "OrderItem",
    "Scope": {"EnterpriseIds": ["a", "b"], "ChainIds": null},
    "Filters": {"UpdatedUtc": {"StartUtc": "2026-01-01T00:00:00Z", "EndUtc": "2026-02-01T00:00:00Z"}},
    "Files": [{"Url": "https://x/f1?sig=secret", "SizeInBytes": 10, "Extra": 1},
              {"Url": "https://x/f2?sig=secret", "SizeInBytes": 5}],
    "ExpiresUtc": "2026-12-05T00:00:00Z", "NewField": {"x": 1}})");
  auto e = parse_export(raw);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->id, "e1");
  EXPECT_EQ(e->status, ExportStatus::Success);
  EXPECT_EQ(e->entity_type, EntityType::OrderItem);
  ASSERT_TRUE(e->scope && e->scope->enterprise_ids);
  EXPECT_EQ(e->scope->enterprise_ids->size(), 2u);
  EXPECT_FALSE(e->scope->chain_ids);
  ASSERT_TRUE(e->filters && e->filters->updated_utc);
  EXPECT_EQ(e->filters->updated_utc->end_utc, "2026-02-01T00:00:00Z");
  ASSERT_EQ(e->files.size(), 2u);
  EXPECT_EQ(e->total_size(), 15u);
  EXPECT_EQ(e->expires_utc, "2026-12-05T00:00:00Z");
  EXPECT_EQ(e->raw["NewField"]["x"], 1);
}

TEST(Model, UnknownStatusAndEntityBecomeUnknownInsteadOfFailing) {
  auto e = parse_export(json::parse(R"({"Id": "e2", "Status": "Queued", "EntityType": "Invoice", "Files": null,
                                        "ExpiresUtc": null, "Scope": null, "Filters": null})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, ExportStatus::Unknown);
  EXPECT_EQ(e->status_name, "Queued");
  EXPECT_EQ(e->entity_type, EntityType::Unknown);
  EXPECT_EQ(e->entity_type_name, "Invoice");
  EXPECT_FALSE(is_terminal(e->status));
}

TEST(Model, RejectsExportsWithoutIdOrWithWrongTypes) {
  EXPECT_FALSE(parse_export(json::parse(R"({"Status": "Pending"})")));
  EXPECT_FALSE(parse_export(json::parse(R"({"Id": "x", "Files": {}})")));
  EXPECT_FALSE(parse_export(json::parse(R"({"Id": "x", "Files": [{"Url": "u", "SizeInBytes": -1}]})")));
  EXPECT_FALSE(parse_export(json::parse(R"([1])")));
}

TEST(Model, EntityTypesMatchCaseInsensitivelyAndPrintCanonically) {
  EXPECT_EQ(parse_entity_type("orderitem"), EntityType::OrderItem);
  EXPECT_EQ(parse_entity_type("LEDGERENTRY"), EntityType::LedgerEntry);
  EXPECT_FALSE(parse_entity_type("Orders"));
  EXPECT_EQ(all_entity_types().size(), 10u);
  for (const auto t : all_entity_types()) EXPECT_EQ(parse_entity_type(to_string(t)), t);
}

TEST(Model, AddRequestSerialisesOnlyWhatWasGiven) {
  AddExportRequest plain{.entity_type = EntityType::Bill};
  EXPECT_EQ(to_json(plain), json::parse(R"({"EntityType": "Bill"})"));
  AddExportRequest full{.entity_type = EntityType::LedgerEntry,
                        .scope = {.enterprise_ids = std::vector<std::string>{"e"}},
                        .filters = {.updated_utc = UpdatedInterval{"2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
                                    .ledger_posting = PostingInterval{"2026-01-01", "2026-01-31"}}};
  EXPECT_EQ(to_json(full), json::parse(R"({"EntityType": "LedgerEntry", "Scope": {"EnterpriseIds": ["e"]},
    "Filters": {"UpdatedUtc": {"StartUtc": "2026-01-01T00:00:00Z", "EndUtc": "2026-01-02T00:00:00Z"},
                "LedgerEntryFilters": {"Posting": {"Start": "2026-01-01", "End": "2026-01-31"}}}})"));
}

TEST(Model, PublicJsonStripsUrlSignaturesUnlessAsked) {
  auto e = parse_export(json::parse(
      R"({"Id": "e", "Status": "Success", "Files": [{"Url": "https://h/f/1?expires=1&signature=abc", "SizeInBytes": 1}]})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(export_to_public_json(*e)["Files"][0]["Url"], "https://h/f/1");
  EXPECT_EQ(export_to_public_json(*e, true)["Files"][0]["Url"], "https://h/f/1?expires=1&signature=abc");
}
