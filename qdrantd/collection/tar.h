// A minimal POSIX ustar writer and reader for snapshot archives: regular files only, names up
// to 100 bytes, sizes below 8 GiB. Enough to carry SQLite files and JSON. Thread: any.
#pragma once

#include <string>
#include <vector>

#include "libshared/status.h"

namespace qd::collection {

struct TarEntry {
  std::string name;  // relative path inside the archive
  std::string path;  // file on disk (writer: source; reader: where it was extracted)
};

// Writes `entries` into `archive` (created or truncated) and fsyncs it.
Status WriteTar(const std::string& archive, const std::vector<TarEntry>& entries);
// Extracts every regular file of `archive` under `dir`. Names with ".." or a leading "/" are
// refused (kInvalidArgument), so an archive cannot write outside `dir`.
Result<std::vector<TarEntry>> ExtractTar(const std::string& archive, const std::string& dir);

// fsync(2) of a file (or a directory) by its path.
Status FsyncPath(const std::string& path);

// SHA-256 of a file's bytes as lowercase hex.
Result<std::string> Sha256File(const std::string& path);

}  // namespace qd::collection
