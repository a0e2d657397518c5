#include "dcops/http/client.hpp"

#include <algorithm>
#include <charconv>

namespace dcops::http {
namespace {

bool RetryableTransportError(const Error& e, bool idempotent) {
  // Never reached the server, or dropped before the request went out: safe for a POST too.
  if (e.code == "http.connect" || e.code == "http.dns" || e.code == "http.reset") return true;
  // The request may have taken effect.
  if (e.code == "http.timeout" || e.code == "http.closed" || e.code == "http.transport") return idempotent;
  return false;
}

bool RetryableStatus(int status, const Request& request, const RetryPolicy& policy) {
  if (std::find(request.extra_retry_statuses.begin(), request.extra_retry_statuses.end(),
                status) != request.extra_retry_statuses.end()) {
    return true;
  }
  return request.Idempotent() &&
         std::find(policy.retry_statuses.begin(), policy.retry_statuses.end(), status) !=
             policy.retry_statuses.end();
}

}  // namespace

Client::Client(ClientOptions options, Transport& transport, Clock& clock)
    : options_(std::move(options)), transport_(transport), clock_(clock) {}

void Client::WaitForPacing(const std::string& host, std::chrono::milliseconds interval) {
  if (interval.count() <= 0) return;
  Clock::SteadyTime start;
  {
    // Reserve the next slot for this host, then wait for it outside the lock.
    std::lock_guard lock(mu_);
    const auto now = clock_.Steady();
    auto& next = next_start_[host];
    start = std::max(now, next);
    next = start + interval;
  }
  const auto now = clock_.Steady();
  if (start > now) clock_.SleepFor(start - now);
}

std::chrono::milliseconds Client::RetryDelay(int retry, const Response* response) {
  if (response != nullptr) {
    const std::string after = response->Header("Retry-After");
    int seconds = 0;
    auto [ptr, ec] = std::from_chars(after.data(), after.data() + after.size(), seconds);
    if (!after.empty() && ec == std::errc() && ptr == after.data() + after.size() && seconds >= 0) {
      return std::min(std::chrono::milliseconds(seconds * 1000LL), options_.retry.max_retry_after);
    }
  }
  std::lock_guard lock(mu_);
  return options_.retry.backoff.Delay(retry, rng_);
}

Result<Response> Client::Execute(const Request& request) {
  const std::string host = HostOf(request.url);
  const int max_attempts = std::max(1, options_.retry.max_attempts);
  for (int attempt = 1;; ++attempt) {
    WaitForPacing(host, request.min_interval.value_or(options_.min_interval));
    auto result = transport_.Send(request, options_);
    if (result) result->attempts = attempt;
    const bool last = attempt >= max_attempts;
    if (result) {
      if (last || !RetryableStatus(result->status, request, options_.retry)) return result;
      clock_.SleepFor(RetryDelay(attempt, &*result));
      continue;
    }
    if (last || !RetryableTransportError(result.error(), request.Idempotent())) {
      Error e = result.error();
      if (attempt > 1) e.message += " (after " + std::to_string(attempt) + " attempts)";
      return e;
    }
    clock_.SleepFor(RetryDelay(attempt, nullptr));
  }
}

}  // namespace dcops::http
