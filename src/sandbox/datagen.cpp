#include "datagen.hpp"

#include <algorithm>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "utc.hpp"

namespace mews_sandbox {
namespace {

using Json = nlohmann::ordered_json;

// 2023-01-01T00:00:00Z .. 2025-12-31T23:59:59Z: record times without a filter.
constexpr std::int64_t kDefaultFrom = 1672531200;
constexpr std::int64_t kDefaultTo = 1767225599;

std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t fnv1a(std::string_view text, std::uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// Deterministic per-record random source.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() { return splitmix(state_); }
  // Uniform in [lo, hi] (inclusive).
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
  bool chance(int percent) { return range(0, 99) < percent; }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[static_cast<std::size_t>(next() % N)];
  }
  std::string uuid() {
    std::uint64_t a = next(), b = next();
    a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
    b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    char buf[37];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                  static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return buf;
  }
  // A money amount with two decimals in [lo, hi].
  double money(int lo, int hi) { return static_cast<double>(range(lo * 100, hi * 100)) / 100.0; }

 private:
  std::uint64_t state_;
};

// Stable ids derived from the seed (not per record), e.g. the enterprises.
std::string stable_uuid(std::uint64_t seed, std::string_view what, std::uint64_t n) {
  Rng rng(fnv1a(what, seed * 31 + n));
  return rng.uuid();
}

double round2(double v) {
  return static_cast<double>(static_cast<std::int64_t>(v * 100.0 + (v < 0 ? -0.5 : 0.5))) / 100.0;
}

constexpr std::array<std::string_view, 4> kCurrencies = {"EUR", "CZK", "GBP", "USD"};
constexpr std::array<std::string_view, 4> kTaxCodes = {"CZ-S", "DE-2020-1-S", "GB-S", "AT-R"};
constexpr std::array<std::string_view, 14> kFirstNames = {"Jana",  "Jiří",  "Anna",     "Łukasz", "Søren",
                                                          "Zoë",   "José",  "François", "Ngọc",   "明",
                                                          "Ørjan", "Renée", "Tomáš",    "Emily"};
constexpr std::array<std::string_view, 14> kLastNames = {"Müller",    "Dvořák",      "Novák", "O'Brien",  "García",
                                                         "Smith",     "Nguyễn",      "王",    "Schröder", "Þórsdóttir",
                                                         "D\"Angelo", "Back\\slash", "Ünal",  "Kowalski"};
constexpr std::array<std::string_view, 10> kCities = {"Praha",  "München",   "北京",      "Zürich", "London",
                                                      "Kraków", "São Paulo", "Reykjavík", "東京",   "Brno"};
constexpr std::array<std::string_view, 6> kCountries = {"CZ", "DE", "CN", "CH", "GB", "PL"};
constexpr std::array<std::string_view, 10> kNotes = {"",
                                                     "Prefers a \"quiet\" room",
                                                     "Late arrival\nafter 23:00",
                                                     "Tab\tseparated\tnote",
                                                     "Path C:\\Guests\\VIP",
                                                     "VIP guest 🌟🏨",
                                                     "Allergic to nuts — no peanuts, please",
                                                     "Ünïcödé test: Ελληνικά, русский, العربية",
                                                     "Bell \x07 and form\ffeed",
                                                     "Second line\r\nwith CRLF"};
constexpr std::array<std::string_view, 6> kStreets = {"Karlova 1",        "Hauptstraße 12",    "长安街 8号",
                                                      "Bahnhofstrasse 3", "221B Baker Street", "Rynek Główny 5"};
constexpr std::array<std::string_view, 6> kCompanyNames = {"Acme s.r.o.",     "Müller & Söhne GmbH", "北京旅游有限公司",
                                                           "\"Quoted\" Ltd.", "Dvořák Travel a.s.",  "Emoji Tours 🚀"};

struct Ctx {
  const FileSpec& spec;
  Rng rng;
  std::int64_t from;
  std::int64_t to;

