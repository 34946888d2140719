// A plugin library whose static initializer crashes (SIGSEGV) as soon as it is loaded: the host
// must name it and go on, never load it into a command that does not name it.
#include <csignal>

namespace {
struct CrashAtLoad {
  CrashAtLoad() { std::raise(SIGSEGV); }
} crash_at_load;
}  // namespace

extern "C" int crash_on_load_marker() { return 1; }
