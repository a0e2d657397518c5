#include "stream.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>
#include <thread>

#include "util.hpp"

namespace zsim {

uint64_t checksum(const unsigned char* p, size_t n) {
  uint64_t a = 0x9E3779B97F4A7C15ull, b = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    a += w;
    b += a;
  }
  uint64_t w = 0;
  if (i < n) {
    std::memcpy(&w, p + i, n - i);
    a += w;
    b += a;
  }
  return (a ^ (b * 0xff51afd7ed558ccdull)) + n;
}

std::string StreamHeader::encode() const {
  std::ostringstream o;
  o << "toname=" << enc(toname) << "\nfromname=" << enc(fromname) << "\ntoguid=" << toguid
    << "\nfromguid=" << fromguid << "\ncreation=" << creation << "\ntype=" << type
    << "\nraw=" << (raw ? 1 : 0) << "\nencryption=" << enc(encryption)
    << "\nresuming=" << (resuming ? 1 : 0) << "\noffset=" << offset << "\ntotal=" << total
    << "\nindex=" << index << "\ncount=" << count << "\nflags=" << enc(flags) << "\n";
  for (const auto& op : ops) {
    if (op.put)
      o << "put=" << enc(op.name) << " " << op.size << "\n";
    else
      o << "del=" << enc(op.name) << "\n";
  }
  return o.str();
}

std::optional<StreamHeader> StreamHeader::decode(const std::string& text) {
  StreamHeader h;
  std::istringstream in(text);
  std::string line;
  bool have_to = false;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    uint64_t n = 0;
    if (k == "toname") {
      h.toname = dec(v);
      have_to = true;
    } else if (k == "fromname") {
      h.fromname = dec(v);
    } else if (k == "type") {
      h.type = v;
    } else if (k == "encryption") {
      h.encryption = dec(v);
    } else if (k == "flags") {
      h.flags = dec(v);
    } else if (k == "put") {
      auto sp = v.rfind(' ');
      if (sp == std::string::npos || !parse_u64(v.substr(sp + 1), n)) return std::nullopt;
      h.ops.push_back(FileOp{true, dec(v.substr(0, sp)), n});
    } else if (k == "del") {
      h.ops.push_back(FileOp{false, dec(v), 0});
    } else {
      if (!parse_u64(v, n)) return std::nullopt;
      if (k == "toguid") h.toguid = n;
      else if (k == "fromguid") h.fromguid = n;
      else if (k == "creation") h.creation = n;
      else if (k == "raw") h.raw = n != 0;
      else if (k == "resuming") h.resuming = n != 0;
      else if (k == "offset") h.offset = n;
      else if (k == "total") h.total = n;
      else if (k == "index") h.index = static_cast<uint32_t>(n);
      else if (k == "count") h.count = static_cast<uint32_t>(n);
    }
  }
  if (!have_to) return std::nullopt;
  return h;
}

namespace {

void put_header(unsigned char* b, uint32_t type, uint32_t len, uint64_t ck) {
  uint64_t m = kStreamMagic;
  std::memcpy(b, &m, 8);
  std::memcpy(b + 8, &type, 4);
  std::memcpy(b + 12, &len, 4);
  std::memcpy(b + 16, &ck, 8);
}

struct Writer {
  int fd;
  uint64_t* budget;
  uint64_t rate;
  std::string& error;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  uint64_t written = 0;
  bool cut = false;

  bool write_all(const unsigned char* p, size_t n) {
    if (budget) {
      if (*budget < n) {
        n = static_cast<size_t>(*budget);
        cut = true;
      }
      *budget -= n;
    }
    size_t off = 0;
    while (off < n) {
      size_t piece = n - off;
      if (rate > 0) piece = std::min<size_t>(piece, std::max<uint64_t>(rate / 10, 1));
      ssize_t w = ::write(fd, p + off, piece);
      if (w < 0) {
        if (errno == EINTR) continue;
        error = std::strerror(errno);
        return false;
      }
      off += static_cast<size_t>(w);
      written += static_cast<uint64_t>(w);
      if (rate > 0) {
        auto due = start + std::chrono::microseconds(written * 1000000 / rate);
        std::this_thread::sleep_until(due);
      }
    }
    return !cut;
  }
};

}  // namespace

uint64_t substream_size(const StreamHeader& h) {
  uint64_t n = kRecHeader + h.encode().size() + kRecHeader;  // BEGIN + END
  uint64_t cum = 0;
  for (const auto& op : h.ops) {
    if (!op.put) continue;
    uint64_t start = h.offset > cum ? std::min(h.offset - cum, op.size) : 0;
    uint64_t left = op.size - start;
    n += left + ((left + kChunk - 1) / kChunk) * kRecHeader;
    cum += op.size;
  }
  return n;
}

