#include "serve/job_queue.h"

#include <atomic>
#include <cstdio>

#include "core/log.h"
#include "generate/candidate_files.h"

namespace couture {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Overall progress: sampling dominates the time; decode and rerank are short tails.
double overall_progress(const std::string& stage, int64_t done, int64_t total) {
  double f = total > 0 ? std::clamp(double(done) / double(total), 0.0, 1.0) : 0.0;
  if (stage == "sample") return 0.85 * f;
  if (stage == "decode") return 0.85 + 0.10 * f;
  if (stage == "rerank") return 0.95 + 0.05 * f;
  return 0.0;
}

}  // namespace

struct JobQueue::Job {
  std::string id;
  GenerateParams params;
  JobStatus status = JobStatus::queued;
  std::string stage;
  int64_t done = 0, total = 0;
  double progress = 0;
  std::string error;
  bool error_is_input = false;
  std::vector<JobResult> results;
  nlohmann::json timings = nlohmann::json::object();
  std::string caption;
  Clock::time_point submitted = Clock::now(), started{}, finished{};
  uint64_t version = 1;
  std::atomic<bool> cancel{false};
};

const char* status_name(JobStatus status) {
  switch (status) {
    case JobStatus::queued: return "queued";
    case JobStatus::running: return "running";
    case JobStatus::done: return "done";
    case JobStatus::failed: return "failed";
    case JobStatus::cancelled: return "cancelled";
  }
  return "unknown";
}

JobQueue::JobQueue(std::unique_ptr<Generator> generator, JobQueueOptions options)
    : generator_(std::move(generator)),
      options_(options),
      model_(generator_ ? generator_->describe() : nlohmann::json()),
      id_rng_(std::random_device{}()) {
  COUTURE_CHECK(generator_, "the job queue needs a loaded generator");
  thread_ = std::thread([this] { worker(); });
}

JobQueue::~JobQueue() { shutdown(); }

std::string JobQueue::new_id_locked() {
  // Random ids, so one client cannot guess another's jobs by counting.
  for (;;) {
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(id_rng_()));
    if (!jobs_.count(text)) return text;
  }
}

void JobQueue::notify_locked() {
  changed_.notify_all();
  if (listener_) listener_();
}

void JobQueue::set_change_listener(std::function<void()> listener) {
  std::lock_guard lock(mutex_);
  listener_ = std::move(listener);
}

void JobQueue::touch_locked(Job& job) {
  ++job.version;
  notify_locked();
}

JobQueue::Submitted JobQueue::submit(const GenerateParams& params) {
  std::lock_guard lock(mutex_);
  if (stopping_) throw ShuttingDown("the server is shutting down");
  prune_locked();
  if (queue_.size() >= options_.max_queued) {
    ++rejected_total_;
    throw QueueFull("the queue is full (" + std::to_string(options_.max_queued) +
                    " jobs waiting); try again when a job has finished");
  }
  auto job = std::make_shared<Job>();
  job->id = new_id_locked();
  job->params = params;
  jobs_[job->id] = job;
  queue_.push_back(job);
  ++submitted_total_;
  work_.notify_one();
  notify_locked();
  return {job->id, int(queue_.size()) - 1 + (running_ ? 1 : 0)};
}

JobSnapshot JobQueue::snapshot_locked(const Job& job) const {
  JobSnapshot s;
  s.id = job.id;
  s.status = job.status;
  s.settings = job.params.settings_json();
  s.params = job.params;
  s.params.init_codes.clear();
  if (job.status == JobStatus::queued) {
    for (size_t i = 0; i < queue_.size(); ++i)
      if (queue_[i].get() == &job) s.queue_position = int(i) + (running_ ? 1 : 0);
  }
  s.stage = job.stage;
  s.done = job.done;
  s.total = job.total;
  s.progress = job.progress;
  s.error = job.error;
  s.error_is_input = job.error_is_input;
  for (const auto& r : job.results) s.results.push_back({r.index, r.seed, r.score, {}, r.attributes, {}});
  s.timings = job.timings;
  s.caption = job.caption;
  auto now = Clock::now();
  bool ran = job.started != Clock::time_point{};
  auto waited_until = ran ? job.started : is_finished(job.status) ? job.finished : now;
  s.queued_s = seconds(waited_until - job.submitted);
  if (ran) s.run_s = seconds((is_finished(job.status) ? job.finished : now) - job.started);
  s.version = job.version;
  return s;
}

