#include "dcops/agent/inventory_batcher.hpp"

#include <fmt/format.h>

namespace dcops::agent {

InventoryBatcher::InventoryBatcher(StepContext& ctx, std::string kind, std::size_t max_bytes)
    : ctx_(ctx), kind_(std::move(kind)), max_bytes_(max_bytes) {}

Status InventoryBatcher::Add(std::string_view object) {
  // "[" + object + "]" alone, or "," + object after what is held, plus the closing "]".
  if (object.size() + 2 > max_bytes_) {
    return MakeError("agent.batch_too_large",
                     fmt::format("one {} object is {} bytes, over the {}-byte batch limit", kind_, object.size(), max_bytes_));
  }
  if (!held_.empty() && held_.size() + 1 + object.size() + 1 > max_bytes_) {
    if (auto st = Flush(); !st) return st;
  }
  held_ += held_.empty() ? '[' : ',';
  held_.append(object);
  ++held_count_;
  return Status();
}

Status InventoryBatcher::Flush() {
  if (held_.empty()) return Status();
  held_ += ']';
  std::string batch;
  batch.swap(held_);
  const int count = held_count_;
  held_count_ = 0;
  if (auto st = ctx_.SendInventory(kind_, std::move(batch)); !st) return st;
  ++batches_;
  objects_ += count;
  return Status();
}

}  // namespace dcops::agent
