#include "metric_expr.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

namespace cxflow::aggwin {

const char* const kMetricExamples =
    "expected e.g. 'count', 'avg(metrics.handleTime) where metrics.state == ended', 'p90(metrics.waitTime)', "
    "'count_distinct(agentId)', 'ratio(metrics.waitTime <= 20)'";

const char* fn_name(Fn fn) {
  switch (fn) {
    case Fn::Count:
      return "count";
    case Fn::Sum:
      return "sum";
    case Fn::Avg:
      return "avg";
    case Fn::Min:
      return "min";
    case Fn::Max:
      return "max";
    case Fn::CountDistinct:
      return "count_distinct";
    case Fn::Percentile:
      return "pNN";
    case Fn::Ratio:
      return "ratio";
  }
  return "?";
}

SourcePos shifted(const SourcePos& pos, std::size_t offset) {
  SourcePos p = pos;
  if (p.line > 0) p.column += static_cast<int>(offset);
  return p;
}

namespace {

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool is_ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_'; }
bool is_ident(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.'; }

class Parser {
 public:
  Parser(std::string_view name, std::string_view text, const SourcePos& pos) : name_(name), text_(text), pos_(pos) {}

  MetricExpr parse() {
    MetricExpr m;
    skip_spaces();
    if (i_ == text_.size()) fail("the expression is empty", 0);
    const std::size_t fn_start = i_;
    if (!is_ident_start(text_[i_])) fail("expected a function name, found " + quote_value(text_.substr(i_, 1)), i_);
    while (i_ < text_.size() && is_ident(text_[i_])) ++i_;
    const std::string fn(text_.substr(fn_start, i_ - fn_start));

    if (fn == "count") {
      m.fn = Fn::Count;
      skip_spaces();
      if (i_ < text_.size() && text_[i_] == '(')
        fail(
            "'count' takes no argument: write 'count' for every event, or 'count where exists f' for events that have "
            "f",
            i_);
    } else if (fn == "sum" || fn == "avg" || fn == "min" || fn == "max" || fn == "count_distinct") {
      m.fn = fn == "sum"   ? Fn::Sum
             : fn == "avg" ? Fn::Avg
             : fn == "min" ? Fn::Min
             : fn == "max" ? Fn::Max
                           : Fn::CountDistinct;
      m.field = field_argument(fn);
    } else if (fn == "ratio") {
      m.fn = Fn::Ratio;
      const auto [inner, offset] = parenthesized(fn);
      if (trim(inner).empty()) fail("'ratio' needs a condition, e.g. ratio(metrics.waitTime <= 20)", offset);
      m.ratio_condition = std::string(inner);
      m.ratio_offset = offset;
    } else if (fn.size() > 1 && fn[0] == 'p' &&
               (std::isdigit(static_cast<unsigned char>(fn[1])) != 0 || fn[1] == '.')) {
      m.fn = Fn::Percentile;
      m.percentile = percentile(fn, fn_start);
      m.field = field_argument(fn);
    } else {
      std::string msg = "unknown function " + quote_value(fn);
      // Names users bring from SQL, PromQL or spreadsheets, then the closest spelling.
      static const std::vector<std::pair<std::string, std::string>> aliases{{"median", "p50"},
                                                                            {"average", "avg"},
                                                                            {"mean", "avg"},
                                                                            {"total", "sum"},
                                                                            {"minimum", "min"},
                                                                            {"maximum", "max"},
                                                                            {"distinct", "count_distinct"},
                                                                            {"unique", "count_distinct"},
                                                                            {"count_unique", "count_distinct"},
                                                                            {"cardinality", "count_distinct"},
                                                                            {"rate", "ratio"},
                                                                            {"fraction", "ratio"}};
      std::string alias_of;
      for (const auto& [alias, name] : aliases)
        if (fn == alias) alias_of = name;
      if (fn.rfind("percentile", 0) == 0 || fn.rfind("quantile", 0) == 0 || fn == "p")
        msg += "; write pNN(field), e.g. p90(metrics.waitTime)";
      else
        msg += did_you_mean(alias_of.empty() ? fn : alias_of,
                            {"count", "sum", "avg", "min", "max", "count_distinct", "ratio", "p50"});
      msg += " (functions: count, sum(f), avg(f), min(f), max(f), count_distinct(f), pNN(f), ratio(condition))";
      fail(msg, fn_start);
    }

    skip_spaces();
    if (i_ == text_.size()) return m;
    const std::size_t rest = i_;
    if (text_.substr(i_, 5) == "where" && (i_ + 5 == text_.size() || is_space(text_[i_ + 5]) || text_[i_ + 5] == '(')) {
      i_ += 5;
      skip_spaces();
      if (i_ == text_.size()) fail("expected a condition after 'where'", rest);
      m.where = std::string(text_.substr(i_));
      m.where_offset = i_;
      return m;
    }
    fail("unexpected " + quote_value(text_.substr(rest)) + " after " + quote_value(trim(text_.substr(0, rest))) +
             " (only 'where <condition>' may follow)",
         rest);
  }

 private:
  [[noreturn]] void fail(const std::string& what, std::size_t offset) const {
    // quote_value_at bounds the text quoted (a 50 MB expression) and says which character.
    std::string at = text_.size() <= kQuoteMaxChars
                         ? "at character " + std::to_string(offset + 1) + " of " + quote_value(text_)
                         : quote_value_at(text_, offset);
    throw ConfigException(shifted(pos_, offset),
                          "metrics." + std::string(name_) + ": " + what + " (" + at + "); " + kMetricExamples);
  }
  void skip_spaces() {
    while (i_ < text_.size() && is_space(text_[i_])) ++i_;
  }
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
  }

  // "(" ... ")" with balanced parentheses and quotes skipped; returns the inside and its offset.
  std::pair<std::string_view, std::size_t> parenthesized(const std::string& fn) {
    skip_spaces();
    if (i_ == text_.size() || text_[i_] != '(') fail("expected '(' after '" + fn + "'", i_);
    const std::size_t open = i_++;
    std::size_t depth = 1;  // a count, not a recursion: any nesting is fine here
    while (i_ < text_.size()) {
      const char c = text_[i_];
      if (c == '\'' || c == '"') {
        const std::size_t close = text_.find(c, i_ + 1);
        if (close == std::string_view::npos) fail("unterminated string", i_);
        i_ = close + 1;
        continue;
      }
      if (c == '(') ++depth;
      if (c == ')' && --depth == 0) {
        ++i_;
        return {text_.substr(open + 1, i_ - open - 2), open + 1};
      }
      ++i_;
    }
    fail("missing ')' to close '" + fn + "('", open);
  }

  std::string field_argument(const std::string& fn) {
    const auto [inner, offset] = parenthesized(fn);
    const std::string_view f = trim(inner);
    if (f.empty()) fail("'" + fn + "' needs a field, e.g. " + fn + "(metrics.waitTime)", offset);
    for (char c : f)
      if (is_space(c) || std::string_view("()[],=!<>'\"").find(c) != std::string_view::npos)
        fail("expected one field name inside " + fn + "(...), found " + quote_value(f) +
                 " (a condition goes after the parenthesis: " + fn + "(f) where <condition>)",
             offset);
    return std::string(f);
  }

  PercentileE4 percentile(const std::string& fn, std::size_t at) const {
    const std::string digits = fn.substr(1);
    char* end = nullptr;
    const double q = std::strtod(digits.c_str(), &end);
    const bool number =
        end == digits.c_str() + digits.size() && digits.find_first_not_of("0123456789.") == std::string::npos;
    if (!number) fail(quote_value(fn) + " is not a percentile; write pNN with 0 < NN <= 100, e.g. p50, p90, p99.9", at);
    if (!(q > 0.0 && q <= 100.0))
      fail("percentile " + quote_value(fn) +
               " is out of range: it must be above 0 and at most 100 (e.g. p50, p90, p99.9)",
           at);
    const double e4 = q * 10000.0;
    if (std::fabs(e4 - std::round(e4)) > 1e-6)
      fail("percentile " + quote_value(fn) + " has too many decimals (at most 4, e.g. p99.99)", at);
    return static_cast<PercentileE4>(std::llround(e4));
  }

  std::string_view name_;
  std::string_view text_;
  SourcePos pos_;
  std::size_t i_ = 0;
};

}  // namespace

MetricExpr parse_metric(std::string_view name, std::string_view text, const SourcePos& pos) {
  return Parser(name, text, pos).parse();
}

}  // namespace cxflow::aggwin
