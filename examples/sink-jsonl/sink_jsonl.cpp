// sink-jsonl: writes every event as one JSON object per line, with size-based rotation.
//
// The whole plugin: a config struct, its schema, a Sink, and CXFLOW_PLUGIN.
#include <cxflow/plugin.hpp>
#include <cxflow/time.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

struct Config {
  std::string path;
  std::vector<std::string> fields;  // empty = every field the event has
  cxflow::ByteSize rotate_size{0};  // 0 = never rotate
  int keep = 5;
  bool include_time = true;
};

void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json_value(std::string& out, const cxflow::Value& v) {
  if (cxflow::is_null(v))
    out += "null";
  else if (const auto* s = cxflow::as_string(v))
    append_json_string(out, *s);
  else if (const auto* d = std::get_if<double>(&v))
    out += std::isfinite(*d) ? cxflow::to_text(v) : "null";
  else
    out += cxflow::to_text(v);  // integers and booleans print as JSON already
}

class JsonlSink final : public cxflow::Sink {
 public:
  // Configure time: resolve the field names we write to ids. No I/O here.
  JsonlSink(const Config& c, cxflow::Setup& setup)
      : cfg_(c),
        rows_(setup.declare_counter({"rows_written",
                                     cxflow::CounterKind::Counter,
                                     "rows",
                                     {},
                                     cxflow::CounterRole::RowsCommitted,
                                     "lines written"})),
        rotations_(setup.declare_counter(
            {"rotations", cxflow::CounterKind::Counter, "files", {}, cxflow::CounterRole::None, "files rotated"})) {
    // The data interface: the fields we read (checked by `cxflow validate` against what the
    // upstream produces), or every field when none are listed.
    for (const auto& f : c.fields) ids_.push_back(setup.reads(f));
    if (c.fields.empty()) setup.reads_all();
  }
  ~JsonlSink() override { close(); }

  void start(cxflow::Context& ctx) override {
    ctx_ = &ctx;
    open();
  }

  void write(const cxflow::Batch& in) override {
    const cxflow::FieldTable& names = ctx_->fields();
    for (const auto& e : in.events) {
      line_.clear();
      line_ += '{';
      bool first = true;
      auto key = [&](const std::string& k) {
        if (!first) line_ += ',';
        first = false;
        append_json_string(line_, k);
        line_ += ':';
      };
      if (cfg_.include_time) {
        key("time");
        append_json_string(line_, cxflow::format_iso8601_ms(e.time_ms));
      }
      if (ids_.empty()) {
        for (const auto& f : e.fields) {
          key(names.name(f.id));
          append_json_value(line_, f.value);
        }
      } else {
        for (std::size_t i = 0; i < ids_.size(); ++i) {
          key(cfg_.fields[i]);
          const cxflow::Value* v = e.get(ids_[i]);
          append_json_value(line_, v ? *v : cxflow::Value{});
        }
      }
      line_ += "}\n";
      if (std::fwrite(line_.data(), 1, line_.size(), file_) != line_.size())
        throw std::runtime_error("writing " + cfg_.path + " failed (disk full?)");
      written_ += line_.size();
    }
    rows_.add(in.events.size());
    if (cfg_.rotate_size.bytes > 0 && written_ >= cfg_.rotate_size.bytes) rotate();
  }

  // A watermark is a natural point to make everything so far visible to readers.
  void on_watermark(std::int64_t) override { std::fflush(file_); }
  void on_end_of_stream() override { std::fflush(file_); }
  void stop() override { close(); }

 private:
  void open() {
    file_ = std::fopen(cfg_.path.c_str(), "ab");
    if (file_ == nullptr) throw std::runtime_error("cannot open " + cfg_.path + " for appending");
    written_ = static_cast<std::uint64_t>(std::ftell(file_));
  }
  void close() {
    if (file_ != nullptr) std::fclose(file_);
    file_ = nullptr;
  }
  // out.jsonl -> out.jsonl.1 -> out.jsonl.2 ... keeping `keep` old files.
  void rotate() {
    close();
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::remove(cfg_.path + "." + std::to_string(cfg_.keep), ec);
    for (int i = cfg_.keep - 1; i >= 1; --i)
      fs::rename(cfg_.path + "." + std::to_string(i), cfg_.path + "." + std::to_string(i + 1), ec);
    if (cfg_.keep > 0)
      fs::rename(cfg_.path, cfg_.path + ".1", ec);
    else
      fs::remove(cfg_.path, ec);
    rotations_.add();
    open();
  }

  Config cfg_;
  cxflow::Counter& rows_;
  cxflow::Counter& rotations_;
  std::vector<cxflow::FieldId> ids_;
  cxflow::Context* ctx_ = nullptr;
  std::FILE* file_ = nullptr;
  std::uint64_t written_ = 0;
  std::string line_;
};

struct Plugin {
  static constexpr const char* name = "sink-jsonl";
  static constexpr const char* version = "1.0.0";
  static constexpr const char* description =
      "Writes events as newline-delimited JSON to a file, with size-based rotation";
  static constexpr const char* example = "path: events.jsonl\nrotate_size: 64MiB\n";
  using Config = ::Config;
  using Instance = JsonlSink;
  static void schema(cxflow::Schema<Config>& s) {
    s.key("path", &Config::path, "File to append to (created if missing)").required().example("out/events.jsonl");
    s.key("fields", &Config::fields, "Fields to write, in this order (missing ones as null); empty = every field")
        .example("[interactionId, metrics.state]");
    s.key("rotate_size", &Config::rotate_size, "Rotate to PATH.1, PATH.2... when the file reaches this size; 0 = never")
        .def("0");
    s.key("keep", &Config::keep, "Rotated files to keep").def("5").range(0, 1000);
    s.key("include_time", &Config::include_time, "Write the event time as \"time\" (ISO 8601) first").def("true");
  }
};

}  // namespace

CXFLOW_PLUGIN(Plugin)
