// TranscriptDeltas: turns a recognizer's changing partial hypotheses into append-only transcript
// deltas (conversation.item.input_audio_transcription.delta), whose concatenation is a prefix of
// the final transcript whenever the recognizer does not revise words it has already settled.
//
// A word is sent once two consecutive partials agree on it and a later word (or, in Han text, a
// later character) has begun after it: the last word of a partial is still growing ("hell" ->
// "hello") and recent words are the ones a recognizer revises. Text that disagrees with what was
// already sent is held back until a partial agrees again (deltas cannot be retracted); Final()
// sends the rest when the final transcript extends what was sent. Single-threaded; one per
// utterance. Sizes are bytes of UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace cadence::realtime {

class TranscriptDeltas {
 public:
  // A new partial hypothesis; returns the text to send now (empty: nothing new is settled).
  std::string Partial(std::string_view partial);
  // The final transcript; returns the rest to send before `completed` (empty when nothing is left
  // or when the final text revised what was already sent — `completed` then carries the truth).
  std::string Final(std::string_view final_text);
  const std::string& sent() const { return sent_; }

 private:
  std::string previous_;  // last partial
  std::string sent_;      // concatenation of every delta returned
};

}  // namespace cadence::realtime
