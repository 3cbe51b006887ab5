// Logging to stderr with a process-wide level. Lines look like
//   2026-11-24T21:30:00.123Z INFO  qdrantd: listening on 0.0.0.0:6333
// Thread: any; each line is written with one write(2) so lines never interleave.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace qd::log {

enum class Level { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

// Parses Qdrant's log_level: a plain level ("debug", "INFO") or an env-filter list such as
// "TRACE,raft::raft=info,tonic=info", whose first bare level is the default level. Returns
// nullopt when no level can be found in it; the caller then degrades to kInfo and warns.
std::optional<Level> ParseLevel(std::string_view text);
std::string_view LevelName(Level level);

void SetLevel(Level level);
Level GetLevel();
bool Enabled(Level level);
void Write(Level level, std::string_view message);

}  // namespace qd::log

#define QD_LOG(level, msg)                                                                   \
  do {                                                                                       \
    if (::qd::log::Enabled(::qd::log::Level::level)) ::qd::log::Write(::qd::log::Level::level, (msg)); \
  } while (0)
#define QD_LOG_DEBUG(msg) QD_LOG(kDebug, msg)
#define QD_LOG_INFO(msg) QD_LOG(kInfo, msg)
#define QD_LOG_WARN(msg) QD_LOG(kWarn, msg)
#define QD_LOG_ERROR(msg) QD_LOG(kError, msg)
