#include "server/static_files.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace cadence::server {
namespace {

namespace fs = std::filesystem;

std::string_view Extension(std::string_view path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  return path.substr(dot + 1);
}

bool IsHashChar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

// Bundlers name assets like app-3f2a9c1e.js or chunk.BQx1mN7d.css: a run of >= 8 hash characters
// containing a digit, right before the extension, after '-' or '.'.
bool LooksContentHashed(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  std::string_view stem = name.substr(0, dot);
  size_t run = 0;
  bool digit = false;
  while (run < stem.size() && IsHashChar(stem[stem.size() - 1 - run])) {
    if (std::isdigit(static_cast<unsigned char>(stem[stem.size() - 1 - run]))) digit = true;
    ++run;
  }
  if (run < 8 || run == stem.size() || !digit) return false;
  const char sep = stem[stem.size() - 1 - run];
  return sep == '-' || sep == '.';
}

}  // namespace

std::string DefaultWebDir() {
#ifdef CADENCE_DEFAULT_WEB_DIR
  return CADENCE_DEFAULT_WEB_DIR;
#else
  return "web/dist";
#endif
}

std::string_view ContentTypeFor(std::string_view path) {
  const std::string_view ext = Extension(path);
  if (ext == "html" || ext == "htm") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map") return "application/json";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "webp") return "image/webp";
  if (ext == "ico") return "image/x-icon";
  if (ext == "wasm") return "application/wasm";
  if (ext == "onnx") return "application/octet-stream";
  if (ext == "wav") return "audio/wav";
  if (ext == "mp3") return "audio/mpeg";
  if (ext == "woff2") return "font/woff2";
  if (ext == "woff") return "font/woff";
  if (ext == "txt") return "text/plain; charset=utf-8";
  if (ext == "webmanifest") return "application/manifest+json";
  return "application/octet-stream";
}

std::string_view CacheControlFor(std::string_view url_path) {
  const std::string_view ext = Extension(url_path);
  if (url_path.empty() || url_path.back() == '/' || ext == "html" || ext == "htm") return "no-cache";
  if (LooksContentHashed(url_path)) return "public, max-age=31536000, immutable";
  return "public, max-age=300";
}

Result<StaticFile> LoadStaticFile(const std::string& root, std::string_view url_path) {
  if (url_path.empty() || url_path.front() != '/')
    return Status::InvalidArgument("static path must start with '/'");
  // Reject traversal on the URL itself, before touching the file system.
  std::string_view rest = url_path;
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    std::string_view segment = rest.substr(0, slash);
    if (segment == ".." || segment.find('\\') != std::string_view::npos)
      return Status::PermissionDenied("path '" + std::string(url_path) + "' leaves the web root");
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::error_code ec;
  const fs::path root_path = fs::canonical(root, ec);
  if (ec || !fs::is_directory(root_path))
    return Status::FailedPrecondition("web root '" + root + "' does not exist: build the page (node web/build.mjs) or pass --web-dir");
  fs::path candidate = root_path / fs::path(std::string(url_path.substr(1)));
  if (fs::is_directory(candidate, ec)) candidate /= "index.html";
  const fs::path resolved = fs::canonical(candidate, ec);
  if (ec || !fs::is_regular_file(resolved))
    return Status::NotFound("no file '" + std::string(url_path) + "' in the web root");
  // A symlink inside the root must not lead outside it.
  const std::string root_string = root_path.string() + "/";
  if (resolved.string().rfind(root_string, 0) != 0)
    return Status::PermissionDenied("path '" + std::string(url_path) + "' leaves the web root");
  std::ifstream in(resolved, std::ios::binary);
  if (!in) return Status::NotFound("cannot read '" + resolved.string() + "'");
  std::ostringstream body;
  body << in.rdbuf();
  StaticFile file;
  file.body = std::move(body).str();
  file.path = resolved.string();
  file.content_type = std::string(ContentTypeFor(file.path));
  const bool html = file.content_type.rfind("text/html", 0) == 0;
  file.cache_control = std::string(html ? std::string_view("no-cache") : CacheControlFor(url_path));
  return file;
}

}  // namespace cadence::server
