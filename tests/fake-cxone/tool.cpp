// cxflow-fake-cxone: the test tree's fake CXone as a tool, so the live path can be tried without
// a tenant (see plugins/source-cxone/README.md, "Trying it locally").
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>

#include "fake_cxone.hpp"
#include "fake_rtd.hpp"

namespace {

void usage() {
  std::cerr << "usage: cxflow-fake-cxone [options]\n"
               "  --port N               listen port (default 8443; 0 = any free port)\n"
               "  --plain                plain HTTP/WebSocket instead of TLS\n"
               "  --cert FILE --key FILE TLS certificate and key (default: a self-signed one for localhost,\n"
               "                         written to --cert-dir)\n"
               "  --cert-dir DIR         where the generated certificate goes (default ./fake-cxone-tls)\n"
               "  --client-id ID         expected client id (default test-client)\n"
               "  --client-secret S      expected client secret (default test-secret)\n"
               "  --events N             events to send, then close 1000 and wait (default 0 = unlimited)\n"
               "  --rate N               events per second (default 200; 0 = full speed)\n"
               "  --interval-ms N        event-time step between events (default 100)\n"
               "  --start-ms N           event time of event 0, epoch ms (default: now)\n"
               "  --token-lifetime S     token expires_in seconds (default 1800)\n"
               "  --malformed-every N    a malformed frame after every Nth event\n"
               "  --drop-after K         drop the TCP connection after K events (repeatable)\n"
               "  --close-1011-after K   close with 1011 after K events (repeatable)\n"
               "  --expire-token-after K close 4001 and revoke tokens after K events (repeatable)\n"
               "  --token-429 N          the first N token requests answer 429\n"
               "  --retry-after S        ... with Retry-After: S\n"
               "  --cpu N                pin the server thread to core N\n"
               "  --truth FILE           write the ground truth (JSON) here on exit\n"
               "  --exit-after-end       with --events: exit once a client answered the end-of-stream close\n"
               "                         (it read every event; benchmarks)\n"
               "Stops on SIGINT/SIGTERM and prints the ground truth as JSON on stdout.\n"
               "With --rtd it is the Real-Time Data API instead (see --rtd --help).\n";
}

// Walks the options: `option(a, next)` takes one (next() returns its value) and returns false
// for an unknown one; --help prints `usage`. Returns -1 to go on, else the exit code.
template <class F>
int parse_args(int argc, char** argv, void (*usage)(), F option) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") {
        usage();
        return 0;
      }
      if (!option(a, next)) {
        std::cerr << "unknown option " << a << "\n";
        usage();
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << a << "\n";
      return 2;
    }
  }
  return -1;
}

