// A directory under $TMPDIR that lives as long as the object and is removed with everything in
// it. Tests write config files and run daemons inside one, so parallel runs never collide.
#pragma once

#include <string>

namespace qd::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `content` to path()/relative_path, creating parent directories; returns the full path.
  std::string Write(const std::string& relative_path, const std::string& content) const;

 private:
  std::string path_;
};

}  // namespace qd::test
