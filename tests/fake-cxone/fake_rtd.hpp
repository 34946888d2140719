// A fake NICE CXone Real-Time Data API (issue #6; wire contract: see plugins/source-cxone/README.md
// and the shared contract it follows). One host:port serves OIDC discovery, the token endpoint
// (password and refresh_token grants), the access-key endpoint, cxone-configuration discovery and
// GET {api}/inContactAPI/services/vNN.0/{agents/states, contacts/active, skills/activity,
// contact-state-descriptions} with updatedSince, top/skip paging, _links.next and lastPollTime,
// in the current layout or the older resultSet/PascalCase one.
//
// Behind it runs a deterministic (for a seed) contact-center model on a simulated clock: skills
// with Poisson arrivals, agents that answer, talk (log-normal), hold, wrap up and take breaks,
// callers that abandon when their patience runs out. The model runs on the fake's io thread;
// every request first advances it to "now" and then reads one consistent state.
//
// Ground truth (truth()) lists every contact that ended, every agent state change, requests per
// path and status, pages, faults fired and tokens issued, so tests can compare what a client
// derived with what happened.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cxflow::fake {

struct RtdOptions {
  bool tls = true;
  std::string cert_file, key_file;  // PEM (tls)
  std::string bind = "127.0.0.1";
  unsigned short port = 0;  // 0 = any free port
  int cpu = -1;             // pin the io thread (benchmarks); -1 = no pinning

  // Credentials (what the fake accepts).
  std::string client_id = "test-client";
  std::string client_secret = "test-secret";
  std::string access_key_id = "test-access-key";
  std::string access_key_secret = "test-access-secret";
  std::string client_auth = "both";      // basic | post | both: how /auth/token accepts client credentials
  std::int64_t token_lifetime_s = 3600;  // wall-clock seconds; an expired access token gets 401
  std::string tenant_id = "11eb0000-aaaa-bbbb-cccc-000000000001";
  std::int64_t business_unit_id = 4600001;
  std::string area = "na1";
  std::string cluster = "C32";

  // Layout and "no change" answer.
  bool legacy_layout = false;    // {"resultSet":{...}} with PascalCase row keys and LastPollTime
  int no_change_status = 304;    // 304 | 204 | 200 (200 = an empty array)
  std::int64_t default_top = 0;  // rows per page when the request has no `top` (0 = all)

  // Simulated clock: now = start_time_ms + speed * wall ms since start + manual advances.
  std::int64_t start_time_ms = 1'767'600'000'000;  // 2026-01-05T08:00:00Z
  double speed = 1.0;                              // 0 = the clock moves only by advance_ms()

  // Model (deterministic for a seed).
  std::uint64_t seed = 1;
  int skills = 3;                    // "Sales", "Support", "Billing", then "Skill N"
  int agents = 10;                   // each agent has every skill
  double arrivals_per_minute = 0.6;  // per skill (Poisson)
  std::uint64_t max_contacts = 0;    // arrivals stop after this many (0 = never), so the model drains
  double handle_median_s = 180;      // talk time: log-normal with this median
  double handle_sigma = 0.5;
  double hold_probability = 0.3;          // a hold segment in the middle of the talk time
  double acw_min_s = 10, acw_max_s = 40;  // wrap-up (the contact ends after ACW)
  double ring_min_s = 2, ring_max_s = 8;  // assignment -> agent answers (the contact still waits)
  double patience_mean_s = 120;           // exponential; queued longer -> abandoned
  double break_probability = 0.1;         // after wrap-up, Unavailable for a while
  double break_min_s = 60, break_max_s = 300;
  std::int64_t end_state_linger_ms = 30'000;  // ended contacts stay as EndContact this long (0 = vanish)
  int service_level_threshold_s = 30;
  int service_level_goal = 80;