  std::string enterprise() {
    if (!spec.enterprise_ids.empty())
      return spec.enterprise_ids[static_cast<std::size_t>(rng.next() % spec.enterprise_ids.size())];
    return stable_uuid(spec.seed, "enterprise", rng.next() % 3);
  }
  std::string chain() { return stable_uuid(spec.seed, "chain", 0); }
  // Updated and created times: created <= updated, updated within [from, to].
  std::pair<std::int64_t, std::int64_t> created_updated() {
    std::int64_t updated = rng.range(from, to);
    std::int64_t created = std::max(from - 86400 * 30, updated - rng.range(0, 86400 * 60));
    return {std::min(created, updated), updated};
  }
  std::string utc(std::int64_t t) { return format_utc(t); }
  Json money(double net, std::string_view currency) {
    std::string_view code = rng.pick(kTaxCodes);
    double tax = round2(net * 0.21);
    return Json{{"Currency", currency},
                {"NetValue", round2(net)},
                {"GrossValue", round2(net + tax)},
                {"TaxValues", Json::array({Json{{"Code", code}, {"Value", tax}}})}};
  }
  Json address() {
    return Json{
        {"Id", rng.uuid()},
        {"Line1", rng.pick(kStreets)},
        {"Line2", rng.chance(20) ? Json(rng.pick(kNotes)) : Json(nullptr)},
        {"City", rng.pick(kCities)},
        {"PostalCode", std::to_string(rng.range(10000, 99999))},
        {"CountryCode", rng.pick(kCountries)},
        {"CountrySubdivisionCode", nullptr},
        {"Latitude", rng.chance(50) ? Json(static_cast<double>(rng.range(-9000, 9000)) / 100.0) : Json(nullptr)},
        {"Longitude", rng.chance(50) ? Json(static_cast<double>(rng.range(-18000, 18000)) / 100.0) : Json(nullptr)}};
  }
};

Json order_item(Ctx& c) {
  auto [created, updated] = c.created_updated();
  std::string_view currency = c.rng.pick(kCurrencies);
  std::int64_t units = c.rng.range(1, 5);
  double unit_net = c.rng.money(1, 400);
  static constexpr std::array<std::string_view, 3> kRevenue = {"Service", "Product", "Additional"};
  static constexpr std::array<std::string_view, 4> kState = {"Open", "Closed", "Inactive", "Canceled"};
  static constexpr std::array<std::string_view, 5> kType = {"SpaceOrder", "ProductOrder", "CityTax", "CancellationFee",
                                                            "Deposit"};
  bool closed = c.rng.chance(60);
  Json data;
  if (c.rng.chance(70)) {
    data =
        Json{{"Discriminator", "Product"}, {"Product", Json{{"ProductId", c.rng.uuid()}, {"AgeCategoryId", nullptr}}}};
  } else {
    data = Json{{"Discriminator", "Rebate"}, {"Rebate", Json{{"RebatedItemId", c.rng.uuid()}}}};
  }
  return Json{{"Id", c.rng.uuid()},
              {"EnterpriseId", c.enterprise()},
              {"AccountId", c.rng.uuid()},
              {"AccountType", c.rng.chance(80) ? "Customer" : "Company"},
              {"ServiceId", c.rng.uuid()},
              {"ServiceOrderId", c.rng.uuid()},
              {"Notes", c.rng.chance(10) ? Json(c.rng.pick(kNotes)) : Json(nullptr)},
              {"BillId", closed ? Json(c.rng.uuid()) : Json(nullptr)},
              {"AccountingCategoryId", c.rng.uuid()},
              {"UnitCount", units},
              {"UnitAmount", c.money(unit_net, currency)},
              {"Amount", c.money(unit_net * static_cast<double>(units), currency)},
              {"OriginalAmount", c.money(unit_net * static_cast<double>(units), currency)},
              {"RevenueType", c.rng.pick(kRevenue)},
              {"CreatorProfileId", c.rng.uuid()},
              {"UpdaterProfileId", c.rng.uuid()},
              {"ConsumedUtc", c.utc(created)},
              {"ClosedUtc", closed ? Json(c.utc(updated)) : Json(nullptr)},
              {"StartUtc", c.utc(created)},
              {"AccountingState", closed ? std::string_view("Closed") : c.rng.pick(kState)},
              {"Type", c.rng.pick(kType)},
              {"Options", Json{{"CanceledWithReservation", false}}},
              {"Data", std::move(data)},
              {"CreatedUtc", c.utc(created)},
              {"UpdatedUtc", c.utc(updated)}};
}

Json payment(Ctx& c) {
  auto [created, updated] = c.created_updated();
  std::string_view currency = c.rng.pick(kCurrencies);
  double net = c.rng.money(5, 3000);
  static constexpr std::array<std::string_view, 4> kState = {"Charged", "Pending", "Failed", "Canceled"};
  static constexpr std::array<std::string_view, 4> kType = {"CreditCard", "Cash", "Invoice", "AlternativePayment"};
  std::string_view type = c.rng.pick(kType);
  Json data = type == "CreditCard"
                  ? Json{{"Discriminator", "CreditCard"},
                         {"CreditCard", Json{{"CreditCardId", c.rng.uuid()}, {"Transaction", nullptr}}}}
                  : Json{{"Discriminator", type}, {std::string(type), nullptr}};
  return Json{{"Id", c.rng.uuid()},
              {"EnterpriseId", c.enterprise()},
              {"AccountId", c.rng.uuid()},
              {"AccountType", c.rng.chance(80) ? "Customer" : "Company"},
              {"BillId", c.rng.chance(70) ? Json(c.rng.uuid()) : Json(nullptr)},
              {"AccountingCategoryId", c.rng.uuid()},
              {"Amount", c.money(net, currency)},
              {"OriginalAmount", c.money(net, currency)},
              {"Notes", c.rng.chance(15) ? Json(c.rng.pick(kNotes)) : Json(nullptr)},
              {"SettlementId", c.rng.chance(50) ? Json(c.rng.uuid()) : Json(nullptr)},
              {"ConsumedUtc", c.utc(created)},
              {"ClosedUtc", c.rng.chance(60) ? Json(c.utc(updated)) : Json(nullptr)},
              {"ChargedUtc", c.utc(created)},
              {"SettlementUtc", nullptr},
              {"AccountingState", c.rng.chance(60) ? "Closed" : "Open"},
              {"State", c.rng.pick(kState)},
              {"Identifier", "PMT-" + std::to_string(c.rng.range(100000, 999999))},
              {"Type", type},
              {"Kind", c.rng.chance(90) ? "Payment" : "Refund"},
              {"Data", std::move(data)},
              {"CreatedUtc", c.utc(created)},
              {"UpdatedUtc", c.utc(updated)}};
}

Json reservation(Ctx& c) {
  auto [created, updated] = c.created_updated();
  static constexpr std::array<std::string_view, 5> kState = {"Confirmed", "Started", "Processed", "Canceled",
                                                             "Optional"};
  static constexpr std::array<std::string_view, 4> kOrigin = {"Distributor", "ChannelManager", "Commander",
                                                              "Connector"};
  std::int64_t start = created + c.rng.range(0, 86400 * 120);
  std::int64_t nights = c.rng.range(1, 14);
  std::string_view state = c.rng.pick(kState);
  return Json{
      {"Id", c.rng.uuid()},
      {"ServiceId", c.rng.uuid()},
      {"EnterpriseId", c.enterprise()},
      {"AccountId", c.rng.uuid()},
      {"AccountType", "Customer"},
      {"CreatorProfileId", c.rng.uuid()},
      {"UpdaterProfileId", c.rng.uuid()},
      {"BookerId", c.rng.chance(50) ? Json(c.rng.uuid()) : Json(nullptr)},
      {"Number", std::to_string(c.rng.range(1000, 9999999))},
      {"State", state},
      {"Origin", c.rng.pick(kOrigin)},
      {"CommanderOrigin", nullptr},
      {"OriginDetails", c.rng.chance(30) ? Json("Booking.com") : Json(nullptr)},
      {"CreatedUtc", c.utc(created)},
      {"UpdatedUtc", c.utc(updated)},
      {"CancelledUtc", state == "Canceled" ? Json(c.utc(updated)) : Json(nullptr)},
      {"VoucherId", nullptr},
      {"BusinessSegmentId", c.rng.uuid()},
      {"Options", Json{{"OwnerCheckedIn", state == "Started"},
                       {"AllCompanionsCheckedIn", false},
                       {"AnyCompanionCheckedIn", false},
                       {"ConnectorCheckIn", false}}},
      {"RateId", c.rng.uuid()},
      {"CreditCardId", nullptr},
      {"GroupId", c.rng.uuid()},
      {"RequestedResourceCategoryId", c.rng.uuid()},
      {"AssignedResourceId", c.rng.chance(70) ? Json(c.rng.uuid()) : Json(nullptr)},
      {"AvailabilityBlockId", nullptr},
      {"PartnerCompanyId", nullptr},
      {"TravelAgencyId", nullptr},
      {"AssignedResourceLocked", false},
      {"ChannelNumber", c.rng.chance(40) ? Json(std::to_string(c.rng.range(100000000, 999999999))) : Json(nullptr)},
      {"ChannelManagerNumber", nullptr},
      {"CancellationReason", state == "Canceled" ? Json("Other") : Json(nullptr)},
      {"ReleasedUtc", nullptr},
      {"ScheduledStartUtc", c.utc(start)},
      {"ActualStartUtc", state == "Started" || state == "Processed" ? Json(c.utc(start)) : Json(nullptr)},
      {"ScheduledEndUtc", c.utc(start + nights * 86400)},
      {"ActualEndUtc", state == "Processed" ? Json(c.utc(start + nights * 86400)) : Json(nullptr)},
      {"Purpose", c.rng.chance(70) ? "Leisure" : "Business"},
      {"QrCodeData", nullptr},
      {"PersonCounts", Json::array({Json{{"AgeCategoryId", c.rng.uuid()}, {"Count", c.rng.range(1, 4)}}})}};
}

Json customer(Ctx& c) {
  auto [created, updated] = c.created_updated();
  std::string first(c.rng.pick(kFirstNames));
  std::string last(c.rng.pick(kLastNames));
  static constexpr std::array<std::string_view, 4> kTitle = {"Mister", "Miss", "Misses", "Dr"};
  std::string email_local = "guest" + std::to_string(c.rng.range(1, 9999999));
  return Json{{"Id", c.rng.uuid()},
              {"ChainId", c.chain()},
              {"Number", std::to_string(c.rng.range(1, 9999999))},
              {"Title", c.rng.chance(70) ? Json(c.rng.pick(kTitle)) : Json(nullptr)},
              {"Sex", c.rng.chance(50) ? "Male" : "Female"},
              {"FirstName", first},
              {"LastName", last},
              {"SecondLastName", c.rng.chance(10) ? Json("de la Peña") : Json(nullptr)},
              {"NationalityCode", c.rng.pick(kCountries)},
              {"LanguageCode", c.rng.chance(50) ? "cs-CZ" : "de-DE"},
              {"BirthDate", c.rng.chance(60) ? Json(format_date(c.rng.range(-631152000, 1104537600))) : Json(nullptr)},
              {"BirthPlace", c.rng.chance(30) ? Json(c.rng.pick(kCities)) : Json(nullptr)},
              {"Occupation", nullptr},
              {"Email", email_local + (c.rng.chance(20) ? "@例え.jp" : "@example.com")},
              {"HasOtaEmail", c.rng.chance(10)},
              {"Phone", "+420 " + std::to_string(c.rng.range(600000000, 799999999))},
              {"TaxIdentificationNumber", nullptr},
              {"LoyaltyCode", c.rng.chance(20) ? Json("LC-" + std::to_string(c.rng.range(1000, 9999))) : Json(nullptr)},
              {"AccountingCode", nullptr},
              {"BillingCode", nullptr},
              {"Notes", c.rng.pick(kNotes)},
              {"CarRegistrationNumber", nullptr},
              {"DietaryRequirements", c.rng.chance(10) ? Json("Vegan 🌱") : Json(nullptr)},
              {"CreatedUtc", c.utc(created)},
              {"UpdatedUtc", c.utc(updated)},
              {"Classifications", c.rng.chance(20) ? Json::array({"Returning"}) : Json::array()},
              {"Options", c.rng.chance(30) ? Json::array({"SendMarketingEmails"}) : Json::array()},
              {"Address", c.address()},
              {"ActivityState", "Active"},
              {"IsActive", true},
              {"PreferredSpaceFeatures", Json::array()},
              {"CreatorProfileId", c.rng.uuid()},
              {"UpdaterProfileId", c.rng.uuid()}};
}

Json company(Ctx& c) {
  auto [created, updated] = c.created_updated();
  return Json{{"Id", c.rng.uuid()},
              {"ChainId", c.chain()},
              {"Name", c.rng.pick(kCompanyNames)},
              {"Number", c.rng.range(1, 99999)},
              {"Identifier", std::to_string(c.rng.range(10000000, 99999999))},
              {"TaxIdentifier", "CZ" + std::to_string(c.rng.range(10000000, 99999999))},
              {"AdditionalTaxIdentifier", nullptr},
              {"ElectronicInvoiceIdentifier", nullptr},
              {"InvoiceDueInterval", "P14D"},
              {"AccountingCode", nullptr},
              {"MotherCompanyId", nullptr},
              {"CreatedUtc", c.utc(created)},
              {"UpdatedUtc", c.utc(updated)},
              {"IsActive", c.rng.chance(95)},
              {"Notes", c.rng.pick(kNotes)},
              {"Options", Json{{"Invoiceable", c.rng.chance(50)}, {"AddFeesToInvoices", false}}},
              {"Address", c.address()},
              {"Contact", nullptr},
              {"ContactPerson", std::string(c.rng.pick(kFirstNames)) + " " + std::string(c.rng.pick(kLastNames))},
              {"Email", "billing" + std::to_string(c.rng.range(1, 999)) + "@example.com"},
              {"Telephone", nullptr},
              {"Department", nullptr},
              {"DunsNumber", nullptr},
              {"CreditRating", Json{{"Basic", c.rng.chance(80) ? "CreditOk" : "PaymentRequiredUpfront"}}},
              {"ExternalIdentifier", nullptr},
              {"WebsiteUrl", nullptr}};
}

Json bill(Ctx& c) {
  auto [created, updated] = c.created_updated();
  bool closed = c.rng.chance(70);
  return Json{{"Id", c.rng.uuid()},
              {"Name", c.rng.chance(20) ? Json(c.rng.pick(kNotes)) : Json(nullptr)},
              {"EnterpriseId", c.enterprise()},
              {"AccountId", c.rng.uuid()},
              {"AccountType", c.rng.chance(80) ? "Customer" : "Company"},
              {"AssociatedAccountIds", Json::array()},
              {"CounterId", c.rng.uuid()},
              {"State", closed ? "Closed" : "Open"},
              {"Type", c.rng.chance(70) ? "Receipt" : "Invoice"},
              {"Number", closed ? Json(std::to_string(c.rng.range(1, 999999))) : Json(nullptr)},
              {"VariableSymbol", nullptr},
              {"CreatedUtc", c.utc(created)},
              {"IssuedUtc", closed ? Json(c.utc(updated)) : Json(nullptr)},
              {"TaxedUtc", closed ? Json(c.utc(updated)) : Json(nullptr)},
              {"PaidUtc", nullptr},
              {"DueUtc", closed ? Json(c.utc(updated + 14 * 86400)) : Json(nullptr)},
              {"LastReminderDateUtc", nullptr},
              {"UpdatedUtc", c.utc(updated)},
              {"PurchaseOrderNumber", nullptr},
              {"Notes", c.rng.pick(kNotes)},
              {"Options", Json{{"DisplayCustomer", true},
                               {"DisplayTaxation", true},
                               {"TrackReceivable", true},
                               {"DisplayCid", false},
                               {"Rebated", false}}},
              {"CorrectionState", "Bill"},
              {"CorrectionType", nullptr},
              {"CorrectedBillId", nullptr}};
}

Json availability_adjustment(Ctx& c) {
  auto [created, updated] = c.created_updated();
  std::int64_t start = created - created % 86400;
  return Json{{"Id", c.rng.uuid()},
              {"AvailabilityBlockId", c.rng.chance(40) ? Json(c.rng.uuid()) : Json(nullptr)},
              {"ResourceCategoryId", c.rng.uuid()},
              {"StartUtc", c.utc(start)},
              {"EndUtc", c.utc(start + c.rng.range(1, 10) * 86400)},
              {"UnitCount", c.rng.range(-5, 5)},
              {"ActivityState", c.rng.chance(90) ? "Active" : "Deleted"},
              {"IsActive", true},
              {"ReleaseOverrideUtc", nullptr},
              {"PaxCounts", nullptr},
              {"UpdatedUtc", c.utc(updated)}};
}

Json availability_block(Ctx& c) {
  auto [created, updated] = c.created_updated();
  static constexpr std::array<std::string_view, 5> kState = {"Confirmed", "Optional", "Inquired", "Released",
                                                             "Canceled"};
  std::int64_t first = created - created % 86400 + 86400 * c.rng.range(1, 90);
  return Json{{"Id", c.rng.uuid()},
              {"EnterpriseId", c.enterprise()},
              {"ServiceId", c.rng.uuid()},
              {"RateId", c.rng.uuid()},
              {"VoucherId", nullptr},
              {"BookerId", c.rng.chance(50) ? Json(c.rng.uuid()) : Json(nullptr)},
              {"CompanyId", c.rng.chance(50) ? Json(c.rng.uuid()) : Json(nullptr)},
              {"TravelAgencyId", nullptr},
              {"Budget", Json{{"Currency", c.rng.pick(kCurrencies)}, {"Value", c.rng.money(100, 50000)}}},
              {"State", c.rng.pick(kState)},
              {"ReservationPurpose", c.rng.chance(50) ? "Business" : "Leisure"},
              {"CreatedUtc", c.utc(created)},
              {"UpdatedUtc", c.utc(updated)},
              {"FirstTimeUnitStartUtc", c.utc(first)},
              {"LastTimeUnitStartUtc", c.utc(first + 86400 * c.rng.range(0, 10))},
              {"ReleasedUtc", nullptr},
              {"RollingReleaseOffset", nullptr},
              {"ExternalIdentifier", nullptr},
              {"Name", "Group " + std::string(c.rng.pick(kCompanyNames))},
              {"Notes", c.rng.pick(kNotes)},
              {"PickupDistribution", "AllInOneGroup"},
              {"IsActive", true},
              {"QuoteId", nullptr},
              {"AvailabilityBlockNumber", std::to_string(c.rng.range(1, 99999))},
              {"ReleaseStrategy", "FixedRelease"},
              {"PurchaseOrderNumber", nullptr}};
}

Json resource_block(Ctx& c) {
  auto [created, updated] = c.created_updated();
  std::int64_t start = created + 86400 * c.rng.range(0, 30);
  return Json{{"Id", c.rng.uuid()},
              {"EnterpriseId", c.enterprise()},
              {"AssignedResourceId", c.rng.uuid()},
              {"IsActive", c.rng.chance(90)},
              {"Type", c.rng.chance(70) ? "OutOfOrder" : "InternalUse"},
              {"StartUtc", c.utc(start)},
              {"EndUtc", c.utc(start + 3600 * c.rng.range(1, 240))},
              {"CreatedUtc", c.utc(created)},
              {"UpdatedUtc", c.utc(updated)},
              {"DeletedUtc", nullptr},
              {"Name", c.rng.chance(50) ? "Broken AC ❄" : "Renovation"},
              {"Notes", c.rng.pick(kNotes)}};
}

Json ledger_entry(Ctx& c) {
  auto [created, updated] = c.created_updated();
  std::int64_t posting = created - created % 86400;
  if (c.spec.dataset) {
    posting = updated - updated % 86400;  // the date of the record's time
  } else if (c.spec.posting) {
    std::int64_t days = (c.spec.posting->second - c.spec.posting->first) / 86400;
    posting = c.spec.posting->first + 86400 * c.rng.range(0, std::max<std::int64_t>(0, days));
  }
  static constexpr std::array<std::string_view, 7> kLedger = {"Revenue", "Tax",  "Payment",   "Deposit",
                                                              "Guest",   "City", "NonRevenue"};
  double value = c.rng.money(-500, 2000);
  return Json{{"Id", c.rng.uuid()},
              {"EnterpriseId", c.enterprise()},
              {"TransactionId", c.rng.uuid()},
              {"AccountId", c.rng.uuid()},
              {"BillId", c.rng.chance(60) ? Json(c.rng.uuid()) : Json(nullptr)},
              {"AccountingCategoryId", c.rng.uuid()},
              {"AccountingItemId", c.rng.uuid()},
              {"AccountingItemType", c.rng.chance(70) ? "OrderItem" : "PaymentItem"},
              {"LedgerType", c.rng.pick(kLedger)},
              {"LedgerEntryType", value < 0 ? "Credit" : "Debit"},
              {"PostingDate", format_date(posting)},
              {"Value", value},
              {"NetBaseValue", round2(value / 1.21)},
              {"TaxRateCode", c.rng.chance(70) ? Json(c.rng.pick(kTaxCodes)) : Json(nullptr)},
              {"CreatedUtc", c.utc(updated)}};
}

std::uint64_t record_seed(const FileSpec& spec, std::uint64_t index) {
  std::uint64_t h = fnv1a(spec.entity, spec.seed ^ 0x5bd1e995ULL);
  h = fnv1a(std::to_string(spec.file_index) + ":" + std::to_string(index), h);
  if (spec.updated) h = fnv1a(std::to_string(spec.updated->first) + "-" + std::to_string(spec.updated->second), h);
  if (spec.posting) h = fnv1a(std::to_string(spec.posting->first) + "-" + std::to_string(spec.posting->second), h);
  return h;
}

char rotate_letter(char c, int shift) {
  if (c >= 'a' && c <= 'z') return static_cast<char>('a' + (c - 'a' + shift) % 26);
  if (c >= 'A' && c <= 'Z') return static_cast<char>('A' + (c - 'A' + shift) % 26);
  return c;
}

// Rotates the ASCII letters of every string value (not the keys) in `j`.
void rotate_strings(Json& j, int shift) {
  if (j.is_string()) {
    for (char& c : j.get_ref<std::string&>()) c = rotate_letter(c, shift);
    return;
  }
  if (j.is_structured())
    for (auto it = j.begin(); it != j.end(); ++it) rotate_strings(it.value(), shift);
}

// Dataset records depend on (seed, entity, token, k) only: the same record is
// the same line in every export.
std::uint64_t dataset_seed(const FileSpec& spec, std::uint64_t k) {
  std::uint64_t h = fnv1a(spec.entity, spec.seed ^ 0x2545f4914f6cdd1dULL);
  return fnv1a(std::to_string(spec.dataset->token_index) + ":" + std::to_string(k), h);
}

// The random source and time range of record `index` of the file.
Ctx context_of(const FileSpec& spec, std::uint64_t index) {
  if (spec.dataset) {
    const std::uint64_t k = spec.dataset->first + index;
    const std::int64_t t = spec.dataset->t0 + static_cast<std::int64_t>(k) * spec.dataset->step;
    return Ctx{spec, Rng(dataset_seed(spec, k)), t, t};
  }
  if (spec.updated) return Ctx{spec, Rng(record_seed(spec, index)), spec.updated->first, spec.updated->second};
  return Ctx{spec, Rng(record_seed(spec, index)), kDefaultFrom, kDefaultTo};
}

using Generator = Json (*)(Ctx&);
// In the order of kEntityTypes.
constexpr std::array<Generator, kEntityTypes.size()> kGenerators = {
    order_item,         payment,        reservation, customer, company, bill, availability_adjustment,
    availability_block, resource_block, ledger_entry};

Json generate(Ctx& c) {
  auto it = std::find(kEntityTypes.begin(), kEntityTypes.end(), c.spec.entity);
  auto i = it == kEntityTypes.end() ? kEntityTypes.size() - 1 : static_cast<std::size_t>(it - kEntityTypes.begin());
  return kGenerators[i](c);
}

bool fits(const FileSpec& spec, std::uint64_t index, std::uint64_t size_so_far) {
  if (spec.target_bytes > 0) return size_so_far < spec.target_bytes;
  return index < spec.records;
}

}  // namespace

