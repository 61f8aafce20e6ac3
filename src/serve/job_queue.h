// The server's jobs: a bounded queue in front of one worker thread that runs the one loaded Generator (a model
// is loaded once and shared by every request), job states with progress, cancel, and finished results (PNG bytes
// in memory) kept for a bounded time and count. Thread-safe; the HTTP layer (serve/server.h) only reads it.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "generate/generator.h"

namespace couture {

struct JobQueueOptions {
  size_t max_queued = 16;                      // waiting jobs (the running one not counted); more: QueueFull
  size_t keep_results = 32;                    // finished jobs kept (oldest dropped first)
  std::chrono::seconds keep_for{30 * 60};      // finished jobs dropped this long after they finished
};

enum class JobStatus { queued, running, done, failed, cancelled };
const char* status_name(JobStatus status);
inline bool is_finished(JobStatus s) { return s == JobStatus::done || s == JobStatus::failed || s == JobStatus::cancelled; }

class QueueFull : public Error {
 public:
  using Error::Error;
};
class ShuttingDown : public Error {  // submit() after stop(): the server answers 503
 public:
  using Error::Error;
};

struct JobResult {   // one candidate of a finished job, in rank order
  int index = 0;     // its position in the sampled batch (seed + index)
  uint64_t seed = 0;
  double score = 0;
  std::vector<int64_t> codes;
  nlohmann::ordered_json attributes;  // attribute reranking's p(asked value) per attribute; {} when off
  std::string png;   // with a `parameters` chunk: prompt, seed, index, score, settings
};

// A consistent copy of one job's state, taken under the queue's lock.
struct JobSnapshot {
  std::string id;
  JobStatus status = JobStatus::queued;
  GenerateParams params;   // without init_codes (large, and of no use to a reader of the status)
  nlohmann::json settings;  // params.settings_json() of the full request
  int queue_position = 0;  // jobs ahead of it, the running one included (0 once it runs)
  std::string stage;       // "sample", "decode", "rerank" while running
  int64_t done = 0, total = 0;
  double progress = 0;     // 0..1 over all stages
  std::string error;       // why it failed
  bool error_is_input = false;  // the request was at fault (the generator said InputError)
  std::vector<JobResult> results;  // empty until done; without PNG bytes (ask png())
  nlohmann::json timings;
  std::string caption;  // what the models read (GenerateResult::caption), once done
  double queued_s = 0, run_s = 0;  // seconds spent waiting and running
  uint64_t version = 0;            // grows with every change, for event streams
};

class JobQueue {
 public:
  JobQueue(std::unique_ptr<Generator> generator, JobQueueOptions options);
  ~JobQueue();  // cancels the running job and stops the worker
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  struct Submitted {
    std::string id;
    int queue_position = 0;
  };
  // Throws QueueFull when max_queued jobs wait already, or Error after shutdown().
  Submitted submit(const GenerateParams& params);

  std::optional<JobSnapshot> get(const std::string& id) const;
  // Waits until the job's version exceeds `seen` (or it is gone, or the timeout passes, or shutdown() has
  // finished every job).
  std::optional<JobSnapshot> wait_change(const std::string& id, uint64_t seen, std::chrono::milliseconds timeout) const;
  // Cancels a queued job at once and a running one at its next progress step; false when unknown.
  bool cancel(const std::string& id);
  // The PNG of the candidate at `rank` of a finished job.
  std::optional<std::string> png(const std::string& id, size_t rank) const;
  // The codes of the candidate at `rank` of a finished job (for variations).
  std::optional<std::vector<int64_t>> codes(const std::string& id, size_t rank) const;

  nlohmann::json stats() const;  // queued, running, finished kept, totals, limits
  // For /metrics: stats() plus jobs finished by status and histograms of seconds per stage of the finished jobs
  // ("wait", "run", and the generator's own stages): {"finished_by_status": {...}, "stage_seconds": {stage:
  // {"buckets": [[le, count], ...], "sum": s, "count": n}}}.
  nlohmann::json metrics() const;
  // Called (under the queue's lock: it must only signal, e.g. wake the server's loop) whenever a job changes.
  void set_change_listener(std::function<void()> listener);
  // Called on the worker thread with each job that finished done, before its status says so (a client that sees
  // "done" finds it wherever the listener put it, e.g. the gallery). `results` are in rank order, with their PNGs.
  // What it throws is logged; the job is done all the same.
  using DoneListener = std::function<void(const std::string& id, const GenerateParams& params,
                                          const GenerateResult& result, const std::vector<JobResult>& results)>;
  void set_done_listener(DoneListener listener);
  // The jobs waiting or running, in queue order (the running one first).
  std::vector<JobSnapshot> active() const;
  // Drops a finished job from memory; false when it is unknown or not finished.
  bool forget(const std::string& id);
  const nlohmann::json& model() const { return model_; }
  const JobQueueOptions& options() const { return options_; }

  // Stops accepting jobs, cancels every queued and running job, joins the worker, wakes every waiter.
  void shutdown();
  bool stopping() const;
  bool stopped() const;  // shutdown() has returned: every job has its final status

 private:
  struct Job;
  void worker();
  void run(const std::shared_ptr<Job>& job);
  void prune_locked();
  JobSnapshot snapshot_locked(const Job& job) const;
  void touch_locked(Job& job);
  void notify_locked();  // wakes wait_change() and the listener
  std::string new_id_locked();

  std::unique_ptr<Generator> generator_;
  const JobQueueOptions options_;
  const nlohmann::json model_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;  // any job changed, or shutdown
  std::function<void()> listener_;
  DoneListener done_listener_;
  std::condition_variable work_;             // a job was queued, or shutdown
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::deque<std::shared_ptr<Job>> finished_;  // in finishing order, for retention
  std::shared_ptr<Job> running_;
  uint64_t submitted_total_ = 0, rejected_total_ = 0, finished_total_ = 0;
  struct Histogram {
    std::vector<uint64_t> counts;  // per bucket of kStageBuckets, not cumulative
    double sum = 0;
    uint64_t count = 0;
  };
  std::map<std::string, Histogram> stage_seconds_;
  std::map<std::string, uint64_t> finished_by_status_;
  void observe_locked(const std::string& stage, double seconds);
  std::mt19937_64 id_rng_;
  bool stopping_ = false;
  bool stopped_ = false;  // the worker has ended: every job is in its final state
  std::thread thread_;
};

}  // namespace couture
