#pragma once
// Names that callers choose and that end up in logs, the audit log and metrics labels (agent
// ids, API actors): letters, digits and . _ - : @ only, so no control character, quote or
// newline can forge a log line or an audit entry. Pure, thread-safe.
#include <cstddef>
#include <string_view>

namespace dcops {

// True when `name` is 1..max_length characters of [A-Za-z0-9._:@-].
bool IsPrintableName(std::string_view name, std::size_t max_length);

}  // namespace dcops
