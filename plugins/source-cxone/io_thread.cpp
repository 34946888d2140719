// source-cxone: the network side's io thread (io_thread.hpp).
#include "io_thread.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>

namespace cxflow::cxone {

namespace asio = boost::asio;

IoThreadNetwork::IoThreadNetwork(const Config& cfg, std::shared_ptr<Handoff> handoff, NetHooks hooks)
    : cfg_(cfg), h_(std::move(handoff)), hooks_(std::move(hooks)), http_(io_, cfg_), sleep_timer_(io_), gate_(io_) {}

void IoThreadNetwork::start() {
  thread_ = std::thread([this] {
    asio::co_spawn(io_, run(), asio::detached);
    io_.run();
  });
}

void IoThreadNetwork::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  asio::post(io_, [this] {
    sleep_timer_.cancel();
    gate_.cancel();
    http_.abort();
    abort_current();
  });
  thread_.join();
  after_join();
}

void IoThreadNetwork::wake() {
  // On the io thread the reader is suspended (in a read or at the gate), so the batch being
  // filled can move into the freed slot now instead of after the next read.
  asio::post(io_, [this] {
    gate_.cancel();
    if (!h_->paused.load()) hand_off();
  });
}

}  // namespace cxflow::cxone
