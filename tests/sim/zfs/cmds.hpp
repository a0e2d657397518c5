// Entry points of the three command families and the pieces they share.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "state.hpp"

namespace zsim {

int zfs_main(const std::string& dir, const std::vector<std::string>& args);
int zpool_main(const std::string& dir, const std::vector<std::string>& args);
int admin_main(const std::string& dir, const std::vector<std::string>& args);

// zfs list / zfs get (props.cpp)
int zfs_list(State& st, const std::vector<std::string>& args);
int zfs_get(State& st, const std::vector<std::string>& args);
// zfs send / receive (zfs_send.cpp, zfs_recv.cpp); they take the lock themselves.
int zfs_send(const std::string& dir, const std::vector<std::string>& args);
int zfs_receive(const std::string& dir, const std::vector<std::string>& args);

// getopt(3)-like parsing of "-Hp -o x -d1" against a spec such as "Hpo:d:". Options end at the
// first non-option or "--". Unknown options and missing arguments end the command with OpenZFS's
// text and the command's usage, exit 2.
struct Opts {
  std::vector<std::pair<char, std::string>> list;
  std::vector<std::string> rest;
  bool has(char c) const;
  std::vector<std::string> all(char c) const;
};
Opts getopts(const std::vector<std::string>& args, const std::string& spec, const std::string& usage);
[[noreturn]] void usage_fail(const std::string& usage, const std::string& msg = "");

// A named object of any type.
struct Obj {
  std::string name, type;
  Dataset* ds = nullptr;
  Snapshot* snap = nullptr;
  size_t snap_index = 0;
  Bookmark* bm = nullptr;
};
std::optional<Obj> find_obj(State& st, const std::string& name);
std::string resume_token_of(const Dataset& d);
std::string mountpoint_of(State& st, const std::string& ds);

}  // namespace zsim
