// Progress display for long work: a redrawn bar with rate and ETA on a terminal, a plain line every few seconds
// otherwise (logs, CI). Thread-safe: workers may call advance() concurrently.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace couture {

class Progress {
 public:
  // total 0 means unknown: the display shows count and rate only.
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t n = 1);
  void set_done(int64_t done);      // absolute position (for resumed jobs)
  void set_total(int64_t total);    // once it is known (0: unknown)
  void set_note(std::string note);  // shown after the bar, e.g. "loss 0.213"
  void finish();                    // final line; idempotent

  int64_t done() const { return done_; }
  static std::string format_duration(double seconds);

 private:
  void draw(bool final_line);

  std::string label_, unit_, note_;
  int64_t total_ = 0, done_ = 0, start_done_ = 0;
  bool tty_ = false, finished_ = false, enabled_ = true;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mutex_;
};

}  // namespace couture
