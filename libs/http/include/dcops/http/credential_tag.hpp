#pragma once
// A tag that changes when a credential changes, for keying sessions kept between steps: a
// session opened with an old password must not outlive the password (an operator who rotates
// or breaks a credential expects the next step to use it). The tag is a SHA-256 over a random
// key drawn once per process, the user name and the password: equal credentials give equal
// tags within this process, and the tag says nothing about the password outside it. Still
// treated as secret-derived: kept in memory only, never logged or journaled.
//
// Thread-safety: safe from any thread.
#include <string>

namespace dcops::http {

std::string CredentialTag(const std::string& username, const std::string& password);

}  // namespace dcops::http
