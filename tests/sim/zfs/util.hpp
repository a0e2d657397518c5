// Small helpers shared by the zfs/zpool stand-in: exiting with OpenZFS-shaped errors, number and
// time formatting, name encoding for the state file, and column output.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

namespace zsim {

// Thrown to end the command with this exit status once everything has been written.
struct Exit {
  int code;
};

// Writes text to stderr (a newline is added when missing) and ends with `code`.
[[noreturn]] void fail(int code, const std::string& text);
void out(const std::string& text);  // stdout, buffered
void err(const std::string& text);  // stderr, unbuffered

std::vector<std::string> split(const std::string& s, char sep);
bool starts_with(const std::string& s, const std::string& prefix);
bool parse_u64(const std::string& s, uint64_t& v);

// zfs_nicenum: 1024-based, at most 5 characters ("0B", "512B", "1.50K", "97.7K", "24K").
std::string nicebytes(uint64_t n);
// The same without the byte suffix for small numbers ("0", "12", "1.20K"), for error counters.
std::string nicenum(uint64_t n);

// "%a %b %e %H:%M %Y" (zfs get/list creation, zfs holds).
std::string time_short(std::time_t t);
// ctime(3) without the newline: "%a %b %e %H:%M:%S %Y" (zpool status).
std::string time_ctime(std::time_t t);

// Percent-encoding of anything that is not [A-Za-z0-9_.:/@#-] (the state file is whitespace-split).
std::string enc(const std::string& s);
std::string dec(const std::string& s);

uint64_t random64();
std::string hex64(uint64_t v);

// Columns separated by two spaces, each as wide as its widest cell; right-aligned columns are padded
// on the left; the last column is not padded when left-aligned. With `scripted`, tab-separated and
// without a header.
struct Table {
  std::vector<std::string> header;
  std::vector<bool> right;
  std::vector<std::vector<std::string>> rows;
  std::string render(bool scripted, bool with_header = true) const;
};

}  // namespace zsim
