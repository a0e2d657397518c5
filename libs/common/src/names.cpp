#include "dcops/common/names.hpp"

namespace dcops {

bool IsPrintableName(std::string_view name, std::size_t max_length) {
  if (name.empty() || name.size() > max_length) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == '-' || c == ':' || c == '@';
    if (!ok) return false;
  }
  return true;
}

}  // namespace dcops
