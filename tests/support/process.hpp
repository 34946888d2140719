// Test helpers: run the real cxflow binary, make temporary folders, read SQLite results.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cxflow::test {

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128+signal when killed by a signal
  std::string out;
  std::string err;
};

// Runs `argv` to completion (killed after `timeout`). `env` entries are added to the
// environment ("NAME=value").
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                          std::chrono::milliseconds timeout = std::chrono::minutes(3));

// A child process whose stderr/stdout go to files, for tests that signal it mid-run.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const std::filesystem::path& log_dir,
        const std::vector<std::string>& env = {});
  ~Child();
  pid_t pid() const { return pid_; }
  void signal(int signo);
  // Waits for exit; returns exit code (128+signal if signalled), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  std::string err() const;
  std::string out() const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_, err_;
  bool reaped_ = false;
};

// Waits until `pred` is true, polling every 10 ms, up to `timeout`. Returns pred's last value.
template <class Pred>
bool wait_for(Pred pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    struct timespec ts {
      0, 10'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

// A fresh folder under the system temp dir, removed at destruction (kept if CXFLOW_KEEP_TMP is set).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Writes a file inside the folder and returns its path.
  std::filesystem::path write(const std::string& name, const std::string& content) const;

 private:
  std::filesystem::path path_;
};

// Rows of a query as text (NULL -> "").
using Rows = std::vector<std::vector<std::string>>;
Rows sqlite_query(const std::filesystem::path& db, const std::string& sql);
// The first column of the first row, as a string ("" if none).
std::string sqlite_scalar(const std::filesystem::path& db, const std::string& sql);

std::string read_file(const std::filesystem::path& p);

// Paths compiled in by cxflow_add_test.
std::string cxflow_bin();
std::string plugin_dir();
std::string source_dir();

}  // namespace cxflow::test