bool is_entity_type(std::string_view name) {
  return std::find(kEntityTypes.begin(), kEntityTypes.end(), name) != kEntityTypes.end();
}

std::string dataset_record_id(std::size_t token_index, std::string_view entity, std::uint64_t k) {
  Rng rng(
      fnv1a(std::string(entity) + ":" + std::to_string(token_index) + ":" + std::to_string(k), 0x6a09e667f3bcc908ULL));
  return rng.uuid();
}

void append_record(const FileSpec& spec, std::uint64_t index, std::string& out) {
  Ctx c = context_of(spec, index);
  Json j = generate(c);
  if (spec.dataset) j["Id"] = dataset_record_id(spec.dataset->token_index, spec.entity, spec.dataset->first + index);
  if (spec.mutation > 0) rotate_strings(j, static_cast<int>((spec.mutation - 1) % 25 + 1));
  const std::size_t start = out.size();
  out += j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  out += '\n';
  if (spec.bad_json && index == 0) out[start] = '[';
}

std::string generate_record(const FileSpec& spec, std::uint64_t index) {
  std::string out;
  append_record(spec, index, out);
  return out;
}

std::optional<FileIndex> index_file(const FileSpec& spec, const std::atomic<bool>* cancel,
                                    std::uint64_t checkpoint_every, std::uint64_t cache_limit) {
  FileIndex index;
  index.checkpoint_every = std::max<std::uint64_t>(1, checkpoint_every);
  std::string cache;
  bool caching = cache_limit > 0;
  std::string line;
  std::uint64_t i = 0;
  while (fits(spec, i, index.size)) {
    if (cancel && (i & 255) == 0 && cancel->load(std::memory_order_relaxed)) return std::nullopt;
    if (i % index.checkpoint_every == 0) index.checkpoints.push_back(index.size);
    line.clear();
    append_record(spec, i, line);
    index.size += line.size();
    if (caching) {
      if (index.size <= cache_limit)
        cache += line;
      else {
        caching = false;
        std::string().swap(cache);
      }
    }
    ++i;
  }
  index.records = i;
  if (caching) index.cached = std::make_shared<const std::string>(std::move(cache));
  return index;
}

