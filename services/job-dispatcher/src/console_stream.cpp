#include "console_stream.hpp"

#include <rapidjson/document.h>

namespace dcops::dispatcher {

std::string SseFrame(const std::string& event, const std::string& data, const std::string& id) {
  // A line of data ends at CR, LF or CRLF (the SSE grammar): each becomes a data: line of its
  // own, so nothing in the data can end the message or start a field.
  std::string out = "event: " + event + "\ndata: ";
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\r' || data[i] == '\n') {
      if (data[i] == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      out += "\ndata: ";
    } else {
      out += data[i];
    }
  }
  out += "\n";
  if (!id.empty()) out += "id: " + id + "\n";
  return out + "\n";
}

void ConsoleStream::SendIfChanged(Round& round, const std::string& event, const std::string& body) {
  auto& last = sent_[event];
  if (last == body) return;
  last = body;
  round.frames += SseFrame(event, body);
}

bool ConsoleStream::Usable(Round& round, const ApiResponse& answer, std::string& problem) {
  if (answer.status == 401) {
    round.frames += SseFrame("signed_out", "{}");
    round.end = true;
    return false;
  }
  if (answer.status != 200) {
    if (problem.empty()) problem = answer.body;
    return false;
  }
  return true;
}

ConsoleStream::Round ConsoleStream::Next(const Get& get) {
  Round round;
  std::string problem;  // this round's first, if any
  struct Part {
    const char* event;
    std::string path;
    std::map<std::string, std::string> query;
  };
  std::vector<Part> parts = {{"jobs", "/api/v1/jobs", {{"limit", "100"}}},
                             {"agents", "/api/v1/agents", {}},
                             {"limits", "/api/v1/limits", {}}};
  if (!job_id_.empty()) parts.push_back({"job", "/api/v1/jobs/" + job_id_, {}});
  for (const auto& part : parts) {
    auto answer = get(part.path, part.query);
    if (Usable(round, answer, problem)) {
      SendIfChanged(round, part.event, answer.body);
    } else if (round.end) {
      return round;
    }
  }
  if (!job_id_.empty() && problem.empty()) {
    auto answer = get("/api/v1/jobs/" + job_id_ + "/events",
                      {{"after", std::to_string(after_)}, {"limit", std::to_string(kEventsPerRound)}});
    if (Usable(round, answer, problem)) {
      rapidjson::Document d;
      d.Parse(answer.body.c_str());
      if (!d.HasParseError() && d.IsObject() && d.HasMember("events") && d["events"].IsArray() &&
          !d["events"].Empty()) {
        const auto& events = d["events"].GetArray();
        const auto& last = events[events.Size() - 1];
        if (last.IsObject() && last.HasMember("id") && last["id"].IsInt64()) {
          after_ = static_cast<long>(last["id"].GetInt64());
        }
        round.frames += SseFrame("events", answer.body, std::to_string(after_));
        round.more = events.Size() >= static_cast<rapidjson::SizeType>(kEventsPerRound);
      }
    } else if (round.end) {
      return round;
    }
  }
  // A problem is said once when it starts (or changes) and once when it is over.
  if (problem != problem_) round.frames += SseFrame("problem", problem.empty() ? R"({"error":null})" : problem);
  problem_ = problem;
  return round;
}

}  // namespace dcops::dispatcher
