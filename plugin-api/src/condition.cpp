#include "cxflow/condition.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

namespace cxflow {

struct Condition::Node {
  enum class Op { And, Or, Not, Exists, Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };
  Op op = Op::Exists;
  std::vector<std::shared_ptr<const Node>> children;  // And, Or, Not
  FieldId field = kNoField;
  std::vector<Value> values;  // constants (one, or the list for In/NotIn)
};

namespace {

// How deep '(' and 'not' may nest (documented in condition.hpp).
constexpr std::size_t kMaxConditionDepth = 64;

using NodePtr = std::shared_ptr<const Condition::Node>;
using Op = Condition::Node::Op;

struct Token {
  enum class Kind { Word, String, Number, Op, LParen, RParen, LBracket, RBracket, Comma, End } kind;
  std::string text;
  std::size_t offset;
};

class Parser {
 public:
  Parser(std::string_view text, const std::function<FieldId(std::string_view)>& field, const SourcePos& pos)
      : text_(text), field_(field), pos_(pos) {
    tokenize();
  }

  NodePtr parse() {
    NodePtr n = parse_or();
    if (peek().kind != Token::Kind::End) fail("unexpected " + shown(peek()), peek().offset);
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what, std::size_t offset) const {
    SourcePos p = pos_;
    if (p.line > 0) p.column += static_cast<int>(offset);
    throw ConfigException(
        p, "in condition " + quote_value_at(text_, offset) + ": " + what +
               " (expected e.g. 'metrics.waitTime <= 20', 'metadata.queue in [a, b]', 'exists agentId')");
  }
  // Words and strings from the text, bounded for a message.
  static std::string shown(const Token& t) {
    return t.kind == Token::Kind::End ? "the end of the condition" : quote_value(t.text);
  }

  // The parser recurses once per '(' and per 'not': past kMaxDepth the condition is refused
  // (20,000 parentheses overflowed the stack), which also bounds the tree eval() walks.
  struct DepthGuard {
    DepthGuard(Parser& p, std::size_t offset) : parser(p) {
      if (++parser.depth_ > kMaxConditionDepth)
        parser.fail("nested deeper than " + std::to_string(kMaxConditionDepth) +
                        " levels of '(' and 'not'; write it flatter (a or b or c needs no parentheses)",
                    offset);
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  void tokenize() {
    std::size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      const std::size_t start = i;
      if (c == '(')
        tokens_.push_back({Token::Kind::LParen, "(", i++});
      else if (c == ')')
        tokens_.push_back({Token::Kind::RParen, ")", i++});
      else if (c == '[')
        tokens_.push_back({Token::Kind::LBracket, "[", i++});
      else if (c == ']')
        tokens_.push_back({Token::Kind::RBracket, "]", i++});
      else if (c == ',')
        tokens_.push_back({Token::Kind::Comma, ",", i++});
      else if (c == '\'' || c == '"') {
        const std::size_t close = text_.find(c, i + 1);
        if (close == std::string_view::npos) fail("unterminated string", i);
        tokens_.push_back({Token::Kind::String, std::string(text_.substr(i + 1, close - i - 1)), start});
        i = close + 1;
      } else if (c == '=' || c == '!' || c == '<' || c == '>') {
        std::string op(1, c);
        if (i + 1 < text_.size() && text_[i + 1] == '=') op += '=';
        if (op == "!") fail("'!' must be '!='", i);
        if (op == "=") op = "==";
        i += (text_.size() > i + 1 && text_[i + 1] == '=') ? 2 : 1;
        tokens_.push_back({Token::Kind::Op, op, start});
      } else {
        while (i < text_.size() && !std::isspace(static_cast<unsigned char>(text_[i])) &&
               std::string_view("()[],=!<>'\"").find(text_[i]) == std::string_view::npos)
          ++i;
        std::string w(text_.substr(start, i - start));
        char* end = nullptr;
        std::strtod(w.c_str(), &end);
        const bool numeric =
            !w.empty() && end == w.c_str() + w.size() &&
            (std::isdigit(static_cast<unsigned char>(w[0])) || w[0] == '-' || w[0] == '.' || w[0] == '+');
        tokens_.push_back({numeric ? Token::Kind::Number : Token::Kind::Word, w, start});
      }
    }
    tokens_.push_back({Token::Kind::End, "end of condition", text_.size()});
  }

