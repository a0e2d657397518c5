#include "write_behind.hpp"

#include <fmt/format.h>

#include "dcops/db/connection.hpp"

namespace dcops::dispatcher {

void WriteBehind::TakeFrom(WriteBehind& newer) {
  for (auto& e : newer.events_) events_.push_back(std::move(e));
  for (auto& c : newer.completions_) completions_.push_back(std::move(c));
  for (auto& [task, p] : newer.progress_) progress_[task] = std::move(p);
  newer.events_.clear();
  newer.completions_.clear();
  newer.progress_.clear();
}

bool WriteBehind::Flush(ControlPlane& cp, db::Connection& conn) {
  const auto now = std::chrono::steady_clock::now();
  const bool progress_due = !progress_.empty() && now - last_progress_flush_ >= kProgressEvery;
  if (events_.empty() && completions_.empty() && !progress_due) return false;
  std::vector<ProgressReport> reports;
  for (auto& [_, p] : progress_) reports.push_back(p);
  last_progress_flush_ = now;
  auto all = [&](db::Connection&) -> Status {
    if (!reports.empty()) {
      if (auto r = cp.ReportProgressMany(reports); !r) return r.error();
    }
    if (!events_.empty()) {
      if (auto r = cp.AppendEvents(events_); !r) return r.error();
    }
    if (!completions_.empty()) {
      if (auto r = cp.CompleteSteps(completions_); !r) return r.error();
    }
    return {};
  };
  if (db::InTransaction(conn, all)) {
    progress_.clear();
    events_.clear();
    completions_.clear();
    return true;
  }
  progress_.clear();
  if (!conn.Healthy()) return false;
  auto one = [this](auto& pending, auto write, const char* what) {
    if (pending.empty()) return;
    auto r = write(pending);
    if (r) {
      pending.clear();
    } else if (!r.error().retryable) {
      log_.Error(fmt::format("dropping {} {} the control plane refuses", pending.size(), what), {},
                 {{"detail", r.error().message}});
      pending.clear();
    }
  };
  // In a transaction of its own: more than one append_events call's worth (after an outage)
  // is written whole or not at all, so a retry does not write the first calls twice.
  one(events_, [&cp, &conn](const auto& v) {
    return db::InTransaction(conn, [&](db::Connection&) { return cp.AppendEvents(v); });
  }, "event(s)");
  one(completions_, [&cp](const auto& v) { return cp.CompleteSteps(v); }, "completion(s)");
  return true;
}

}  // namespace dcops::dispatcher
