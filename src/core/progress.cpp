#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "core/log.h"

namespace couture {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total) {
  tty_ = isatty(STDERR_FILENO) != 0;
  enabled_ = !log::quiet();
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

std::string Progress::format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
                  (long long)(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  return buf;
}

void Progress::advance(int64_t n) {
  std::lock_guard lock(mutex_);
  done_ += n;
  auto now = std::chrono::steady_clock::now();
  double since = std::chrono::duration<double>(now - last_draw_).count();
  if (since >= (tty_ ? 0.1 : 5.0)) draw(false);
}

void Progress::set_done(int64_t done) {
  std::lock_guard lock(mutex_);
  done_ = start_done_ = done;
}

void Progress::set_total(int64_t total) {
  std::lock_guard lock(mutex_);
  total_ = total;
}

void Progress::set_note(std::string note) {
  std::lock_guard lock(mutex_);
  note_ = std::move(note);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  last_draw_ = std::chrono::steady_clock::now();
  if (!enabled_) return;
  double elapsed = std::chrono::duration<double>(last_draw_ - start_).count();
  double rate = elapsed > 0 ? double(done_ - start_done_) / elapsed : 0.0;
  char rate_text[48];
  std::snprintf(rate_text, sizeof rate_text, rate >= 100 ? "%.0f %s/s" : "%.2f %s/s", rate, unit_.c_str());
  std::string line = label_ + " ";
  if (total_ > 0) {
    double frac = std::min(1.0, double(done_) / double(total_));
    if (tty_) {
      const int width = 28;
      int filled = static_cast<int>(frac * width);
      line.append(1, '[').append(size_t(filled), '#').append(size_t(width - filled), '.').append("] ");
    }
    char buf[96];
    double eta = rate > 0 ? double(total_ - done_) / rate : NAN;
    std::snprintf(buf, sizeof buf, "%3.0f%% %lld/%lld", frac * 100, (long long)done_, (long long)total_);
    line += buf;
    line.append(" ").append(rate_text).append(" elapsed ").append(format_duration(elapsed));
    if (!final_line) line.append(" eta ").append(format_duration(eta));
  } else {
    line.append(std::to_string(done_)).append(" ").append(rate_text).append(" elapsed ").append(format_duration(elapsed));
  }
  if (!note_.empty()) line.append("  ").append(note_);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

}  // namespace couture
