#include "yaml_loader.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace cxflow::host {

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

bool expand_env(const std::string& text, const EnvLookup& env, std::string& out, std::string& error) {
  out.clear();
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '$') {
      out += c;
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (i + 1 >= text.size() || text[i + 1] != '{') {
      out += c;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string::npos) {
      error = "unterminated '${' in value (write '$$' for a literal '$')";
      return false;
    }
    const std::string body = text.substr(i + 2, close - i - 2);
    std::string name = body, op, arg;
    if (const std::size_t p = body.find(":-"); p != std::string::npos) {
      name = body.substr(0, p);
      op = ":-";
      arg = body.substr(p + 2);
    } else if (const std::size_t q = body.find(":?"); q != std::string::npos) {
      name = body.substr(0, q);
      op = ":?";
      arg = body.substr(q + 2);
    }
    bool valid = !name.empty();
    for (char ch : name) valid = valid && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
    if (!valid) {
      error = "invalid variable reference '${" + body + "}': expected ${NAME}, ${NAME:-default} or ${NAME:?message}";
      return false;
    }
    const auto value = env(name);
    if (value && !(op.size() && value->empty())) {
      out += *value;
    } else if (op == ":-") {
      out += arg;
    } else if (op == ":?") {
      error = "environment variable " + name + " is required: " + (arg.empty() ? "not set" : arg);
      return false;
    } else if (value) {
      out += *value;
    } else {
      error = "environment variable " + name + " is not set (use ${" + name + ":-default} to give a default)";
      return false;
    }
    i = close;
  }
  return true;
}

namespace {

namespace fs = std::filesystem;

SourcePos pos_of(const YAML::Mark& m, const std::string& file) {
  if (m.line < 0) return SourcePos{file, 0, 0};
  return SourcePos{file, m.line + 1, m.column + 1};
}

// yaml-cpp -> ConfigNode. yaml-cpp keeps an alias as a second reference to the anchored node, so
// the tree it returns is small even for an alias bomb; this copy is where `&a [*b, *b, ...]`
// would multiply. Every value and every byte of scalar text is counted against the limits, and
// the walk stops at the first one exceeded.
class Converter {
 public:
  Converter(const std::string& file, const EnvLookup& env, std::vector<ConfigError>& errors)
      : file_(file), env_(env), errors_(errors) {}

  bool over() const { return over_; }

  ConfigNode convert(const YAML::Node& n, std::size_t depth) {
    ConfigNode out;
    out.pos = pos_of(n.Mark(), file_);
    if (over_) return out;
    if (++values_ > kMaxConfigValues) {
      refuse(out.pos, "the document expands to more than " + std::to_string(kMaxConfigValues) +
                          " values; a YAML alias (*name) repeated inside repeated aliases multiplies them "
                          "('billion laughs'); a pipeline needs a few hundred");
      return out;
    }
    if (depth > kMaxConfigDepth) {
      refuse(out.pos, "maps and lists nested deeper than " + std::to_string(kMaxConfigDepth) + " levels");
      return out;
    }
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = ConfigNode::Kind::Null;
        break;
      case YAML::NodeType::Scalar: {
        out.kind = ConfigNode::Kind::Scalar;
        // A quoted scalar's mark is its opening quote; point at the content, so columns computed
        // inside the value (a condition, an expression) land on the right character.
        if (n.Tag() == "!" && out.pos.column > 0) out.pos.column += 1;
        std::string error;
        if (!expand_env(n.Scalar(), env_, out.scalar, error)) errors_.push_back(ConfigError{out.pos, "", error});
        text_bytes_ += out.scalar.size();
        if (text_bytes_ > kMaxConfigTextBytes)
          refuse(out.pos, "the document's text expands to more than " + std::to_string(kMaxConfigTextBytes >> 20) +
                              " MiB (YAML aliases or ${VAR} values repeating a long value)");
        break;
      }
      case YAML::NodeType::Sequence:
        out.kind = ConfigNode::Kind::Sequence;
        for (const auto& item : n) {
          out.items.push_back(convert(item, depth + 1));
          if (over_) break;
        }
        break;
      case YAML::NodeType::Map:
        out.kind = ConfigNode::Kind::Map;
        for (const auto& kv : n) {
          const SourcePos kpos = pos_of(kv.first.Mark(), file_);
          if (!kv.first.IsScalar()) {
            errors_.push_back(ConfigError{kpos, "", "map keys must be plain strings"});
            continue;
          }
          out.keys.push_back(kv.first.Scalar());
          out.key_pos.push_back(kpos);
          text_bytes_ += out.keys.back().size();
          ConfigNode v = convert(kv.second, depth + 1);
          if (v.is_null() && v.pos.line == 0) v.pos = kpos;
          out.items.push_back(std::move(v));
          if (over_) break;
        }
        break;
    }
    return out;
  }

