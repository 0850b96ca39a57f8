#include "finisher.hpp"

#include <exception>
#include <utility>

namespace mews_export::detail {

Finisher::Finisher(std::size_t threads, std::function<void(Error)> on_error)
    : most_(threads == 0 ? 1 : threads), on_error_(std::move(on_error)) {}

Finisher::~Finisher() {
  drain();
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  threads_.clear();  // joins
}

void Finisher::submit(std::function<Status()> job) {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.size() < most_; });
  queue_.push_back(std::move(job));
  if (idle_ == 0 && threads_.size() < most_) threads_.emplace_back([this] { loop(); });
  lock.unlock();
  changed_.notify_all();
}

void Finisher::drain() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
}

void Finisher::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    changed_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stop_, nothing left
    auto job = std::move(queue_.front());
    queue_.pop_front();
    ++running_;
    lock.unlock();
    changed_.notify_all();  // a slot in the queue is free
    run(job);
    lock.lock();
    --running_;
    changed_.notify_all();
  }
}

void Finisher::run(const std::function<Status()>& job) {
  try {
    if (auto st = job(); !st) on_error_(std::move(st.error()));
  } catch (const std::exception& e) {  // bad_alloc included: an error, not an abort
    on_error_(Error{.kind = ErrorKind::Io, .message = std::string("finishing a file: ") + e.what()});
  }
}

}  // namespace mews_export::detail