std::optional<JobSnapshot> JobQueue::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return std::nullopt;
  return snapshot_locked(*it->second);
}

std::optional<JobSnapshot> JobQueue::wait_change(const std::string& id, uint64_t seen,
                                                 std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  auto deadline = Clock::now() + timeout;
  for (;;) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return std::nullopt;
    if (it->second->version > seen || stopped_ || Clock::now() >= deadline) return snapshot_locked(*it->second);
    changed_.wait_until(lock, deadline);
  }
}

void JobQueue::set_done_listener(DoneListener listener) {
  std::lock_guard lock(mutex_);
  done_listener_ = std::move(listener);
}

std::vector<JobSnapshot> JobQueue::active() const {
  std::lock_guard lock(mutex_);
  std::vector<JobSnapshot> out;
  if (running_) out.push_back(snapshot_locked(*running_));
  for (const auto& job : queue_) out.push_back(snapshot_locked(*job));
  return out;
}

bool JobQueue::forget(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || !is_finished(it->second->status)) return false;
  std::erase_if(finished_, [&](const auto& j) { return j == it->second; });
  jobs_.erase(it);
  notify_locked();  // event streams of it end
  return true;
}

bool JobQueue::cancel(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return false;
  Job& job = *it->second;
  if (job.status == JobStatus::queued) {
    std::erase_if(queue_, [&](const auto& j) { return j.get() == &job; });
    job.status = JobStatus::cancelled;
    job.finished = Clock::now();
    finished_.push_back(it->second);
    ++finished_total_;
    notify_locked();  // the positions of the jobs behind it changed too
  } else if (job.status == JobStatus::running) {
    job.cancel = true;
  }
  touch_locked(job);
  return true;
}

std::optional<std::string> JobQueue::png(const std::string& id, size_t rank) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || rank >= it->second->results.size()) return std::nullopt;
  return it->second->results[rank].png;
}

std::optional<std::vector<int64_t>> JobQueue::codes(const std::string& id, size_t rank) const {
  std::lock_guard lock(mutex_);
  auto it = jobs_.find(id);
  if (it == jobs_.end() || rank >= it->second->results.size()) return std::nullopt;
  return it->second->results[rank].codes;
}

namespace {
// Upper bounds of the stage-seconds histograms (Prometheus' "le"); +Inf is the count.
constexpr double kStageBuckets[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
}  // namespace

void JobQueue::observe_locked(const std::string& stage, double seconds) {
  Histogram& h = stage_seconds_[stage];
  h.counts.resize(std::size(kStageBuckets));
  for (size_t i = 0; i < std::size(kStageBuckets); ++i)
    if (seconds <= kStageBuckets[i]) {
      ++h.counts[i];
      break;
    }
  h.sum += seconds;
  ++h.count;
}

nlohmann::json JobQueue::metrics() const {
  nlohmann::json m = stats();
  std::lock_guard lock(mutex_);
  m["finished_by_status"] = finished_by_status_;
  nlohmann::json stages = nlohmann::json::object();
  for (const auto& [stage, h] : stage_seconds_) {
    nlohmann::json buckets = nlohmann::json::array();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < std::size(kStageBuckets); ++i) buckets.push_back({kStageBuckets[i], cumulative += h.counts[i]});
    stages[stage] = {{"buckets", buckets}, {"sum", h.sum}, {"count", h.count}};
  }
  m["stage_seconds"] = stages;
  return m;
}

nlohmann::json JobQueue::stats() const {
  std::lock_guard lock(mutex_);
  return {{"queued", queue_.size()},
          {"running", running_ ? 1 : 0},
          {"finished_kept", finished_.size()},
          {"submitted_total", submitted_total_},
          {"finished_total", finished_total_},
          {"rejected_total", rejected_total_},
          {"max_queued", options_.max_queued},
          {"keep_results", options_.keep_results},
          {"keep_minutes", options_.keep_for.count() / 60.0}};
}