// Generates a certificate for localhost unless one was given, then blocks SIGINT and SIGTERM
// (before the server thread starts) for main to wait for them.
sigset_t prepare(bool tls, std::string& cert_file, std::string& key_file, const std::string& cert_dir) {
  if (tls && (cert_file.empty() || key_file.empty())) {
    std::filesystem::create_directories(cert_dir);
    std::tie(cert_file, key_file) = cxflow::fake::make_test_certificate(cert_dir);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

void rtd_usage() {
  std::cerr << "usage: cxflow-fake-cxone --rtd [options]   (the Real-Time Data API over a simulated contact center)\n"
               "  --port N --plain --cert FILE --key FILE --cert-dir DIR   as without --rtd\n"
               "  --client-id ID --client-secret S       app credentials (default test-client / test-secret)\n"
               "  --access-key-id ID --access-key-secret S  access key (default test-access-key / test-access-secret)\n"
               "  --client-auth basic|post|both          how /auth/token takes client credentials (default both)\n"
               "  --token-lifetime S                     access token lifetime in seconds (default 3600)\n"
               "  --legacy                               the older {\"resultSet\":...} layout, PascalCase keys\n"
               "  --no-change N                          answer to an updatedSince read with no rows: 304|204|200\n"
               "  --start-ms N                           simulated start time, epoch ms (default: now)\n"
               "  --speed X                              simulated ms per wall ms (default 1)\n"
               "  --seed N --skills N --agents N         model (default 1, 3, 10)\n"
               "  --arrivals-per-minute X                per skill (default 0.6)\n"
               "  --max-contacts N                       no arrivals after N contacts (default 0 = never)\n"
               "  --handle-median-s X --patience-s X     talk time median, mean patience (default 180, 120)\n"
               "  --linger-ms N                          ended contacts stay as EndContact this long (default 30000)\n"
               "  --token-429 N [--retry-after S]        the first N token requests answer 429\n"
               "  --api-fault-after K                    API faults start after K API requests\n"
               "  --api-429 N [--api-retry-after S]      then N API requests answer 429\n"
               "  --api-500 N                            then N API requests answer 500\n"
               "  --hang-pages N                         N page requests (skip > 0) never answer\n"
               "  --shift-pages N                        N contacts/active pages: a row leaves, one arrives first\n"
               "  --revoke-after K                       revoke every token after K API requests (repeatable)\n"
               "  --truth FILE                           write the ground truth (JSON) here on exit\n"
               "Stops on SIGINT/SIGTERM and prints the ground truth (every ended contact, agent changes,\n"
               "requests per path and status, faults) as JSON on stdout.\n";
}

void write_truth(const std::string& j, const std::string& truth_file) {
  std::cout << j << std::endl;
  if (truth_file.empty()) return;
  if (FILE* f = std::fopen(truth_file.c_str(), "w")) {
    std::fputs((j + "\n").c_str(), f);
    std::fclose(f);
  }
}

int rtd_main(int argc, char** argv) {
  cxflow::fake::RtdOptions o;
  o.port = 8443;
  o.start_time_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  std::string cert_dir = "fake-cxone-tls", truth_file;
  const int parsed = parse_args(argc, argv, rtd_usage, [&](const std::string& a, const auto& next) {
    if (a == "--rtd")
      return true;
    else if (a == "--port")
      o.port = static_cast<unsigned short>(std::stoi(next()));
    else if (a == "--plain")
      o.tls = false;
    else if (a == "--cert")
      o.cert_file = next();
    else if (a == "--key")
      o.key_file = next();
    else if (a == "--cert-dir")
      cert_dir = next();
    else if (a == "--client-id")
      o.client_id = next();
    else if (a == "--client-secret")
      o.client_secret = next();
    else if (a == "--access-key-id")
      o.access_key_id = next();
    else if (a == "--access-key-secret")
      o.access_key_secret = next();
    else if (a == "--client-auth")
      o.client_auth = next();
    else if (a == "--token-lifetime")
      o.token_lifetime_s = std::stoll(next());
    else if (a == "--legacy")
      o.legacy_layout = true;
    else if (a == "--no-change")
      o.no_change_status = std::stoi(next());
    else if (a == "--start-ms")
      o.start_time_ms = std::stoll(next());
    else if (a == "--speed")
      o.speed = std::stod(next());
    else if (a == "--seed")
      o.seed = std::stoull(next());
    else if (a == "--skills")
      o.skills = std::stoi(next());
    else if (a == "--agents")
      o.agents = std::stoi(next());
    else if (a == "--arrivals-per-minute")
      o.arrivals_per_minute = std::stod(next());
    else if (a == "--max-contacts")
      o.max_contacts = std::stoull(next());
    else if (a == "--handle-median-s")
      o.handle_median_s = std::stod(next());
    else if (a == "--patience-s")
      o.patience_mean_s = std::stod(next());
    else if (a == "--linger-ms")
      o.end_state_linger_ms = std::stoll(next());
    else if (a == "--token-429")
      o.token_429 = std::stoi(next());
    else if (a == "--retry-after")
      o.token_retry_after_s = std::stoi(next());
    else if (a == "--api-fault-after")
      o.api_fault_after = std::stoull(next());
    else if (a == "--api-429")
      o.api_429 = std::stoi(next());
    else if (a == "--api-retry-after")
      o.api_retry_after_s = std::stoi(next());
    else if (a == "--api-500")
      o.api_500 = std::stoi(next());
    else if (a == "--hang-pages")
      o.hang_pages = std::stoi(next());
    else if (a == "--shift-pages")
      o.shift_pages = std::stoi(next());
    else if (a == "--revoke-after")
      o.revoke_after_api_requests.push_back(std::stoull(next()));
    else if (a == "--truth")
      truth_file = next();
    else
      return false;
    return true;
  });
  if (parsed >= 0) return parsed;
  if (o.client_auth != "basic" && o.client_auth != "post" && o.client_auth != "both") {
    std::cerr << "--client-auth must be basic, post or both, not " << o.client_auth << "\n";
    return 2;
  }
  if (o.no_change_status != 304 && o.no_change_status != 204 && o.no_change_status != 200) {
    std::cerr << "--no-change must be 304, 204 or 200\n";
    return 2;
  }
  try {
    const sigset_t set = prepare(o.tls, o.cert_file, o.key_file, cert_dir);
    cxflow::fake::FakeRtd fake(o);
    std::cerr << "fake CXone Real-Time Data API listening on port " << fake.port() << "\n"
              << "  issuer:           " << fake.base_url() << "\n"
              << "  api:              " << fake.api_url() << "\n"
              << "  tenantId:         " << o.tenant_id << "\n";
    if (o.tls) std::cerr << "  ca_file:          " << std::filesystem::absolute(o.cert_file).string() << "\n";
    std::cerr << "  client id/secret: " << o.client_id << " / " << o.client_secret << "\n"
              << "  access key:       " << o.access_key_id << " / " << o.access_key_secret << "\n"
              << "Ctrl+C stops it and prints the ground truth.\n";
    int sig = 0;
    sigwait(&set, &sig);
    fake.stop();
    write_truth(cxflow::fake::rtd_truth_json(fake.truth()), truth_file);
  } catch (const std::exception& e) {
    std::cerr << "cxflow-fake-cxone: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--rtd") == 0) return rtd_main(argc, argv);
  cxflow::fake::FakeOptions o;
  o.port = 8443;
  o.events_per_second = 200;
  o.start_time_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  o.close_when_done = false;
  std::string cert_dir = "fake-cxone-tls", truth_file;
  bool exit_after_end = false;
  const int parsed = parse_args(argc, argv, usage, [&](const std::string& a, const auto& next) {
    if (a == "--port")
      o.port = static_cast<unsigned short>(std::stoi(next()));
    else if (a == "--plain")
      o.tls = false;
    else if (a == "--cert")
      o.cert_file = next();
    else if (a == "--key")
      o.key_file = next();
    else if (a == "--cert-dir")
      cert_dir = next();
    else if (a == "--client-id")
      o.client_id = next();
    else if (a == "--client-secret")
      o.client_secret = next();
    else if (a == "--events")
      o.total_events = std::stoull(next());
    else if (a == "--rate")
      o.events_per_second = std::stoll(next());
    else if (a == "--interval-ms")
      o.interval_ms = std::stoll(next());
    else if (a == "--start-ms")
      o.start_time_ms = std::stoll(next());
    else if (a == "--token-lifetime")
      o.token_lifetime_s = std::stoll(next());
    else if (a == "--malformed-every")
      o.malformed_every = std::stoull(next());
    else if (a == "--drop-after")
      o.drop_after.push_back(std::stoull(next()));
    else if (a == "--close-1011-after")
      o.close_1011_after.push_back(std::stoull(next()));
    else if (a == "--expire-token-after")
      o.expire_token_after.push_back(std::stoull(next()));
    else if (a == "--token-429")
      o.token_429 = std::stoi(next());
    else if (a == "--retry-after")
      o.retry_after_s = std::stoi(next());
    else if (a == "--cpu")
      o.cpu = std::stoi(next());
    else if (a == "--truth")
      truth_file = next();
    else if (a == "--exit-after-end")
      exit_after_end = true;
    else
      return false;
    return true;
  });
  if (parsed >= 0) return parsed;
  if (exit_after_end && o.total_events == 0) {
    std::cerr << "--exit-after-end needs --events N\n";
    return 2;
  }
  if (o.total_events > 0) o.close_when_done = true;
  try {
    const sigset_t set = prepare(o.tls, o.cert_file, o.key_file, cert_dir);
    cxflow::fake::FakeCxone fake(o);
    std::cerr << "fake CXone listening on port " << fake.port() << "\n"
              << "  token_url:        " << fake.token_url() << "\n"
              << "  subscription_url: " << fake.subscription_url() << "\n"
              << "  events_url:       " << fake.events_url() << "\n";
    if (o.tls) std::cerr << "  ca_file:          " << std::filesystem::absolute(o.cert_file).string() << "\n";
    std::cerr << "  client id/secret: " << o.client_id << " / " << o.client_secret << "\n"
              << "Ctrl+C stops it and prints the ground truth.\n";
    if (exit_after_end) {
      const timespec tick{0, 1'000'000};  // polls the truth every millisecond
      while (sigtimedwait(&set, nullptr, &tick) < 0 && fake.truth().end_closes_acked == 0) {
      }
    } else {
      int sig = 0;
      sigwait(&set, &sig);
    }
    fake.stop();
    write_truth(cxflow::fake::truth_json(fake.truth()), truth_file);
  } catch (const std::exception& e) {
    std::cerr << "cxflow-fake-cxone: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