  // Faults (all counted in the truth).
  int token_429 = 0;                                     // the first N token requests (either endpoint) answer 429
  std::optional<int> token_retry_after_s;                // ... with Retry-After: N
  std::uint64_t api_fault_after = 0;                     // API faults below start after this many API requests
  int api_429 = 0;                                       // then N API requests answer 429
  std::optional<int> api_retry_after_s;                  // ... with Retry-After: N
  int api_500 = 0;                                       // then N API requests answer 500
  int hang_pages = 0;                                    // N page requests (skip > 0) never answer (held open)
  int shift_pages = 0;                                   // N page requests (skip > 0) of contacts/active first
                                                         // remove a row of the earlier pages and add a new one:
                                                         // a lingering ended contact (the truth is unchanged;
                                                         // waits for one), or with linger 0 a live one ends now
  std::vector<std::uint64_t> revoke_after_api_requests;  // revoke every token after K API requests
};

// One contact that ended (arrived, then was handled or abandoned). Times in epoch ms (simulated).
struct RtdContact {
  std::int64_t contact_id = 0;
  int skill_id = 0;
  std::string skill;
  std::int64_t contact_start_ms = 0;
  std::optional<std::int64_t> agent_start_ms;  // nullopt: abandoned
  std::int64_t end_ms = 0;
  bool abandoned = false;
  std::int64_t agent_id = 0;  // 0 when abandoned
};

struct RtdAgentChange {
  std::int64_t agent_id = 0;
  std::int64_t time_ms = 0;
  std::string state;   // agentStateName
  std::string reason;  // outStateDescription ("" unless Unavailable)
  bool acw = false;
};

struct RtdTruth {
  std::int64_t now_ms = 0;        // simulated now when the snapshot was taken
  std::vector<RtdContact> ended;  // in end order
  std::uint64_t contacts_arrived = 0;
  std::uint64_t contacts_active = 0;  // arrived, not ended yet
  std::vector<RtdAgentChange> agent_changes;
  std::map<std::string, std::uint64_t> requests;    // "GET /path 200" -> count (path without query)
  std::uint64_t api_requests = 0;                   // requests to the inContactAPI paths
  std::uint64_t pages = 0;                          // 200 answers of an API list path
  std::uint64_t pages_after_first = 0;              // ... with skip > 0
  std::map<std::string, std::uint64_t> full_reads;  // list path ("contacts/active") -> reads begun
                                                    // without updatedSince (first page, skip 0)
  std::uint64_t no_change = 0;                      // 304/204/empty-200 answers to an updatedSince read
  std::uint64_t tokens_issued = 0;                  // password grant + access-key endpoint
  std::uint64_t tokens_refreshed = 0;               // refresh_token grant
  std::uint64_t token_requests = 0;
  std::uint64_t token_429_sent = 0;
  std::uint64_t token_401 = 0, token_400 = 0;
  std::uint64_t api_401 = 0, api_406 = 0, api_429_sent = 0, api_500_sent = 0;
  std::uint64_t hung = 0;     // page requests left unanswered
  std::uint64_t shifted = 0;  // rows removed/inserted between pages
  std::uint64_t revocations = 0;
  std::uint64_t expired_token_uses = 0;  // requests with an access token past its lifetime
};

class FakeRtd {
 public:
  explicit FakeRtd(RtdOptions options);
  ~FakeRtd();
  FakeRtd(const FakeRtd&) = delete;
  FakeRtd& operator=(const FakeRtd&) = delete;

  unsigned short port() const;
  std::string base_url() const;  // "https://localhost:PORT" (issuer, auth and API endpoint)
  std::string api_url() const { return base_url() + "/inContactAPI/services/v30.0"; }
  const RtdOptions& options() const;

  // Advances the simulated clock by `ms` (on the io thread; returns when done).
  void advance_ms(std::int64_t ms);
  std::int64_t now_ms() const;
  // Faults on demand.
  void revoke_tokens();
  void fail_next(int status, int n, std::optional<int> retry_after_s = std::nullopt);  // 429 or 500
  void hang_next_pages(int n);
  void shift_next_pages(int n);
  // Contacts arrive no more (the model drains).
  void stop_arrivals();

  RtdTruth truth() const;
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Ground truth as JSON (for the tool): counters, the ended contacts and agent changes.
std::string rtd_truth_json(const RtdTruth& t);

}  // namespace cxflow::fake