void JobQueue::prune_locked() {
  auto now = Clock::now();
  while (!finished_.empty() &&
         (finished_.size() > options_.keep_results || now - finished_.front()->finished > options_.keep_for)) {
    jobs_.erase(finished_.front()->id);
    finished_.pop_front();
  }
}

void JobQueue::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      stopping_ = true;
      for (auto& job : queue_) {
        job->status = JobStatus::cancelled;
        job->error = "the server shut down";
        job->finished = Clock::now();
        touch_locked(*job);
      }
      queue_.clear();
      if (running_) running_->cancel = true;
      work_.notify_all();
      notify_locked();
    }
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  stopped_ = true;
  notify_locked();
}

bool JobQueue::stopped() const {
  std::lock_guard lock(mutex_);
  return stopped_;
}

bool JobQueue::stopping() const {
  std::lock_guard lock(mutex_);
  return stopping_;
}

void JobQueue::worker() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    // Wake now and then to drop expired results even when no request comes.
    work_.wait_for(lock, std::chrono::seconds(10), [&] { return stopping_ || !queue_.empty(); });
    prune_locked();
    if (stopping_ || queue_.empty()) continue;
    running_ = queue_.front();
    queue_.pop_front();
    running_->status = JobStatus::running;
    running_->started = Clock::now();
    touch_locked(*running_);
    notify_locked();
    auto job = running_;
    lock.unlock();
    run(job);
    lock.lock();
  }
}

// Runs one job without the lock held (progress takes it briefly), then moves it to the finished jobs.
void JobQueue::run(const std::shared_ptr<Job>& job) {
  auto progress = [&](const std::string& stage, int64_t done, int64_t total) {
    std::lock_guard lock(mutex_);
    job->stage = stage;
    job->done = done;
    job->total = total;
    job->progress = std::max(job->progress, overall_progress(stage, done, total));
    touch_locked(*job);
    return !job->cancel;
  };
  GenerateResult result;
  std::string error;
  bool input_error = false;
  try {
    result = generator_->generate(job->params, progress);
  } catch (const InputError& e) {
    error = e.what();
    input_error = true;
  } catch (const std::exception& e) {
    error = std::string("generation failed: ") + e.what();
    log::warn("job " + job->id + ": " + error);
  }
  std::vector<JobResult> results;
  if (error.empty() && !result.cancelled && !job->cancel) {
    // PNG text: what made this image, so a downloaded file says how to make it again.
    const std::string model_name = model_.contains("name") ? model_["name"].get<std::string>() : "";
    for (size_t rank = 0; rank < result.candidates.size() && !job->cancel; ++rank) {
      const Candidate& c = result.candidates[rank];
      const std::string text = candidate_parameters(job->params, c, rank, model_name);
      results.push_back({c.index, c.seed, c.score, c.codes, attributes_json(c), encode_png(c.image, text)});
    }
    DoneListener listener;
    {
      std::lock_guard lock(mutex_);
      listener = done_listener_;
    }
    if (listener && !job->cancel) {
      try {
        listener(job->id, job->params, result, results);
      } catch (const std::exception& e) {
        log::warn("job " + job->id + ": " + e.what());
      }
    }
  }
  std::lock_guard lock(mutex_);
  if (!error.empty()) {
    job->status = JobStatus::failed;
    job->error = error;
    job->error_is_input = input_error;
  } else if (result.cancelled || job->cancel) {
    job->status = JobStatus::cancelled;
    if (stopping_) job->error = "the server shut down";
  } else {
    job->status = JobStatus::done;
    job->results = std::move(results);
    job->timings = result.timings.is_null() ? nlohmann::json::object() : result.timings;
    job->caption = result.caption;
    job->progress = 1.0;
  }
  job->finished = Clock::now();
  running_.reset();
  finished_.push_back(job);
  ++finished_total_;
  ++finished_by_status_[status_name(job->status)];
  if (job->status == JobStatus::done) {
    observe_locked("wait", std::chrono::duration<double>(job->started - job->submitted).count());
    observe_locked("run", std::chrono::duration<double>(job->finished - job->started).count());
    for (const auto& [stage, seconds] : job->timings.items())
      if (seconds.is_number()) observe_locked(stage, seconds.get<double>());
  }
  prune_locked();
  touch_locked(*job);
}

}  // namespace couture
