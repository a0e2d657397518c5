#include "quiet_period.hpp"

#include <fmt/format.h>
#include <rapidjson/document.h>

#include <algorithm>

namespace dcops::esxi {
namespace {

using std::chrono::seconds;

std::optional<std::int64_t> SavedEnd(const std::string& checkpoint_json) {
  if (checkpoint_json.empty()) return std::nullopt;
  rapidjson::Document d;
  d.Parse(checkpoint_json.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("quiet_until") || !d["quiet_until"].IsInt64()) return std::nullopt;
  return d["quiet_until"].GetInt64();
}

std::int64_t EpochSeconds(Clock& clock) {
  return std::chrono::duration_cast<seconds>(clock.Now().time_since_epoch()).count();
}

}  // namespace

std::optional<agent::StepOutcome> WaitQuietPeriod(agent::StepContext& ctx, seconds quiet) {
  if (quiet.count() <= 0) return std::nullopt;
  const std::int64_t now = EpochSeconds(ctx.clock());
  std::int64_t until = 0;
  if (auto saved = SavedEnd(ctx.assignment().checkpoint_json)) {
    until = *saved;
    ctx.Event(LogLevel::kInfo, until > now ? fmt::format("resuming the quiet period: {} s left", until - now)
                                           : std::string("the quiet period ended while the step was away"));
  } else {
    until = now + quiet.count();
    if (auto st = ctx.SaveCheckpoint(fmt::format(R"({{"quiet_until":{}}})", until)); !st) {
      return agent::StepOutcome::Failed(st.error());
    }
    ctx.Event(LogLevel::kInfo, fmt::format("quiet period of {} s for DRS to settle the cluster before this host", quiet.count()));
  }
  for (std::int64_t left = until - now; left > 0; left = until - EpochSeconds(ctx.clock())) {
    ctx.Progress(2, fmt::format("quiet period for DRS: {} s left", left));
    if (!ctx.Wait(std::chrono::seconds(std::min<std::int64_t>(left, 5)))) {
      return agent::StepOutcome::Cancelled("cancelled during the quiet period; nothing was changed");
    }
  }
  return std::nullopt;
}

}  // namespace dcops::esxi