  const Token& peek() const { return tokens_[pos_i_]; }
  const Token& next() { return tokens_[pos_i_ < tokens_.size() - 1 ? pos_i_++ : pos_i_]; }
  bool word(const char* w) const { return peek().kind == Token::Kind::Word && peek().text == w; }

  NodePtr parse_or() {
    NodePtr left = parse_and();
    if (!word("or")) return left;
    auto n = std::make_shared<Condition::Node>();
    n->op = Op::Or;
    n->children.push_back(left);
    while (word("or")) {
      next();
      n->children.push_back(parse_and());
    }
    return n;
  }
  NodePtr parse_and() {
    NodePtr left = parse_unary();
    if (!word("and")) return left;
    auto n = std::make_shared<Condition::Node>();
    n->op = Op::And;
    n->children.push_back(left);
    while (word("and")) {
      next();
      n->children.push_back(parse_unary());
    }
    return n;
  }
  NodePtr parse_unary() {
    if (word("not")) {
      const DepthGuard guard(*this, peek().offset);
      next();
      auto n = std::make_shared<Condition::Node>();
      n->op = Op::Not;
      n->children.push_back(parse_unary());
      return n;
    }
    if (peek().kind == Token::Kind::LParen) {
      const DepthGuard guard(*this, peek().offset);
      next();
      NodePtr inner = parse_or();
      if (peek().kind != Token::Kind::RParen) fail("missing ')'", peek().offset);
      next();
      return inner;
    }
    if (word("exists")) {
      next();
      auto n = std::make_shared<Condition::Node>();
      n->op = Op::Exists;
      n->field = field_name();
      return n;
    }
    return parse_comparison();
  }
  FieldId field_name() {
    const Token& t = peek();
    if (t.kind != Token::Kind::Word || t.text == "and" || t.text == "or" || t.text == "not")
      fail("expected a field name, found " + shown(t), t.offset);
    next();
    return field_(t.text);
  }
  Value constant() {
    const Token& t = next();
    switch (t.kind) {
      case Token::Kind::Number: {
        if (t.text.find_first_of(".eE") == std::string::npos) {
          char* end = nullptr;
          const long long v = std::strtoll(t.text.c_str(), &end, 10);
          if (end == t.text.c_str() + t.text.size()) return Value(static_cast<std::int64_t>(v));
        }
        return Value(std::strtod(t.text.c_str(), nullptr));
      }
      case Token::Kind::String:
        return Value(t.text);
      case Token::Kind::Word:
        if (t.text == "true") return Value(true);
        if (t.text == "false") return Value(false);
        return Value(t.text);
      default:
        fail("expected a value, found " + shown(t), t.offset);
    }
  }
  NodePtr parse_comparison() {
    auto n = std::make_shared<Condition::Node>();
    n->field = field_name();
    const Token& t = peek();
    if (t.kind == Token::Kind::Op) {
      next();
      if (t.text == "==")
        n->op = Op::Eq;
      else if (t.text == "!=")
        n->op = Op::Ne;
      else if (t.text == "<")
        n->op = Op::Lt;
      else if (t.text == "<=")
        n->op = Op::Le;
      else if (t.text == ">")
        n->op = Op::Gt;
      else
        n->op = Op::Ge;
      n->values.push_back(constant());
      return n;
    }
    if (word("exists")) {
      next();
      n->op = Op::Exists;
      return n;
    }
    bool negate = false;
    if (word("not")) {
      next();
      negate = true;
    }
    if (!word("in")) fail("expected an operator (==, !=, <, <=, >, >=, in, not in) after the field", peek().offset);
    next();
    n->op = negate ? Op::NotIn : Op::In;
    if (peek().kind != Token::Kind::LBracket) fail("expected '[' after 'in'", peek().offset);
    next();
    while (peek().kind != Token::Kind::RBracket) {
      n->values.push_back(constant());
      if (peek().kind == Token::Kind::Comma)
        next();
      else if (peek().kind != Token::Kind::RBracket)
        fail("expected ',' or ']' in the list", peek().offset);
    }
    next();
    return n;
  }

