// Finisher: a finished file's fsync and rename run off the worker's path, at
// most N at once, and nothing submitted is lost (drain, destructor, errors).
#include "finisher.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <vector>

namespace mews_export {
namespace {

using namespace std::chrono_literals;

// Jobs that wait until opened, and count how many run at once.
class Gate {
 public:
  std::function<Status()> job() {
    return [this]() -> Status {
      std::unique_lock lock(mutex_);
      ++running_;
      most_ = std::max(most_, running_);
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      --running_;
      ++done_;
      return {};
    };
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  void wait_running(int n) {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [&] { return running_ >= n; });
  }
  int running() {
    std::lock_guard lock(mutex_);
    return running_;
  }
  int most() {
    std::lock_guard lock(mutex_);
    return most_;
  }
  int done() {
    std::lock_guard lock(mutex_);
    return done_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int running_ = 0;
  int most_ = 0;
  int done_ = 0;
};

std::function<void(Error)> no_errors() {
  return [](const Error& e) { ADD_FAILURE() << "unexpected error: " << e.message; };
}

TEST(FinisherTest, SubmitReturnsWhileTheJobIsStillRunning) {
  Gate gate;
  detail::Finisher finisher(2, no_errors());
  finisher.submit(gate.job());
  gate.wait_running(1);  // the submitter got here while its job waits: the worker goes on
  EXPECT_EQ(gate.done(), 0);
  gate.open();
  finisher.drain();
  EXPECT_EQ(gate.done(), 1);
}

TEST(FinisherTest, DrainReturnsOnlyOnceEveryJobRan) {
  std::atomic<int> done{0};
  detail::Finisher finisher(3, no_errors());
  for (int i = 0; i < 50; ++i) {
    finisher.submit([&]() -> Status {
      std::this_thread::yield();
      ++done;
      return {};
    });
  }
  finisher.drain();
  EXPECT_EQ(done.load(), 50);
}

TEST(FinisherTest, RunsAtMostItsThreadsAtOnceAndQueuesNoMoreThanThat) {
  Gate gate;
  std::atomic<int> submitted{0};
  {
    detail::Finisher finisher(2, no_errors());
    std::jthread submitter([&] {
      for (int i = 0; i < 8; ++i) {
        finisher.submit(gate.job());
        ++submitted;
      }
    });
    gate.wait_running(2);
    std::this_thread::sleep_for(50ms);  // room for a submitter that is not held back to run ahead
    EXPECT_EQ(gate.running(), 2);
    EXPECT_LE(submitted.load(), 4);  // two running, two queued: the third waits in submit()
    gate.open();
  }  // the submitter, then the finisher (which waits for every job), end here
  EXPECT_EQ(submitted.load(), 8);
  EXPECT_EQ(gate.done(), 8);
  EXPECT_EQ(gate.most(), 2);
}

TEST(FinisherTest, TheDestructorWaitsForEveryJob) {
  Gate gate;
  std::optional<detail::Finisher> finisher(std::in_place, 1, no_errors());
  finisher->submit(gate.job());
  finisher->submit(gate.job());
  gate.wait_running(1);
  std::jthread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.open();
  });
  finisher.reset();
  EXPECT_EQ(gate.done(), 2);
}

TEST(FinisherTest, AFailedOrThrowingJobReachesOnErrorAndTheOthersStillRun) {
  std::mutex mutex;
  std::vector<Error> errors;
  std::atomic<int> ok{0};
  {
    detail::Finisher finisher(2, [&](Error e) {
      std::lock_guard lock(mutex);
      errors.push_back(std::move(e));
    });
    finisher.submit([]() -> Status { return fail(ErrorKind::Io, "cannot sync part-000.jsonl.part"); });
    finisher.submit([]() -> Status { throw std::bad_alloc(); });
    finisher.submit([&]() -> Status {
      ++ok;
      return {};
    });
    finisher.drain();
  }
  EXPECT_EQ(ok.load(), 1);
  ASSERT_EQ(errors.size(), 2u);
  bool saw_sync = false;
  bool saw_alloc = false;
  for (const auto& e : errors) {
    EXPECT_EQ(e.kind, ErrorKind::Io);
    saw_sync = saw_sync || e.message == "cannot sync part-000.jsonl.part";
    saw_alloc = saw_alloc || e.message.find("finishing a file") != std::string::npos;
  }
  EXPECT_TRUE(saw_sync);
  EXPECT_TRUE(saw_alloc);
}

}  // namespace
}  // namespace mews_export
