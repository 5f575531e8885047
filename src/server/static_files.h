// Static files of the web page, served from one directory (`--web-dir`, default web/dist).
//
// Resolves a decoded URL path to a regular file strictly inside the root (no `..`, no symlink
// escape), and says how to serve it: content type, and caching (HTML no-cache so a new build is
// picked up at once; content-hashed assets cached for a year; anything else briefly).
// Reads the whole file (web assets are small). Safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace cadence::server {

struct StaticFile {
  std::string body;
  std::string content_type;
  std::string cache_control;
  std::string path;  // the file served, for logs
};

// The source tree's web/dist (set at build time): what `cadence serve` serves without --web-dir.
std::string DefaultWebDir();

// Content type by extension ("text/html; charset=utf-8", "application/javascript", ...).
std::string_view ContentTypeFor(std::string_view path);
// Cache-Control value for the file's URL path (see above).
std::string_view CacheControlFor(std::string_view url_path);

// `url_path` is the decoded path ("/", "/assets/app-3f2a9c1e.js"). "/" and directories map to
// their index.html. NotFound for a missing file, PermissionDenied for a path that leaves the root,
// FailedPrecondition when the root itself does not exist (the page is not built).
Result<StaticFile> LoadStaticFile(const std::string& root, std::string_view url_path);

}  // namespace cadence::server