  std::string_view text_;
  const std::function<FieldId(std::string_view)>& field_;
  SourcePos pos_;
  std::vector<Token> tokens_;
  std::size_t pos_i_ = 0;
  std::size_t depth_ = 0;
};

// -1, 0, 1, or 2 when incomparable.
int compare(const Value& a, const Value& b) {
  const auto* as = std::get_if<std::string>(&a);
  const auto* bs = std::get_if<std::string>(&b);
  if (as && bs) return *as < *bs ? -1 : (*as == *bs ? 0 : 1);
  if (as || bs) {
    // A string field against a number constant: compare the text with the number's text.
    if (as && std::holds_alternative<std::int64_t>(b)) return *as == to_text(b) ? 0 : 2;
    return 2;
  }
  const auto x = as_number(a), y = as_number(b);
  if (!x || !y) return 2;
  return *x < *y ? -1 : (*x == *y ? 0 : 1);
}

bool eval(const Condition::Node& n, const Event& e) {
  switch (n.op) {
    case Op::And:
      for (const auto& c : n.children)
        if (!eval(*c, e)) return false;
      return true;
    case Op::Or:
      for (const auto& c : n.children)
        if (eval(*c, e)) return true;
      return false;
    case Op::Not:
      return !eval(*n.children[0], e);
    default:
      break;
  }
  const Value* v = e.get(n.field);
  if (v == nullptr || is_null(*v)) return false;
  switch (n.op) {
    case Op::Exists:
      return true;
    case Op::Eq:
      return compare(*v, n.values[0]) == 0;
    case Op::Ne:
      return compare(*v, n.values[0]) != 0;
    case Op::Lt: {
      const int c = compare(*v, n.values[0]);
      return c == -1;
    }
    case Op::Le: {
      const int c = compare(*v, n.values[0]);
      return c == -1 || c == 0;
    }
    case Op::Gt:
      return compare(*v, n.values[0]) == 1;
    case Op::Ge: {
      const int c = compare(*v, n.values[0]);
      return c == 1 || c == 0;
    }
    case Op::In:
    case Op::NotIn: {
      bool found = false;
      for (const auto& c : n.values) found = found || compare(*v, c) == 0;
      return n.op == Op::In ? found : !found;
    }
    default:
      return false;
  }
}

void collect(const Condition::Node& n, std::vector<FieldId>& out) {
  if (n.field != kNoField) out.push_back(n.field);
  for (const auto& c : n.children) collect(*c, out);
}

}  // namespace

Condition::Condition() = default;
Condition::~Condition() = default;
Condition::Condition(Condition&&) noexcept = default;
Condition& Condition::operator=(Condition&&) noexcept = default;
Condition::Condition(const Condition&) = default;
Condition& Condition::operator=(const Condition&) = default;

Condition Condition::parse(std::string_view text, const std::function<FieldId(std::string_view)>& field,
                           const SourcePos& pos) {
  Condition c;
  c.text_ = std::string(text);
  Parser p(text, field, pos);
  c.root_ = p.parse();
  return c;
}

Condition Condition::parse(std::string_view text, Setup& setup, const SourcePos& pos) {
  // Each field the condition names is a declared read (the host finds its position in the text).
  return parse(
      text, [&setup](std::string_view f) { return setup.reads(f); }, pos);
}

bool Condition::matches(const Event& e) const noexcept { return root_ == nullptr || eval(*root_, e); }

std::vector<FieldId> Condition::fields() const {
  std::vector<FieldId> out;
  if (root_) collect(*root_, out);
  return out;
}

}  // namespace cxflow
