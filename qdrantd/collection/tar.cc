#include "qdrantd/collection/tar.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace qd::collection {
namespace {

constexpr size_t kBlock = 512;

void Octal(char* field, size_t width, uint64_t value) {
  // width includes the terminating NUL.
  std::snprintf(field, width, "%0*llo", static_cast<int>(width - 1), static_cast<unsigned long long>(value));
}

uint64_t ParseOctal(const char* field, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width && field[i]; ++i) {
    if (field[i] == ' ') continue;
    if (field[i] < '0' || field[i] > '7') break;
    v = v * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  return v;
}

}  // namespace

Status FsyncPath(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return Status::Internal("cannot open " + path + " to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  return rc == 0 ? Status::Ok() : Status::Internal("fsync " + path + " failed");
}

Status WriteTar(const std::string& archive, const std::vector<TarEntry>& entries) {
  {
    std::ofstream out(archive, std::ios::binary | std::ios::trunc);
    if (!out) return Status::Internal("cannot create " + archive);
    std::vector<char> buffer(1 << 20);
    for (const TarEntry& e : entries) {
      if (e.name.size() >= 100) return Status::Internal("tar: name too long: " + e.name);
      std::error_code ec;
      uint64_t size = std::filesystem::file_size(e.path, ec);
      if (ec) return Status::Internal("cannot read " + e.path + ": " + ec.message());
      char header[kBlock] = {};
      std::memcpy(header, e.name.data(), e.name.size());
      Octal(header + 100, 8, 0644);
      Octal(header + 108, 8, 0);
      Octal(header + 116, 8, 0);
      Octal(header + 124, 12, size);
      Octal(header + 136, 12, 0);
      header[156] = '0';
      std::memcpy(header + 257, "ustar", 6);
      std::memcpy(header + 263, "00", 2);
      std::memset(header + 148, ' ', 8);
      unsigned sum = 0;
      for (size_t i = 0; i < kBlock; ++i) sum += static_cast<unsigned char>(header[i]);
      std::snprintf(header + 148, 8, "%06o", sum);
      header[155] = ' ';
      out.write(header, kBlock);
      std::ifstream in(e.path, std::ios::binary);
      if (!in) return Status::Internal("cannot read " + e.path);
      uint64_t left = size;
      while (left > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
        in.read(buffer.data(), static_cast<std::streamsize>(n));
        if (static_cast<size_t>(in.gcount()) != n) return Status::Internal(e.path + " changed while archiving");
        out.write(buffer.data(), static_cast<std::streamsize>(n));
        left -= n;
      }
      static const char zeros[kBlock] = {};
      if (size % kBlock) out.write(zeros, static_cast<std::streamsize>(kBlock - size % kBlock));
    }
    static const char end[2 * kBlock] = {};
    out.write(end, sizeof(end));
    if (!out) return Status::Internal("cannot write " + archive);
  }
  return FsyncPath(archive);
}

Result<std::vector<TarEntry>> ExtractTar(const std::string& archive, const std::string& dir) {
  std::ifstream in(archive, std::ios::binary);
  if (!in) return Status::InvalidArgument("cannot open snapshot " + archive);
  std::vector<TarEntry> entries;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    char header[kBlock];
    in.read(header, kBlock);
    if (in.gcount() != static_cast<std::streamsize>(kBlock)) break;
    if (header[0] == '\0') break;
    std::string name(header, strnlen(header, 100));
    uint64_t size = ParseOctal(header + 124, 12);
    char type = header[156];
    if (name.empty() || name[0] == '/' || name.find("..") != std::string::npos) {
      return Status::InvalidArgument("snapshot archive has an unsafe entry name: " + name);
    }
    std::string path = dir + "/" + name;
    if (type == '0' || type == '\0') {
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      uint64_t left = size;
      while (left > 0) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
        in.read(buffer.data(), static_cast<std::streamsize>(n));
        if (static_cast<size_t>(in.gcount()) != n) return Status::InvalidArgument("snapshot archive is truncated");
        out.write(buffer.data(), static_cast<std::streamsize>(n));
        left -= n;
      }
      entries.push_back(TarEntry{name, path});
    } else {
      in.seekg(static_cast<std::streamoff>(size), std::ios::cur);
    }
    if (size % kBlock) in.seekg(static_cast<std::streamoff>(kBlock - size % kBlock), std::ios::cur);
  }
  return entries;
}

Result<std::string> Sha256File(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx, buffer.data(), static_cast<size_t>(in.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  static const char* kHex = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

}  // namespace qd::collection
