// mews-export: parses the command line, installs signal handlers, and runs
// one subcommand; every exit code is decided by the subcommand's result.
#include <csignal>
#include <cstdio>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <spdlog/spdlog.h>

#include <new>

#include "app.hpp"
#include "logging.hpp"
#include "mews_export/cancel.hpp"
#include "mews_export/version.hpp"

// GnuTLS is loaded with libcurl (as a dependency of its LDAP and RTMP
// support, neither of which we use; Debian's libcurl does TLS with OpenSSL)
// and by default initialises itself in its library constructor, before
// main(): 1 MiB of memory (0.6 MiB of its pages, its random pool, PKCS #11
// bookkeeping) that nothing here ever uses. This is GnuTLS's documented
// opt-out (the GNUTLS_SKIP_GLOBAL_INIT macro of <gnutls/gnutls.h>, spelled out
// so that its headers are not needed): the library asks this weak symbol,
// which the program overrides. Whoever does use GnuTLS calls
// gnutls_global_init() first, as libldap, librtmp and libcurl's GnuTLS
// backend do. Exported from the executable (CMakeLists.txt) so the dynamic
// linker binds GnuTLS's call to it; checked by package.gnutls_skips_init.
extern "C" int _gnutls_global_init_skip();
extern "C" int _gnutls_global_init_skip() { return 1; }

namespace {

void on_signal(int signal) { mews_export::request_cancel(signal); }

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout becomes EPIPE: exit 141 quietly (finish_stdout)
}

// One malloc arena for all threads. glibc gives each new thread an arena of
// its own (up to 8 per core); with a file's transfer, digester and range
// fetchers on threads, 8-10 arenas each kept 90-180 KiB of pages. Our threads
// allocate little once a transfer runs (blocks come from a fixed pool, mapped
// once), so sharing one arena costs no speed and 0.3 MiB of peak memory less.
void share_one_malloc_arena() {
#if defined(__GLIBC__)
  mallopt(M_ARENA_MAX, 1);
#endif
}

// Runs the command; running out of memory (or any exception that escapes) is
// an ordinary failure with a message, never an abort.
int run_guarded(const mews_export::cli::CommandRunner& runner) {
  try {
    return runner();
  } catch (const std::bad_alloc&) {
    spdlog::error("out of memory (an answer or a file too large for this machine?); nothing was lost: run again");
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mews_export::cli;
  share_one_malloc_arena();
  install_signal_handlers();

  CLI::App app{"mews-export: export data from the Mews Connector API (Data export) to JSON Lines files"};
  app.set_version_flag("--version", std::string("mews-export ") + mews_export::version());
  app.require_subcommand(1);
  app.fallthrough();  // global options are accepted after the command too

  GlobalOptions global;
  mews_export::SettingsFlags& flags = global.settings;
  app.add_option("--platform", flags.platform, "demo, production or a URL (env MEWS_PLATFORM; default production)");
  app.add_option("--client-token-file", flags.client_token_file,
                 "file holding the ClientToken (env MEWS_CLIENT_TOKEN[_FILE])");
  app.add_option("--access-token-file", flags.access_token_file,
                 "file holding the AccessToken (env MEWS_ACCESS_TOKEN[_FILE])");
  app.add_option("--client", flags.client, "Client name sent to Mews (env MEWS_CLIENT; default mews-export <version>)");
  app.add_option("--profile", flags.profile, "configuration profile (env MEWS_PROFILE)");
  app.add_option("--config", flags.config, "configuration file");
  app.add_option("--state-dir", flags.state_dir, "where the journal lives (env MEWS_EXPORT_STATE_DIR)");
  app.add_option("--ca-bundle", flags.ca_bundle, "CA certificates file to trust for TLS");
  app.add_option("--s3-endpoint", flags.s3_endpoint,
                 "S3-compatible endpoint URL for -o s3://... (MinIO, R2, GCS; default: AWS S3)");
  app.add_flag("-v,--verbose", global.verbose, "more logs on stderr (-vv for debug)");
  app.add_flag("-q,--quiet", global.quiet, "errors only on stderr");
  app.add_option("--log-format", global.log_format, "text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_option("--progress", global.progress, "auto, always or never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("--json", global.json, "print results as JSON");
  app.add_option("--retry", flags.retries, "retries of a failed request or transfer (default 7)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--retry-max-time", flags.retry_max_time, "stop retrying after this long in all (default 15m)");
  app.add_option("--stall-timeout", flags.stall_timeout,
                 "abandon (and retry) a file transfer that receives nothing for this long (default 60s)");
  app.add_flag("--allow-insecure-http", flags.allow_insecure_http, "allow plain http:// to non-loopback hosts");

  CommandRunner runner;
  setup_add(app, global, runner);
  setup_status(app, global, runner);
  setup_wait(app, global, runner);
  setup_download(app, global, runner);
  setup_run(app, global, runner);
  setup_list(app, global, runner);
  setup_config(app, global, runner);
  setup_sync(app, global, runner);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  setup_logging(global.quiet ? -1 : global.verbose, global.log_format);
  if (!runner) return 2;
  return finish_stdout(run_guarded(runner));
}
