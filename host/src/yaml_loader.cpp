#include "yaml_loader.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

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

SourcePos pos_of(const YAML::Mark& m, const std::string& file) {
  if (m.line < 0) return SourcePos{file, 0, 0};
  return SourcePos{file, m.line + 1, m.column + 1};
}

ConfigNode convert(const YAML::Node& n, const std::string& file, const EnvLookup& env, std::vector<ConfigError>& errors) {
  ConfigNode out;
  out.pos = pos_of(n.Mark(), file);
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
      if (!expand_env(n.Scalar(), env, out.scalar, error)) errors.push_back(ConfigError{out.pos, "", error});
      break;
    }
    case YAML::NodeType::Sequence:
      out.kind = ConfigNode::Kind::Sequence;
      for (const auto& item : n) out.items.push_back(convert(item, file, env, errors));
      break;
    case YAML::NodeType::Map:
      out.kind = ConfigNode::Kind::Map;
      for (const auto& kv : n) {
        const SourcePos kpos = pos_of(kv.first.Mark(), file);
        if (!kv.first.IsScalar()) {
          errors.push_back(ConfigError{kpos, "", "map keys must be plain strings"});
          continue;
        }
        out.keys.push_back(kv.first.Scalar());
        out.key_pos.push_back(kpos);
        ConfigNode v = convert(kv.second, file, env, errors);
        if (v.is_null() && v.pos.line == 0) v.pos = kpos;
        out.items.push_back(std::move(v));
      }
      break;
  }
  return out;
}

}  // namespace

ConfigNode parse_yaml(const std::string& text, const std::string& file, const EnvLookup& env,
                      std::vector<ConfigError>& errors) {
  try {
    const YAML::Node root = YAML::Load(text);
    return convert(root, file, env, errors);
  } catch (const YAML::Exception& e) {
    errors.push_back(ConfigError{pos_of(e.mark, file), "", "invalid YAML: " + e.msg});
  }
  return ConfigNode{};
}

ConfigNode load_yaml_file(const std::string& path, const EnvLookup& env, std::vector<ConfigError>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back(ConfigError{SourcePos{path, 0, 0}, "", "cannot read pipeline file"});
    return ConfigNode{};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_yaml(ss.str(), path, env, errors);
}

}  // namespace cxflow::host
