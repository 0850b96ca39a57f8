#include "mews_export/journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <utility>

#include "atomic_file.hpp"
#include "mews_export/cancel.hpp"
#include "mews_export/redact.hpp"
#include "mews_export/time.hpp"
#include "mews_export/untrusted.hpp"
#include "sha256.hpp"

namespace mews_export {
namespace {

using nlohmann::json;

// A journal entry is a few hundred bytes; anything much larger is not ours.
constexpr std::size_t kMaxEntryBytes = 1024 * 1024;

json opt(const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); }

std::optional<std::string> opt_from(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

std::string normalise_time(const std::string& text) {
  const auto t = parse_time_arg(text);
  return t ? format_utc(*t) : text;
}

// Creates `dir` and its missing parents with mode 0700. An existing directory
// keeps its mode (it may be shared on purpose, like /tmp): when group or
// others can enter it, a warning says so, once per directory.
Status make_private_dir(const std::filesystem::path& dir) {
  std::filesystem::path at;
  for (const auto& component : dir) {
    at /= component;
    if (::mkdir(at.c_str(), 0700) != 0 && errno != EEXIST) {
      return std::unexpected(detail::io_error("cannot create directory", at, errno));
    }
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) return std::unexpected(detail::io_error("cannot open directory", dir, errno));
  if (!S_ISDIR(st.st_mode)) return std::unexpected(detail::io_error("cannot use", dir, ENOTDIR));
  if ((st.st_mode & 077) != 0) {
    static std::mutex warned_mutex;
    static std::set<std::string> warned;
    std::lock_guard lock(warned_mutex);
    if (warned.insert(dir.string()).second) {
      spdlog::warn(
          "state directory {} can be read by other users (mode {:o}); its journal names your exports: "
          "consider chmod 700 {} or another --state-dir",
          dir.string(), st.st_mode & 07777, dir.string());
    }
  }
  return {};
}

ExportStatus parse_journal_status(const std::string& name) {
  return name == to_string(ExportStatus::NotFound) ? ExportStatus::NotFound : parse_export_status(name);
}

}  // namespace

bool JobKey::matches(const JobKey& recorded) const {
  return platform == recorded.platform && token_fingerprint == recorded.token_fingerprint &&
         entity_type == recorded.entity_type && enterprise_ids == recorded.enterprise_ids &&
         chain_ids == recorded.chain_ids && updated_from == recorded.updated_from &&
         posting_from == recorded.posting_from && (!posting_to || posting_to == recorded.posting_to) &&
         (!updated_to || updated_to == recorded.updated_to);
}

std::string JobKey::lock_name() const {
  return detail::sha256_hex(platform + '\n' + token_fingerprint + '\n' + entity_type).substr(0, 24);
}

JobKey make_job_key(const std::string& platform, const std::string& client_token, const std::string& access_token,
                    const AddArguments& args, const AddExportRequest& request) {
  JobKey key;
  key.platform = platform;
  key.token_fingerprint = credentials_fingerprint(client_token, access_token);
  key.entity_type = std::string(to_string(request.entity_type));
  key.enterprise_ids = args.enterprise_ids;
  key.chain_ids = args.chain_ids;
  std::sort(key.enterprise_ids.begin(), key.enterprise_ids.end());
  std::sort(key.chain_ids.begin(), key.chain_ids.end());
  if (args.updated_from) key.updated_from = normalise_time(*args.updated_from);
  if (args.updated_to) key.updated_to = normalise_time(*args.updated_to);
  key.posting_from = args.posting_from;
  key.posting_to = args.posting_to;
  return key;
}

std::string credentials_fingerprint(const std::string& client_token, const std::string& access_token) {
  return token_fingerprint(client_token + '\n' + access_token);
}

bool JournalEntry::unfinished() const {
  return !downloaded && status != ExportStatus::Failed && status != ExportStatus::Expired &&
         status != ExportStatus::NotFound;
}

JournalEntry JournalEntry::created(const Export& exp, const JobKey& key, const std::string& output, UtcTime now) {
  JournalEntry entry;
  entry.id = exp.id;
  entry.key = key;
  entry.status = exp.status;
  entry.created_utc = format_utc(now);
  entry.updated_utc = entry.created_utc;
  entry.output = output;
  return entry;
}

json to_json(const JournalEntry& entry) {
  const auto& k = entry.key;
  return {{"Id", entry.id},
          {"Platform", k.platform},
          {"TokenFingerprint", k.token_fingerprint},
          {"EntityType", k.entity_type},
          {"EnterpriseIds", k.enterprise_ids},
          {"ChainIds", k.chain_ids},
          {"UpdatedFrom", opt(k.updated_from)},
          {"UpdatedTo", opt(k.updated_to)},
          {"PostingFrom", opt(k.posting_from)},
          {"PostingTo", opt(k.posting_to)},
          {"Status", to_string(entry.status)},
          {"CreatedUtc", entry.created_utc},
          {"UpdatedUtc", entry.updated_utc},
          {"Output", entry.output},
          {"Downloaded", entry.downloaded}};
}

Result<JournalEntry> parse_journal_entry(const json& object) {
  if (!object.is_object()) return fail(ErrorKind::Protocol, "journal entry is not an object");
  try {
    JournalEntry e;
    e.id = object.at("Id").get<std::string>();
    e.key.platform = object.at("Platform").get<std::string>();
    e.key.token_fingerprint = object.at("TokenFingerprint").get<std::string>();
    e.key.entity_type = object.at("EntityType").get<std::string>();
    e.key.enterprise_ids = object.value("EnterpriseIds", std::vector<std::string>{});
    e.key.chain_ids = object.value("ChainIds", std::vector<std::string>{});
    e.key.updated_from = opt_from(object, "UpdatedFrom");
    e.key.updated_to = opt_from(object, "UpdatedTo");
    e.key.posting_from = opt_from(object, "PostingFrom");
    e.key.posting_to = opt_from(object, "PostingTo");
    e.status = parse_journal_status(object.value("Status", ""));
    e.created_utc = object.value("CreatedUtc", "");
    e.updated_utc = object.value("UpdatedUtc", "");
    e.output = object.value("Output", "");
    e.downloaded = object.value("Downloaded", false);
    return e;
  } catch (const json::exception& error) {
    return fail(ErrorKind::Protocol, std::string("malformed journal entry: ") + error.what());
  }
}

Result<Journal> Journal::open(const std::filesystem::path& state_dir) {
  if (auto ok = make_private_dir(state_dir); !ok) return std::unexpected(ok.error());
  Journal journal;
  journal.dir_ = state_dir / "exports";
  if (auto ok = make_private_dir(journal.dir_); !ok) return std::unexpected(ok.error());
  return journal;
}

Status Journal::record(const JournalEntry& entry) {
  if (!is_valid_export_id(entry.id)) {
    return fail(ErrorKind::Protocol, "refusing to journal an export whose id is not an export id (a UUID)");
  }
  const auto path = dir_ / (entry.id + ".json");
  if (auto ok = detail::write_file_atomically(path, to_json(entry).dump(2) + "\n"); !ok) return ok;
  ::chmod(path.c_str(), 0600);
  return {};
}

std::vector<JournalEntry> Journal::entries() const {
  std::vector<JournalEntry> out;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(dir_, ec)) {
    if (item.path().extension() != ".json") continue;
    const auto text = detail::read_regular_file(item.path(), kMaxEntryBytes);
    const auto parsed = text ? parse_untrusted_json(*text) : Result<json>(std::unexpected(text.error()));
    if (!parsed) continue;
    if (auto entry = parse_journal_entry(*parsed)) out.push_back(std::move(*entry));
  }
  std::sort(out.begin(), out.end(), [](const JournalEntry& a, const JournalEntry& b) {
    return std::tie(a.created_utc, a.id) > std::tie(b.created_utc, b.id);
  });
  return out;
}

