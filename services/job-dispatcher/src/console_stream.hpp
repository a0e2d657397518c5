#pragma once
// One console's server-sent event stream (GET /api/v1/stream[?job=ID&after=N]): each round
// reads what the page shows through the API itself (so the caller's role, session and site
// are checked every round, and a session that ends ends its stream) and sends only what
// changed since the last round:
//
//   event: jobs     {"jobs": [...]}        the newest 100 jobs
//   event: agents   {"agents": [...]}
//   event: limits   {"limits": [...]}
//   event: job      the watched job with its steps              (with ?job=ID)
//   event: events   {"events": [...]} after the cursor, id: N   (with ?job=ID)
//   event: problem  {"error": {...}} once per new problem (a database away), then the
//                   stream goes on; {"error": null} when it is over
//   event: signed_out                 the session or token is no longer valid; the stream ends
//
// The first round sends everything (a reconnect gets a full snapshot). When should a round run
// is the HTTP layer's business (ChangeFeed); this class does no I/O of its own.
//
// Thread-safety: none; one per stream.
#include <functional>
#include <map>
#include <vector>
#include <string>

#include "api.hpp"

namespace dcops::dispatcher {

// One SSE message: `event`, then `data` split into data: lines, then `id` if given.
std::string SseFrame(const std::string& event, const std::string& data, const std::string& id = "");

class ConsoleStream {
 public:
  // Answers a GET of `path` with `query` as the stream's caller.
  using Get = std::function<ApiResponse(const std::string& path, const std::map<std::string, std::string>& query)>;
  static constexpr int kEventsPerRound = 500;

  // `job_id` empty: no job watched. `after_event`: the last event id the page holds.
  ConsoleStream(std::string job_id, long after_event) : job_id_(std::move(job_id)), after_(after_event) {}

  struct Round {
    std::string frames;  // to send now; empty when nothing changed
    bool more = false;   // events remain beyond this round's batch: run another at once
    bool end = false;    // the caller is signed out: send `frames` and close
  };
  Round Next(const Get& get);
  long after() const { return after_; }

 private:
  // Appends a frame for `event` when `body` differs from what was last sent under that name.
  void SendIfChanged(Round& round, const std::string& event, const std::string& body);
  // False when the answer ends the round (signed out: `round.end`) or is a problem (the
  // round's first is kept in `problem`).
  bool Usable(Round& round, const ApiResponse& answer, std::string& problem);

  std::string job_id_;
  long after_;
  std::map<std::string, std::string> sent_;
  std::string problem_;
};

}  // namespace dcops::dispatcher
