// The stand-in's send stream and resume token.
//
// A stream is one or more substreams (one per snapshot; `zfs send -I` sends several). A substream
// is a BEGIN record carrying a text header (names, guids, the list of file changes), DATA records of
// at most 1 MiB of file bytes, each with its own checksum, and an END record with the data byte
// count. Every record starts with the 64-bit magic 0x2F5BACBAC (OpenZFS's DMU_BACKUP_MAGIC).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zsim {

constexpr uint64_t kStreamMagic = 0x2F5BACBACull;
constexpr uint32_t kRecBegin = 1, kRecData = 2, kRecEnd = 3;
constexpr size_t kRecHeader = 24;
constexpr size_t kChunk = 1u << 20;

uint64_t checksum(const unsigned char* p, size_t n);

struct FileOp {
  bool put = true;  // false: remove
  std::string name;
  uint64_t size = 0;
};

struct StreamHeader {
  std::string toname;  // sender's pool/ds@snap
  std::string fromname;  // sender's base as given ("" for full)
  uint64_t toguid = 0, fromguid = 0, creation = 0;
  std::string type = "filesystem";
  bool raw = false;
  std::string encryption = "off";
  bool resuming = false;
  uint64_t offset = 0;  // first data byte carried
  uint64_t total = 0;   // data bytes of the whole substream
  uint32_t index = 0, count = 1;
  std::string flags;  // token flags of the sender ("embedok,compressok,...")
  std::vector<FileOp> ops;

  std::string encode() const;
  static std::optional<StreamHeader> decode(const std::string& text);
};

// What `zfs send` emits for one snapshot: the header and, for each put op, an open fd of its bytes.
struct SubstreamPlan {
  StreamHeader header;
  std::vector<int> fds;  // one per put op, in order
};

uint64_t substream_size(const StreamHeader& h);

// Writes a substream to `outfd`. `budget` (if non-null) counts down the bytes still allowed by the
// send-abort-after fault; writing stops (returns false) when it reaches zero. `rate` > 0 throttles
// to that many bytes a second. Returns false and sets `error` on a write error.
bool write_substream(int outfd, const SubstreamPlan& plan, uint64_t* budget, uint64_t rate,
                     std::string& error);

// Resume tokens: "1-<checksum hex>-<payload length hex>-<zlib stream hex>", the shape of OpenZFS's.
struct Token {
  std::string toname;
  uint64_t toguid = 0, fromguid = 0, object = 0, offset = 0, bytes = 0;
  std::vector<std::string> flags;
};
std::string encode_token(const Token& t);
// On failure returns nullopt and sets `why` to OpenZFS's "resume token is corrupt (...)" text.
std::optional<Token> decode_token(const std::string& s, std::string& why);

}  // namespace zsim
