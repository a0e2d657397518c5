#pragma once
// esxcli's output, read without trusting it. esxcli prints two shapes: tables (a header row,
// a row of dashes whose runs mark each column's width, then the rows) and records
// ("   Field: value" lines, a record's first line sometimes its title). The readers find
// columns and fields by name, so an added column or field changes nothing.
//
// Pure; thread-safe.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dcops/common/result.hpp"

namespace dcops::esxi {

// The rows of a table, each a map from header to cell (trimmed). esxcli.schema when there is
// no header and dashes row.
Result<std::vector<std::map<std::string, std::string>>> ParseEsxcliTable(const std::string& text);

// The "Field: value" lines of a record (trimmed; a field's later line wins).
std::map<std::string, std::string> ParseEsxcliRecord(const std::string& text);

// The build number in `esxcli system version get`'s "Build: Releasebuild-22380479" (5 to 12
// digits; nullopt otherwise).
std::optional<std::string> BuildOf(const std::string& build_field);

// The build an image profile's name carries: VMware's "ESXi-8.0U2b-23305546-standard", a
// vendor's "DEL-ESXi_802.22380479-A04": the one run of 7 to 12 digits. nullopt when there is
// none, or more than one (a guess would be a wrong answer).
std::optional<std::string> BuildInProfileName(const std::string& profile);

// The build of the esx-base VIB among "VIBs Installed: VMware_bootbank_esx-base_8.0.2-0.25.23305546, …".
std::optional<std::string> EsxBaseBuild(const std::string& vibs);

// Orders two build numbers (digit strings, any length): <0, 0, >0.
int CompareBuilds(const std::string& a, const std::string& b);

// Byte counts as esxcli prints them ("5368709120"); nullopt for anything else.
std::optional<long long> EsxcliBytes(const std::string& text);

}  // namespace dcops::esxi
