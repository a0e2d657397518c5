#pragma once
// What the CLI prints, from the API's JSON documents, without any I/O: tables for listings,
// the live frame of `job watch` (a progress bar per step), event lines.
//
// Thread-safety: pure functions.

#include <rapidjson/document.h>

#include <string>

namespace dcops::cli {

// "[#######-------------]" for 0..100 in `width` cells.
std::string ProgressBar(int percent, int width);

std::string JobsTable(const rapidjson::Value& jobs);
std::string AgentsTable(const rapidjson::Value& agents);
std::string CredentialSetsTable(const rapidjson::Value& sets);
// Identity conflicts: the id's first 8 digits (enough for `dcops conflict resolve`), kind,
// subject, status, how often seen, when last, and the resolver's sentence.
std::string ConflictsTable(const rapidjson::Value& conflicts);
// A conflict after a decision: "conflict ID resolved (assign SERVER)" and its subject and message.
std::string ConflictSummary(const rapidjson::Value& conflict);

// The job with one line per step: running and failed steps first, at most `max_steps`
// lines, then a count of the rest by status.
std::string JobFrame(const rapidjson::Value& job, int max_steps);
// "06:40:01 info  [idrac:…] sending ResetType PowerCycle" (the target when the step is known).
std::string EventLine(const rapidjson::Value& event, const rapidjson::Value& job);
// "progress [#####-----]  50%  5/10 steps, 1 failed": printed when it changes.
std::string ProgressLine(const rapidjson::Value& job);
// One line for a finished job: "job … succeeded: 10 steps, 0 failed".
std::string JobSummary(const rapidjson::Value& job);

bool IsFinished(const std::string& job_status);

}  // namespace dcops::cli