FileReader::FileReader(FileSpec spec, std::shared_ptr<const FileIndex> index)
    : spec_(std::move(spec)), index_(std::move(index)) {}

void FileReader::seek(std::uint64_t offset) {
  // The last checkpoint at or before `offset`.
  const auto& cps = index_->checkpoints;
  auto it = std::upper_bound(cps.begin(), cps.end(), offset);
  std::size_t cp = it == cps.begin() ? 0 : static_cast<std::size_t>(it - cps.begin()) - 1;
  record_ = cp * index_->checkpoint_every;
  buffer_start_ = cps.empty() ? 0 : cps[cp];
  buffer_.clear();
  append_record(spec_, record_, buffer_);
  while (buffer_start_ + buffer_.size() <= offset && record_ + 1 < index_->records) {
    buffer_start_ += buffer_.size();
    buffer_.clear();
    append_record(spec_, ++record_, buffer_);
  }
  positioned_ = true;
}

std::size_t FileReader::read(std::uint64_t offset, std::size_t max, std::string& out) {
  if (offset >= index_->size || max == 0) return 0;
  if (index_->cached && spec_.mutation == 0) {
    std::size_t n = std::min<std::uint64_t>(max, index_->size - offset);
    out.append(*index_->cached, offset, n);
    return n;
  }
  if (!positioned_ || offset < buffer_start_) seek(offset);
  std::size_t written = 0;
  while (written < max) {
    std::uint64_t pos = offset + written;
    if (pos >= index_->size) break;
    if (pos >= buffer_start_ + buffer_.size()) {
      if (record_ + 1 >= index_->records) break;
      // Far ahead: jump via the checkpoints instead of generating every record.
      if (pos - (buffer_start_ + buffer_.size()) > 4 * 1024 * 1024) {
        seek(pos);
      } else {
        buffer_start_ += buffer_.size();
        buffer_.clear();
        append_record(spec_, ++record_, buffer_);
      }
      continue;
    }
    std::size_t in_buf = static_cast<std::size_t>(pos - buffer_start_);
    std::size_t n = std::min(max - written, buffer_.size() - in_buf);
    out.append(buffer_, in_buf, n);
    written += n;
  }
  return written;
}

}  // namespace mews_sandbox
