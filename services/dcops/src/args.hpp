#pragma once
// Command-line words into request documents, without any I/O: `--param k=v` into the job's
// params object, `--target …` into a target scope, and argv into verbs and flags.
//
// Thread-safety: pure functions.

#include <map>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::cli {

struct Invocation {
  std::vector<std::string> words;                          // verbs and positionals, in order
  std::map<std::string, std::vector<std::string>> flags;   // "--param" -> every value given
  bool Has(const std::string& flag) const { return flags.count(flag) > 0; }
  // The last value of a flag, or `fallback`.
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
};

// "0f8fad5b-d9cb-469f-a165-70867728950e": a job or server id.
bool IsUuid(const std::string& text);

// Flags that take no value; every other "--x" takes the next word (or "--x=value").
Result<Invocation> ParseArgs(const std::vector<std::string>& argv);

// `k=v` pairs into a JSON object. A value that parses as JSON (a number, true/false/null,
// an array, an object or a quoted string) is taken as such; anything else is a string:
//   action=On  graceful_timeout_seconds=300  components=["system","firmware"]
// Keys may be dotted to build nested objects (bios.BootMode=Uefi).
Result<std::string> ParamsJson(const std::vector<std::string>& pairs);

// Targets into a target scope. Each value is one of: "all" (every server), a server UUID,
// an IPv4 CIDR or a.b.c.d-a.b.c.e range (for discovery), or a BMC address (host[:port]).
// Comma-separated lists are accepted. Kinds cannot be mixed in one job.
// Values given as repeated flags and/or comma-separated, empty parts dropped.
std::vector<std::string> SplitCommas(const std::vector<std::string>& values);

// With `first_contact`, the scope allows credentials to reach BMCs whose certificate is not
// yet pinned (an admin's job only; the control plane refuses it from anyone else).
Result<std::string> ScopeJson(const std::vector<std::string>& targets, bool first_contact = false);

}  // namespace dcops::cli
