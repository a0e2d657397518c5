#pragma once
// Runs fn(0) … fn(n-1) on up to `workers` threads (the caller's among them) and returns when
// every call has returned. Indexes are handed out in order, one at a time, so at most
// `workers` calls run at once. For bounded fan-out of blocking I/O (a few requests in flight
// to one endpoint), not for CPU work.
//
// Blocking: yes. Thread-safety: fn is called from several threads at once and must be safe so;
// it must not throw.
#include <cstddef>
#include <functional>

namespace dcops {

void ForEachIndex(std::size_t n, int workers, const std::function<void(std::size_t)>& fn);

}  // namespace dcops
