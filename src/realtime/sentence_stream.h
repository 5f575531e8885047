// SentenceStream: cuts streamed reply text into sentences as soon as each one is complete, so
// synthesis of the first sentence starts before the brain has finished the reply.
//
// A sentence ends at . ! ? ; or a newline followed by whitespace, or at 。！？；… anywhere (Mandarin
// needs no space). Tags ("<break time=\"1.5s\"/>", "[laughs]") are never cut inside. A sentence
// longer than `max_bytes` is cut at the last comma or space. The very first piece of a reply is
// cut at its first comma (after a few words) so that first audio does not wait for a long
// sentence. Single-threaded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace cadence::realtime {

class SentenceStream {
 public:
  explicit SentenceStream(size_t max_bytes = 200) : max_bytes_(max_bytes) {}
  // Appends text; moves each completed sentence (trimmed, non-empty) into `out`.
  void Push(std::string_view text, std::vector<std::string>* out);
  // Moves what remains (if anything) into `out`.
  void Flush(std::vector<std::string>* out);

 private:
  void Emit(size_t end, std::vector<std::string>* out);

  std::string pending_;
  size_t scanned_ = 0;
  bool emitted_any_ = false;
  size_t max_bytes_;
};

}  // namespace cadence::realtime
