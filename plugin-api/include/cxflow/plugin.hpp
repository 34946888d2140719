// Declaring and exporting a plugin.
//
//   struct MyPlugin {
//     static constexpr const char* name = "sink-jsonl";
//     static constexpr const char* version = "1.0.0";
//     static constexpr const char* description = "Writes events as JSON lines";
//     static constexpr const char* example = "path: out.jsonl\n";   // a config that works
//     using Config = JsonlConfig;
//     using Instance = JsonlSink;    // derives from cxflow::Source, Transform or Sink,
//                                    // constructible from (const Config&, cxflow::Setup&)
//     static void schema(cxflow::Schema<Config>& s);
//   };
//   CXFLOW_PLUGIN(MyPlugin)
//
// CXFLOW_PLUGIN exports one C entry point returning a descriptor. The host reads its magic, ABI
// version and build key before anything else and refuses a mismatch. Every call the host makes
// into the plugin goes through the wrappers below, which are compiled into the plugin and catch
// every exception on the plugin's side of the boundary.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "cxflow/component.hpp"
#include "cxflow/config.hpp"
#include "cxflow/event.hpp"
#include "cxflow/version.hpp"

extern "C" {
// Layout frozen forever: the host reads these fields from plugins of any version.
struct cxflow_plugin_descriptor {
  std::uint32_t magic;  // CXFLOW_PLUGIN_MAGIC
  std::uint32_t abi_version;
  const char* build_key;
  const char* name;
  const void* api;  // const cxflow::PluginApi*; only valid when abi_version and build_key match
};
}
#define CXFLOW_PLUGIN_MAGIC 0x4358464cu  // "CXFL"
#define CXFLOW_PLUGIN_ENTRY_SYMBOL "cxflow_plugin_entry"

namespace cxflow {

struct Status {
  bool ok = true;
  std::string message;
  static Status error(std::string m) { return Status{false, std::move(m)}; }
};

// ---- Host-facing side of the boundary: noexcept, errors as values ---------------------------

class InstanceBase {
 public:
  virtual ~InstanceBase() = default;
  virtual Kind kind() const noexcept = 0;
  virtual Status stop() noexcept = 0;
};
class SourceInstance : public InstanceBase {
 public:
  virtual Status start(SourceContext& ctx) noexcept = 0;
};
class TransformInstance : public InstanceBase {
 public:
  virtual Status start(Context& ctx) noexcept = 0;
  virtual Status process(Batch& in, Emitter& out) noexcept = 0;
  // A ReadOnlyTransform: process_shared() may be given a batch other consumers share.
  virtual bool reads_only() const noexcept = 0;
  virtual Status process_shared(const Batch& in, Emitter& out) noexcept = 0;
  virtual Status on_watermark(std::int64_t watermark_ms, Emitter& out) noexcept = 0;
  virtual Status on_end_of_stream(Emitter& out) noexcept = 0;
};
class SinkInstance : public InstanceBase {
 public:
  virtual Status start(Context& ctx) noexcept = 0;
  virtual Status write(const Batch& in) noexcept = 0;
  virtual Status on_watermark(std::int64_t watermark_ms) noexcept = 0;
  virtual Status on_end_of_stream() noexcept = 0;
};

class PluginApi {
 public:
  virtual ~PluginApi() = default;
  virtual const char* name() const noexcept = 0;
  virtual Kind kind() const noexcept = 0;
  virtual const char* version() const noexcept = 0;
  virtual const char* description() const noexcept = 0;
  // A config (YAML, without plugin:/inputs:) that configures successfully: used by docs and the
  // conformance test.
  virtual const char* example() const noexcept = 0;
  virtual const SchemaInfo& schema() const noexcept = 0;
  // Binds and validates `config`, then constructs the instance (no I/O). On failure returns
  // nullptr and appends to `errors`.
  virtual std::unique_ptr<InstanceBase> configure(const ConfigNode& config, Setup& setup,
                                                  std::vector<ConfigError>& errors) const noexcept = 0;
};

namespace detail {

template <class F>
Status guarded(F&& f) noexcept {
  try {
    f();
    return {};
  } catch (const std::exception& e) {
    return Status::error(e.what());
  } catch (...) {
    return Status::error("unknown exception");
  }
}

template <class I>
class SourceAdapter final : public SourceInstance {
 public:
  explicit SourceAdapter(std::unique_ptr<I> i) : impl_(std::move(i)) {}
  Kind kind() const noexcept override { return Kind::Source; }
  Status start(SourceContext& ctx) noexcept override {
    return guarded([&] { impl_->start(ctx); });
  }
  Status stop() noexcept override {
    return guarded([&] { impl_->stop(); });
  }