bool write_substream(int outfd, const SubstreamPlan& plan, uint64_t* budget, uint64_t rate,
                     std::string& error) {
  Writer w{outfd, budget, rate, error};
  std::string text = plan.header.encode();
  std::vector<unsigned char> buf(kRecHeader + kChunk);
  put_header(buf.data(), kRecBegin, static_cast<uint32_t>(text.size()),
             checksum(reinterpret_cast<const unsigned char*>(text.data()), text.size()));
  std::memcpy(buf.data() + kRecHeader, text.data(), text.size());
  if (!w.write_all(buf.data(), kRecHeader + text.size())) return false;
  uint64_t cum = 0, sent = 0;
  size_t fdi = 0;
  for (const auto& op : plan.header.ops) {
    if (!op.put) continue;
    int fd = plan.fds[fdi++];
    uint64_t pos = plan.header.offset > cum ? std::min(plan.header.offset - cum, op.size) : 0;
    while (pos < op.size) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, op.size - pos));
      size_t got = 0;
      while (got < n) {
        ssize_t r = ::pread(fd, buf.data() + kRecHeader + got, n - got,
                            static_cast<off_t>(pos + got));
        if (r <= 0) {
          if (r < 0 && errno == EINTR) continue;
          error = r < 0 ? std::strerror(errno) : "Input/output error";
          return false;
        }
        got += static_cast<size_t>(r);
      }
      put_header(buf.data(), kRecData, static_cast<uint32_t>(n), checksum(buf.data() + kRecHeader, n));
      if (!w.write_all(buf.data(), kRecHeader + n)) return false;
      pos += n;
      sent += n;
    }
    cum += op.size;
  }
  put_header(buf.data(), kRecEnd, 0, sent);
  return w.write_all(buf.data(), kRecHeader);
}

// ---- resume tokens ----

namespace {

uint32_t adler32(const std::string& s) {
  uint32_t a = 1, b = 0;
  for (unsigned char c : s) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

// fletcher-4's first word over the compressed bytes, as the token's second field.
uint64_t word_sum(const std::string& s) {
  uint64_t a = 0;
  for (size_t i = 0; i < s.size(); i += 4) {
    uint32_t w = 0;
    std::memcpy(&w, s.data() + i, std::min<size_t>(4, s.size() - i));
    a += w;
  }
  return a;
}

std::string to_hex(const std::string& s) {
  static const char* d = "0123456789abcdef";
  std::string r;
  for (unsigned char c : s) {
    r += d[c >> 4];
    r += d[c & 15];
  }
  return r;
}

bool from_hex(const std::string& h, std::string& out) {
  if (h.size() % 2) return false;
  out.clear();
  for (size_t i = 0; i < h.size(); i += 2) {
    auto v = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    int hi = v(h[i]), lo = v(h[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
  }
  return true;
}

}  // namespace

std::string encode_token(const Token& t) {
  std::ostringstream p;
  if (t.fromguid) p << "fromguid=" << t.fromguid << "\n";
  p << "object=" << t.object << "\noffset=" << t.offset << "\nbytes=" << t.bytes
    << "\ntoguid=" << t.toguid << "\ntoname=" << enc(t.toname) << "\n";
  for (const auto& f : t.flags) p << f << "\n";
  std::string payload = p.str();
  // A zlib stream with one stored deflate block (header 78 9c, like OpenZFS's tokens).
  std::string z = "\x78\x9c";
  uint16_t len = static_cast<uint16_t>(payload.size()), nlen = static_cast<uint16_t>(~len);
  z += '\x01';
  z += static_cast<char>(len & 0xff);
  z += static_cast<char>(len >> 8);
  z += static_cast<char>(nlen & 0xff);
  z += static_cast<char>(nlen >> 8);
  z += payload;
  uint32_t ad = adler32(payload);
  for (int s = 24; s >= 0; s -= 8) z += static_cast<char>((ad >> s) & 0xff);
  return "1-" + hex64(word_sum(z)) + "-" + hex64(payload.size()) + "-" + to_hex(z);
}

std::optional<Token> decode_token(const std::string& s, std::string& why) {
  auto parts = split(s, '-');
  if (parts.size() != 4) {
    why = "resume token is corrupt (invalid format)";
    return std::nullopt;
  }
  if (parts[0] != "1") {
    why = "resume token is corrupt (invalid version)";
    return std::nullopt;
  }
  std::string z;
  if (!from_hex(parts[3], z)) {
    why = "resume token is corrupt (payload is not hex-encoded)";
    return std::nullopt;
  }
  if (hex64(word_sum(z)) != parts[1]) {
    why = "resume token is corrupt (incorrect checksum)";
    return std::nullopt;
  }
  if (z.size() < 11 || static_cast<unsigned char>(z[0]) != 0x78 || z[2] != '\x01') {
    why = "resume token is corrupt (decompression failed)";
    return std::nullopt;
  }
  size_t len = static_cast<unsigned char>(z[3]) | (static_cast<size_t>(static_cast<unsigned char>(z[4])) << 8);
  if (7 + len + 4 != z.size()) {
    why = "resume token is corrupt (decompression failed)";
    return std::nullopt;
  }
  std::string payload = z.substr(7, len);
  if (hex64(payload.size()) != parts[2]) {
    why = "resume token is corrupt (decompression failed)";
    return std::nullopt;
  }
  Token t;
  bool have_name = false, have_guid = false;
  std::istringstream in(payload);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      t.flags.push_back(line);
      continue;
    }
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    uint64_t n = 0;
    if (k == "toname") {
      t.toname = dec(v);
      have_name = true;
      continue;
    }
    if (!parse_u64(v, n)) {
      why = "resume token is corrupt (nvlist_unpack failed)";
      return std::nullopt;
    }
    if (k == "toguid") {
      t.toguid = n;
      have_guid = true;
    } else if (k == "fromguid") {
      t.fromguid = n;
    } else if (k == "object") {
      t.object = n;
    } else if (k == "offset") {
      t.offset = n;
    } else if (k == "bytes") {
      t.bytes = n;
    }
  }
  if (!have_name || !have_guid) {
    why = "resume token is corrupt";
    return std::nullopt;
  }
  return t;
}

}  // namespace zsim