std::optional<JournalEntry> Journal::find(const std::string& id) const {
  for (auto& entry : entries()) {
    if (same_export_id(entry.id, id)) return entry;
  }
  return std::nullopt;
}

std::optional<JournalEntry> Journal::find_unfinished(const JobKey& key) const {
  for (auto& entry : entries()) {
    if (entry.unfinished() && key.matches(entry.key)) return entry;
  }
  return std::nullopt;
}

std::filesystem::path default_state_dir(const EnvLookup& env) {
  if (const auto xdg = env("XDG_STATE_HOME"); xdg && xdg->starts_with('/')) {
    return std::filesystem::path(*xdg) / "mews-export";
  }
  if (const auto home = env("HOME")) return std::filesystem::path(*home) / ".local" / "state" / "mews-export";
  return std::filesystem::path("/tmp") / ("mews-export-" + std::to_string(::getuid()));
}

Result<JobLock> JobLock::acquire(const std::filesystem::path& state_dir, const std::string& name, bool wait,
                                 Clock& clock) {
  const auto dir = state_dir / "locks";
  if (auto ok = make_private_dir(dir); !ok) return std::unexpected(ok.error());
  const auto path = dir / (name + ".lock");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return std::unexpected(detail::io_error("open lock file", path, errno));
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return JobLock(std::move(fd));
    if (errno != EWOULDBLOCK && errno != EINTR) return std::unexpected(detail::io_error("lock", path, errno));
    if (!wait) {
      return fail(ErrorKind::Locked,
                  "another mews-export run for the same platform, token and entity is active; "
                  "try again later or pass --wait-lock to wait for it");
    }
    if (!clock.sleep_for(std::chrono::seconds{1})) return std::unexpected(interrupted_error());
  }
}

}  // namespace mews_export
