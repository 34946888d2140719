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

#include "fake_cxone.hpp"

namespace {

void usage() {
  std::cerr <<
      "usage: cxflow-fake-cxone [options]\n"
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
      "Stops on SIGINT/SIGTERM and prints the ground truth as JSON on stdout.\n";
}

}  // namespace

int main(int argc, char** argv) {
  cxflow::fake::FakeOptions o;
  o.port = 8443;
  o.events_per_second = 200;
  o.start_time_ms = static_cast<std::int64_t>(std::time(nullptr)) * 1000;
  o.close_when_done = false;
  std::string cert_dir = "fake-cxone-tls", truth_file;
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
      if (a == "--port") o.port = static_cast<unsigned short>(std::stoi(next()));
      else if (a == "--plain") o.tls = false;
      else if (a == "--cert") o.cert_file = next();
      else if (a == "--key") o.key_file = next();
      else if (a == "--cert-dir") cert_dir = next();
      else if (a == "--client-id") o.client_id = next();
      else if (a == "--client-secret") o.client_secret = next();
      else if (a == "--events") o.total_events = std::stoull(next());
      else if (a == "--rate") o.events_per_second = std::stoll(next());
      else if (a == "--interval-ms") o.interval_ms = std::stoll(next());
      else if (a == "--start-ms") o.start_time_ms = std::stoll(next());
      else if (a == "--token-lifetime") o.token_lifetime_s = std::stoll(next());
      else if (a == "--malformed-every") o.malformed_every = std::stoull(next());
      else if (a == "--drop-after") o.drop_after.push_back(std::stoull(next()));
      else if (a == "--close-1011-after") o.close_1011_after.push_back(std::stoull(next()));
      else if (a == "--expire-token-after") o.expire_token_after.push_back(std::stoull(next()));
      else if (a == "--token-429") o.token_429 = std::stoi(next());
      else if (a == "--retry-after") o.retry_after_s = std::stoi(next());
      else if (a == "--cpu") o.cpu = std::stoi(next());
      else if (a == "--truth") truth_file = next();
      else if (a == "--help" || a == "-h") {
        usage();
        return 0;
      } else {
        std::cerr << "unknown option " << a << "\n";
        usage();
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "bad value for " << a << "\n";
      return 2;
    }
  }
  if (o.total_events > 0) o.close_when_done = true;
  try {
    if (o.tls && (o.cert_file.empty() || o.key_file.empty())) {
      std::filesystem::create_directories(cert_dir);
      auto [cert, key] = cxflow::fake::make_test_certificate(cert_dir);
      o.cert_file = cert;
      o.key_file = key;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server thread starts
    cxflow::fake::FakeCxone fake(o);
    std::cerr << "fake CXone listening on port " << fake.port() << "\n"
              << "  token_url:        " << fake.token_url() << "\n"
              << "  subscription_url: " << fake.subscription_url() << "\n"
              << "  events_url:       " << fake.events_url() << "\n";
    if (o.tls) std::cerr << "  ca_file:          " << std::filesystem::absolute(o.cert_file).string() << "\n";
    std::cerr << "  client id/secret: " << o.client_id << " / " << o.client_secret << "\n"
              << "Ctrl+C stops it and prints the ground truth.\n";
    int sig = 0;
    sigwait(&set, &sig);
    fake.stop();
    const std::string j = cxflow::fake::truth_json(fake.truth());
    std::cout << j << std::endl;
    if (!truth_file.empty()) {
      if (FILE* f = std::fopen(truth_file.c_str(), "w")) {
        std::fputs((j + "\n").c_str(), f);
        std::fclose(f);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "cxflow-fake-cxone: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