 private:
  std::unique_ptr<I> impl_;
};

template <class I>
class TransformAdapter final : public TransformInstance {
 public:
  explicit TransformAdapter(std::unique_ptr<I> i) : impl_(std::move(i)) {}
  Kind kind() const noexcept override { return Kind::Transform; }
  Status start(Context& ctx) noexcept override {
    return guarded([&] { impl_->start(ctx); });
  }
  Status process(Batch& in, Emitter& out) noexcept override {
    return guarded([&] { impl_->process(in, out); });
  }
  bool reads_only() const noexcept override { return std::is_base_of_v<ReadOnlyTransform, I>; }
  Status process_shared(const Batch& in, Emitter& out) noexcept override {
    if constexpr (std::is_base_of_v<ReadOnlyTransform, I>)
      return guarded([&] { impl_->process(in, out); });
    else
      return Status::error("process_shared: not a ReadOnlyTransform");
  }
  Status on_watermark(std::int64_t wm, Emitter& out) noexcept override {
    return guarded([&] { impl_->on_watermark(wm, out); });
  }
  Status on_end_of_stream(Emitter& out) noexcept override {
    return guarded([&] { impl_->on_end_of_stream(out); });
  }
  Status stop() noexcept override {
    return guarded([&] { impl_->stop(); });
  }

 private:
  std::unique_ptr<I> impl_;
};

template <class I>
class SinkAdapter final : public SinkInstance {
 public:
  explicit SinkAdapter(std::unique_ptr<I> i) : impl_(std::move(i)) {}
  Kind kind() const noexcept override { return Kind::Sink; }
  Status start(Context& ctx) noexcept override {
    return guarded([&] { impl_->start(ctx); });
  }
  Status write(const Batch& in) noexcept override {
    return guarded([&] { impl_->write(in); });
  }
  Status on_watermark(std::int64_t wm) noexcept override {
    return guarded([&] { impl_->on_watermark(wm); });
  }
  Status on_end_of_stream() noexcept override {
    return guarded([&] { impl_->on_end_of_stream(); });
  }
  Status stop() noexcept override {
    return guarded([&] { impl_->stop(); });
  }

 private:
  std::unique_ptr<I> impl_;
};

template <class Traits>
class PluginImpl final : public PluginApi {
 public:
  using Config = typename Traits::Config;
  using Instance = typename Traits::Instance;
  static_assert(std::is_base_of_v<Source, Instance> || std::is_base_of_v<Transform, Instance> ||
                    std::is_base_of_v<Sink, Instance>,
                "Instance must derive from cxflow::Source, cxflow::Transform or cxflow::Sink");

  PluginImpl() {
    Traits::schema(schema_);
    info_ = schema_.info();
  }
  const char* name() const noexcept override { return Traits::name; }
  Kind kind() const noexcept override {
    if constexpr (std::is_base_of_v<Source, Instance>)
      return Kind::Source;
    else if constexpr (std::is_base_of_v<Transform, Instance>)
      return Kind::Transform;
    else
      return Kind::Sink;
  }
  const char* version() const noexcept override { return Traits::version; }
  const char* description() const noexcept override { return Traits::description; }
  const char* example() const noexcept override { return Traits::example; }
  const SchemaInfo& schema() const noexcept override { return info_; }

  std::unique_ptr<InstanceBase> configure(const ConfigNode& config, Setup& setup,
                                          std::vector<ConfigError>& errors) const noexcept override {
    try {
      Config cfg{};
      if (!schema_.bind(config, cfg, errors)) return nullptr;
      std::unique_ptr<Instance> inst;
      if constexpr (std::is_constructible_v<Instance, const Config&, Setup&>)
        inst = std::make_unique<Instance>(cfg, setup);
      else
        inst = std::make_unique<Instance>(cfg);
      if constexpr (std::is_base_of_v<Source, Instance>)
        return std::make_unique<SourceAdapter<Instance>>(std::move(inst));
      else if constexpr (std::is_base_of_v<Transform, Instance>)
        return std::make_unique<TransformAdapter<Instance>>(std::move(inst));
      else
        return std::make_unique<SinkAdapter<Instance>>(std::move(inst));
    } catch (const ConfigException& e) {
      errors.push_back(ConfigError{e.pos().line ? e.pos() : config.pos, e.path(), e.message()});
    } catch (const std::exception& e) {
      errors.push_back(ConfigError{config.pos, "", e.what()});
    } catch (...) {
      errors.push_back(ConfigError{config.pos, "", "unknown exception while configuring"});
    }
    return nullptr;
  }

 private:
  Schema<Config> schema_;
  SchemaInfo info_;
};

}  // namespace detail
}  // namespace cxflow

#define CXFLOW_PLUGIN(Traits)                                                                                        \
  extern "C" __attribute__((visibility("default"))) const cxflow_plugin_descriptor* cxflow_plugin_entry() noexcept { \
    static const ::cxflow::detail::PluginImpl<Traits> api;                                                           \
    static const cxflow_plugin_descriptor descriptor{CXFLOW_PLUGIN_MAGIC, CXFLOW_ABI_VERSION, CXFLOW_BUILD_KEY,      \
                                                     Traits::name, &api};                                            \
    return &descriptor;                                                                                              \
  }
