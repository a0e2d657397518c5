#pragma once
// Small helpers shared by dispatch_core.cpp and dispatch_claims.cpp (the two halves of
// DispatchCore). Internal to the dispatcher; pure functions, thread-safe.

#include <string>

#include "dcops/common/result.hpp"

namespace dcops::dispatcher::core_detail {

// A write's outcome as a Status (the value, an outcome string, is not needed here).
template <typename T>
Status Done(const Result<T>& r) {
  if (!r) return r.error();
  return {};
}

// The trace id of a W3C traceparent ("00-<32 hex>-<16 hex>-<2 hex>"), or "" for none.
inline std::string TraceId(const std::string& traceparent) {
  return traceparent.size() > 35 ? traceparent.substr(3, 32) : "";
}

}  // namespace dcops::dispatcher::core_detail
