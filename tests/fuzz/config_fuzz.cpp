// What operators write: a DCOPS_CONFIG_FILE (KEY=value lines), durations, and the dispatcher's
// limits file (JSON). The first byte picks the reader.
#include "dcops/common/config.hpp"
#include "fuzz_target.hpp"
#include "limits.hpp"

FUZZ_TARGET {
  if (size == 0) return 0;
  const std::string text = dcops::fuzz::Text(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: (void)dcops::ParseEnvFile(text, "fuzz.env"); break;
    case 1:
      if (auto d = dcops::ParseDuration(text)) dcops::fuzz::Expect(d->count() >= 0, "a duration is never negative");
      break;
    default:
      if (auto limits = dcops::dispatcher::ParseLimitsJson(text)) {
        for (const auto& [kind, rule] : limits->by_kind) {
          dcops::fuzz::Expect(rule.total >= 1 && rule.mutating >= 0 && rule.min_interval_ms >= 0,
                              "accepted limits allow at least one step and never a negative count");
        }
      }
      break;
  }
  return 0;
}
