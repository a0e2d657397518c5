#pragma once
// Sends one kind of inventory as JSON arrays no larger than a batch may be, whatever the
// number or size of the objects: Add() sends what it holds first when the next object would
// not fit. Sync steps use it so a page size or a server's details can never make a batch the
// stream refuses.
//
// Ownership: borrows the StepContext. Thread-safety: one thread. Blocking: Add and Flush send
// (see StepContext::SendInventory).
#include <cstddef>
#include <string>
#include <string_view>

#include "dcops/agent/step.hpp"

namespace dcops::agent {

class InventoryBatcher {
 public:
  InventoryBatcher(StepContext& ctx, std::string kind, std::size_t max_bytes = kMaxInventoryBatchBytes);
  // `object`: one encoded JSON value. Fails with the send's error, or agent.batch_too_large
  // (nothing sent, nothing held) when the object alone is over the limit.
  Status Add(std::string_view object);
  // Sends what is held (nothing when empty).
  Status Flush();
  int batches() const { return batches_; }
  int objects() const { return objects_; }  // sent in batches so far

 private:
  StepContext& ctx_;
  std::string kind_;
  std::size_t max_bytes_;
  std::string held_;  // "[a,b" while objects are held
  int held_count_ = 0;
  int batches_ = 0;
  int objects_ = 0;
};

}  // namespace dcops::agent