 private:
  void refuse(const SourcePos& pos, std::string message) {
    over_ = true;
    errors_.push_back(ConfigError{pos, "", std::move(message)});
  }

  const std::string& file_;
  const EnvLookup& env_;
  std::vector<ConfigError>& errors_;
  std::size_t values_ = 0;
  std::size_t text_bytes_ = 0;
  bool over_ = false;
};

// The last line at or before `line` (1-based) whose indentation holds a tab, with the tab's
// column; {0, 0} if none. yaml-cpp reports such a line as "illegal map value" or "end of map not
// found"; the cause is the tab.
std::pair<int, int> tab_in_indentation(const std::string& text, int line) {
  std::pair<int, int> found{0, 0};
  int n = 1;
  for (std::size_t i = 0; i < text.size() && n <= line; ++n) {
    const std::size_t end = std::min(text.find('\n', i), text.size());
    std::size_t j = i;
    while (j < end && text[j] == ' ') ++j;
    // yaml-cpp refuses a tab-indented blank line too ("illegal tab when looking for indentation").
    if (j < end && text[j] == '\t') found = {n, static_cast<int>(j - i) + 1};
    i = end + 1;
  }
  return found;
}

}  // namespace

ConfigNode parse_yaml(const std::string& text, const std::string& file, const EnvLookup& env,
                      std::vector<ConfigError>& errors) {
  if (text.size() > kMaxPipelineFileBytes) {
    errors.push_back(ConfigError{SourcePos{file, 0, 0}, "",
                                 "the pipeline is " + std::to_string(text.size()) + " bytes, more than the " +
                                     std::to_string(kMaxPipelineFileBytes >> 20) + " MiB a pipeline file may be"});
    return ConfigNode{};
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own message for this is "bad file".
    errors.push_back(ConfigError{pos_of(e.mark, file), "",
                                 "invalid YAML: maps and lists nested too deeply (cxflow allows " +
                                     std::to_string(kMaxConfigDepth) + " levels)"});
    return ConfigNode{};
  } catch (const YAML::Exception& e) {
    const SourcePos at = pos_of(e.mark, file);
    if (const auto [line, column] = tab_in_indentation(text, at.line > 0 ? at.line : 1 << 30); line > 0) {
      errors.push_back(ConfigError{SourcePos{file, line, column}, "",
                                   "invalid YAML: a tab in the indentation; YAML indents with spaces only, replace "
                                   "the tab with spaces (the parser said: " +
                                       e.msg + " at line " + std::to_string(at.line) + ")"});
    } else {
      errors.push_back(ConfigError{at, "", "invalid YAML: " + e.msg});
    }
    return ConfigNode{};
  }
  Converter c(file, env, errors);
  ConfigNode out = c.convert(root, 0);
  return c.over() ? ConfigNode{} : out;
}

ConfigNode load_yaml_file(const std::string& path, const EnvLookup& env, std::vector<ConfigError>& errors) {
  const SourcePos at{path, 0, 0};
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    errors.push_back(ConfigError{at, "", "cannot read pipeline file: no such file"});
    return ConfigNode{};
  }
  if (fs::is_directory(st)) {
    std::string msg = "is a directory, not a pipeline file; give the path of a .yaml file";
    std::vector<std::string> yamls;
    for (const auto& e : fs::directory_iterator(path, ec)) {
      const auto ext = e.path().extension();
      if (ext == ".yaml" || ext == ".yml") yamls.push_back(e.path().string());
    }
    std::sort(yamls.begin(), yamls.end());
    if (!yamls.empty()) {
      msg += ", e.g. " + quote_value(yamls[0], 200);
      if (yamls.size() > 1) msg += " (" + std::to_string(yamls.size()) + " in that directory)";
    }
    errors.push_back(ConfigError{at, "", msg});
    return ConfigNode{};
  }
  if (fs::is_regular_file(st)) {
    const auto size = fs::file_size(path, ec);
    if (!ec && size > kMaxPipelineFileBytes) {
      errors.push_back(ConfigError{at, "",
                                   "the pipeline file is " + std::to_string(size) + " bytes, more than the " +
                                       std::to_string(kMaxPipelineFileBytes >> 20) +
                                       " MiB a pipeline file may be; is it the right file?"});
      return ConfigNode{};
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back(ConfigError{at, "", std::string("cannot read pipeline file: ") + std::strerror(errno)});
    return ConfigNode{};
  }
  // Not a regular file (a pipe, /dev/stdin): read at most one byte past the limit.
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxPipelineFileBytes) break;
  }
  if (in.bad()) {
    errors.push_back(ConfigError{at, "", std::string("cannot read pipeline file: ") + std::strerror(errno)});
    return ConfigNode{};
  }
  return parse_yaml(text, path, env, errors);
}

}  // namespace cxflow::host
