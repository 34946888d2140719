#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace cxflow::test {

namespace fs = std::filesystem;

namespace {
std::vector<char*> make_env(const std::vector<std::string>& extra, std::vector<std::string>& storage) {
  storage.clear();
  for (char** e = environ; *e; ++e) storage.emplace_back(*e);
  for (const auto& x : extra) storage.push_back(x);
  std::vector<char*> out;
  for (auto& s : storage) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const fs::path& out,
            const fs::path& err) {
  std::vector<std::string> args_storage(argv);
  std::vector<char*> args;
  for (auto& a : args_storage) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  auto envp = make_env(env, env_storage);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    setpgid(0, 0);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}
int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}
}  // namespace

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          std::chrono::milliseconds timeout) {
  TempDir tmp;
  Child child(argv, tmp.path(), env);
  ProcessResult r;
  auto code = child.wait(timeout);
  if (!code) {
    child.signal(SIGKILL);
    code = child.wait(std::chrono::seconds(5));
    r.err = "[test: process killed after timeout]\n";
  }
  r.exit_code = code.value_or(-1);
  r.out = child.out();
  r.err += child.err();
  return r;
}

Child::Child(const std::vector<std::string>& argv, const fs::path& log_dir, const std::vector<std::string>& env) {
  static int seq = 0;
  const std::string tag = std::to_string(getpid()) + "-" + std::to_string(++seq);
  out_ = log_dir / ("child-" + tag + ".out");
  err_ = log_dir / ("child-" + tag + ".err");
  pid_ = spawn(argv, env, out_, err_);
}

Child::~Child() {
  if (!reaped_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

void Child::signal(int signo) {
  if (!reaped_) kill(pid_, signo);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  if (reaped_) return std::nullopt;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return decode_status(status);
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    struct timespec ts {
      0, 5'000'000
    };
    nanosleep(&ts, nullptr);
  }
}

std::string Child::err() const { return read_file(err_); }
std::string Child::out() const { return read_file(out_); }

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() / ("cxflow-test-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary folder");
}

TempDir::~TempDir() {
  if (std::getenv("CXFLOW_KEEP_TMP")) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path TempDir::write(const std::string& name, const std::string& content) const {
  const fs::path p = path_ / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
  return p;
}

Rows sqlite_query(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    std::string msg = "cannot open " + db.string() + ": " + (h ? sqlite3_errmsg(h) : "?");
    sqlite3_close(h);
    throw std::runtime_error(msg);
  }
  sqlite3_busy_timeout(h, 5000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    std::string msg = std::string("bad query: ") + sqlite3_errmsg(h) + ": " + sql;
    sqlite3_close(h);
    throw std::runtime_error(msg);
  }
  Rows rows;
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      row.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

std::string sqlite_scalar(const fs::path& db, const std::string& sql) {
  Rows r = sqlite_query(db, sql);
  return r.empty() || r[0].empty() ? "" : r[0][0];
}

#ifndef CXFLOW_BIN
#define CXFLOW_BIN ""
#define CXFLOW_PLUGIN_DIR ""
#define CXFLOW_SOURCE_DIR ""
#endif
std::string cxflow_bin() {
  if (const char* e = std::getenv("CXFLOW_TEST_BIN")) return e;
  return CXFLOW_BIN;
}
std::string plugin_dir() {
  if (const char* e = std::getenv("CXFLOW_TEST_PLUGIN_DIR")) return e;
  return CXFLOW_PLUGIN_DIR;
}
std::string source_dir() { return CXFLOW_SOURCE_DIR; }

}  // namespace cxflow::test
