// Fails when the public plugin-api headers change without an ABI version bump.
//
// plugin-api/abi.lock maps each ABI version to the SHA-256 of the public headers with comments
// and whitespace removed (so documentation edits don't count). A header change that alters code
// yields a new hash: bump CXFLOW_ABI_VERSION and append a line; never rewrite an old one.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "cxflow/version.hpp"
#include "process.hpp"

namespace fs = std::filesystem;

namespace {

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

std::string strip_comments_and_space(const std::string& in) {
  std::string out;
  bool pending_space = false;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in.compare(i, 2, "//") == 0) {
      i = in.find('\n', i);
      if (i == std::string::npos) break;
      pending_space = true;
      continue;
    }
    if (in.compare(i, 2, "/*") == 0) {
      i = in.find("*/", i + 2);
      if (i == std::string::npos) break;
      ++i;
      pending_space = true;
      continue;
    }
    if (in[i] == '"') {  // keep string literals verbatim (they may contain "//")
      const std::size_t start = i++;
      while (i < in.size() && in[i] != '"') i += in[i] == '\\' ? 2 : 1;
      pending_space = false;
      out += in.substr(start, i - start + 1);
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(in[i]))) {
      pending_space = true;
      continue;
    }
    // A space is kept only where it separates two words ("const int"), so reformatting the
    // headers ("Foo& x" vs "Foo &x", line breaks) never changes the hash (since ABI 9).
    if (pending_space && !out.empty() && is_word_char(out.back()) && is_word_char(in[i])) out += ' ';
    pending_space = false;
    out += in[i];
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string headers_hash() {
  const fs::path dir = fs::path(cxflow::test::source_dir()) / "plugin-api" / "include" / "cxflow";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".hpp" && e.path().filename() != "testing.hpp") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string all;
  for (const auto& f : files) {
    std::string text = cxflow::test::read_file(f);
    // The version number itself is what the lock records; it is not part of the hashed code.
    if (f.filename() == "version.hpp") {
      const auto p = text.find("#define CXFLOW_ABI_VERSION");
      text.erase(p, text.find('\n', p) - p);
    }
    all += f.filename().string() + "\n" + strip_comments_and_space(text) + "\n";
  }
  return sha256_hex(all);
}

}  // namespace

TEST(AbiLock, PublicHeadersMatchTheRecordedHashForThisAbiVersion) {
  const fs::path lock = fs::path(cxflow::test::source_dir()) / "plugin-api" / "abi.lock";
  std::istringstream in(cxflow::test::read_file(lock));
  std::map<unsigned, std::string> recorded;
  unsigned last = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream l(line);
    unsigned v;
    std::string h;
    ASSERT_TRUE(l >> v >> h) << "bad line in abi.lock: " << line;
    ASSERT_GT(v, last) << "abi.lock versions must increase; never rewrite an existing line";
    last = v;
    recorded[v] = h;
  }
  const std::string now = headers_hash();
  const unsigned v = cxflow::kAbiVersion;
  ASSERT_TRUE(recorded.count(v)) << "plugin-api/abi.lock has no line for ABI version " << v << "; append: " << v << " "
                                 << now;
  EXPECT_EQ(recorded[v], now) << "the public headers under plugin-api/include/cxflow changed since ABI version " << v
                              << " was recorded. Plugins built against the old headers would load and misbehave. Bump "
                                 "CXFLOW_ABI_VERSION in version.hpp to "
                              << v + 1 << " and append to plugin-api/abi.lock: " << v + 1 << " " << now;
}

TEST(AbiLock, CommentOnlyChangesDoNotCount) {
  EXPECT_EQ(strip_comments_and_space("int a; // x\n/* y */ int  b;"), strip_comments_and_space("int a;\nint b; // z"));
  EXPECT_NE(strip_comments_and_space("int a;"), strip_comments_and_space("long a;"));
  EXPECT_EQ(strip_comments_and_space("const char* s = \"a // b\";"), "const char*s=\"a // b\";");
}

TEST(AbiLock, FormattingOnlyChangesDoNotCount) {
  EXPECT_EQ(strip_comments_and_space("void f(Foo &x,\n       int y) const;"),
            strip_comments_and_space("void f(Foo& x, int y) const;"));
  EXPECT_EQ(strip_comments_and_space("struct A {\n  int b;\n};"), strip_comments_and_space("struct A { int b; };"));
  EXPECT_NE(strip_comments_and_space("unsigned int x;"), strip_comments_and_space("unsignedint x;"));
}
