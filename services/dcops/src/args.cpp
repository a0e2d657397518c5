#include "args.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <regex>
#include <set>

namespace dcops::cli {
namespace {

const std::set<std::string> kBooleanFlags{"--json", "--watch", "--password-stdin", "--key-stdin", "--help", "--no-color",
                                             "--first-contact", "--unrestricted", "--retry", "--evacuate", "--skip-host"};

std::string ToJson(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

}  // namespace

std::vector<std::string> SplitCommas(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    std::size_t at = 0;
    while (at <= v.size()) {
      const auto comma = v.find(',', at);
      const auto end = comma == std::string::npos ? v.size() : comma;
      if (end > at) out.push_back(v.substr(at, end - at));
      at = end + 1;
    }
  }
  return out;
}

bool IsUuid(const std::string& text) {
  static const std::regex re("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
  return std::regex_match(text, re);
}

std::string Invocation::Get(const std::string& flag, const std::string& fallback) const {
  auto it = flags.find(flag);
  return it == flags.end() || it->second.empty() ? fallback : it->second.back();
}

Result<Invocation> ParseArgs(const std::vector<std::string>& argv) {
  Invocation inv;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a.rfind("--", 0) != 0 || a == "--") {
      inv.words.push_back(a);
      continue;
    }
    const auto eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (kBooleanFlags.count(name)) {
      if (eq != std::string::npos) return MakeError("cli.usage", name + " takes no value");
      inv.flags[name].push_back("true");
    } else if (eq != std::string::npos) {
      inv.flags[name].push_back(a.substr(eq + 1));
    } else if (i + 1 < argv.size()) {
      inv.flags[name].push_back(argv[++i]);
    } else {
      return MakeError("cli.usage", name + " needs a value");
    }
  }
  return inv;
}

Result<std::string> ParamsJson(const std::vector<std::string>& pairs) {
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  static const std::regex key_re("^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*$");
  for (const auto& pair : pairs) {
    const auto eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return MakeError("cli.param", "--param " + pair + ": expected key=value");
    }
    const std::string key = pair.substr(0, eq);
    const std::string text = pair.substr(eq + 1);
    if (!std::regex_match(key, key_re)) {
      return MakeError("cli.param", "--param " + key + ": a key is letters, digits and _ (dotted for nesting)");
    }
    rapidjson::Value value;
    rapidjson::Document parsed(&alloc);
    parsed.Parse(text.c_str());
    if (!parsed.HasParseError() && !text.empty()) {
      value.CopyFrom(parsed, alloc);
    } else {
      value.SetString(text.c_str(), static_cast<rapidjson::SizeType>(text.size()), alloc);
    }
    rapidjson::Value* at = &doc;
    std::size_t start = 0;
    for (;;) {
      const auto dot = key.find('.', start);
      const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      rapidjson::Value name(part.c_str(), static_cast<rapidjson::SizeType>(part.size()), alloc);
      if (dot == std::string::npos) {
        if (at->HasMember(part.c_str())) return MakeError("cli.param", "--param " + key + ": given twice");
        at->AddMember(name, value, alloc);
        break;
      }
      if (!at->HasMember(part.c_str())) at->AddMember(name, rapidjson::Value(rapidjson::kObjectType), alloc);
      at = &(*at)[part.c_str()];
      if (!at->IsObject()) return MakeError("cli.param", "--param " + key + ": " + part + " is not an object");
      start = dot + 1;
    }
  }
  return ToJson(doc);
}

Result<std::string> ScopeJson(const std::vector<std::string>& targets, bool first_contact) {
  static const std::regex range_re("^[0-9.]+(/[0-9]{1,2}|-[0-9.]+)$");
  const auto values = SplitCommas(targets);
  if (values.empty()) return MakeError("cli.target", "--target: at least one is needed (\"all\", a server id, a BMC address or a range)");
  std::string kind;
  rapidjson::Document doc(rapidjson::kObjectType);
  auto& alloc = doc.GetAllocator();
  // A sync names its endpoint ("ome:<id>", "vcenter:<id>"), cluster work its cluster
  // ("cluster:<id>"), ZFS work its host ("zfs:<id>"), one per job.
  for (const auto& [prefix, key] : {std::pair{"ome:", "ome_endpoint_id"}, std::pair{"vcenter:", "vcenter_id"},
                                    std::pair{"cluster:", "cluster_id"}, std::pair{"zfs:", "zfs_host_id"}}) {
    const std::string p = prefix;
    if (values[0].rfind(p, 0) != 0) continue;
    const std::string id = values[0].substr(p.size());
    if (values.size() != 1 || !IsUuid(id)) {
      return MakeError("cli.target", "--target " + p + "<id>: exactly one endpoint, by its id");
    }
    doc.AddMember(rapidjson::StringRef(key), rapidjson::Value(id.c_str(), static_cast<rapidjson::SizeType>(id.size()), alloc), alloc);
    // A ZFS host is reached over SSH: an admin's job may pin its key on first contact.
    if (first_contact && p == "zfs:") doc.AddMember("first_contact", true, alloc);
    return ToJson(doc);
  }
  // ESXi hosts by id ("esxi:<id>", several per job).
  if (values[0].rfind("esxi:", 0) == 0) {
    rapidjson::Value hosts(rapidjson::kArrayType);
    for (const auto& v : values) {
      const std::string id = v.rfind("esxi:", 0) == 0 ? v.substr(5) : "";
      if (!IsUuid(id)) return MakeError("cli.target", "--target esxi:<id>[,esxi:<id>…]: ESXi hosts by their ids only, got " + v);
      hosts.PushBack(rapidjson::Value(id.c_str(), static_cast<rapidjson::SizeType>(id.size()), alloc), alloc);
    }
    doc.AddMember("vcenter_host_ids", hosts, alloc);
    if (first_contact) doc.AddMember("first_contact", true, alloc);
    return ToJson(doc);
  }
  rapidjson::Value list(rapidjson::kArrayType);
  for (const auto& v : values) {
    const std::string this_kind = v == "all" ? "all_servers"
                                  : IsUuid(v) ? "server_ids"
                                  : std::regex_match(v, range_re) ? "ranges"
                                                                  : "bmc_addresses";
    if (!kind.empty() && kind != this_kind) {
      return MakeError("cli.target", "--target " + v + ": cannot mix " + kind + " and " + this_kind + " in one job");
    }
    kind = this_kind;
    if (kind != "all_servers") list.PushBack(rapidjson::Value(v.c_str(), static_cast<rapidjson::SizeType>(v.size()), alloc), alloc);
  }
  if (kind == "all_servers") {
    doc.AddMember("all_servers", true, alloc);
  } else {
    doc.AddMember(rapidjson::Value(kind.c_str(), static_cast<rapidjson::SizeType>(kind.size()), alloc), list, alloc);
  }
  if (first_contact) doc.AddMember("first_contact", true, alloc);
  return ToJson(doc);
}

}  // namespace dcops::cli
