// FakeServer: a tiny HTTP/1.1 server on 127.0.0.1 for the tests of HTTP clients (the remote
// brain, the Step-Audio 2 vLLM client).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace cadence::brain::testing_support {

// A tiny HTTP/1.1 server on 127.0.0.1: one connection at a time; `respond` gets the request body
// and the connection index and writes the raw response through `send`.
class FakeServer {
 public:
  using Handler = std::function<void(const std::string& body, int index, const std::function<void(const std::string&)>& send)>;
  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FakeServer() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int connections() const { return count_; }
  std::string last_request() const {
    std::lock_guard<std::mutex> lock(mu_);
    return last_request_;
  }

 private:
  void Loop() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[4096];
      size_t body_at = std::string::npos, content_length = 0;
      while (true) {
        ssize_t n = recv(c, buf, sizeof(buf), 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
        if (body_at == std::string::npos && (body_at = req.find("\r\n\r\n")) != std::string::npos) {
          body_at += 4;
          auto cl = req.find("Content-Length: ");
          if (cl == std::string::npos) cl = req.find("content-length: ");
          if (cl != std::string::npos) content_length = std::stoul(req.substr(cl + 16));
        }
        if (body_at != std::string::npos && req.size() >= body_at + content_length) break;
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        last_request_ = req;
      }
      const std::string body = body_at == std::string::npos ? "" : req.substr(body_at);
      handler_(body, count_++, [c](const std::string& s) { (void)!send(c, s.data(), s.size(), MSG_NOSIGNAL); });
      close(c);
    }
  }
  Handler handler_;
  int fd_ = -1, port_ = 0;
  std::atomic<int> count_{0};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string last_request_;
  std::thread thread_;
};

}  // namespace cadence::brain::testing_support
