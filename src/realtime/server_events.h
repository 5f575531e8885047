// Server event names that differ between the beta and GA Realtime protocols.
//
// Pure data; thread-safe.
#pragma once

namespace cadence::realtime {

struct EventNames {
  const char* audio_delta;
  const char* audio_done;
  const char* transcript_delta;
  const char* transcript_done;
  const char* text_delta;
  const char* text_done;
};

inline const EventNames& NamesFor(bool beta) {
  static constexpr EventNames kBeta{"response.audio.delta",           "response.audio.done",
                                    "response.audio_transcript.delta", "response.audio_transcript.done",
                                    "response.text.delta",            "response.text.done"};
  static constexpr EventNames kGa{"response.output_audio.delta",           "response.output_audio.done",
                                  "response.output_audio_transcript.delta", "response.output_audio_transcript.done",
                                  "response.output_text.delta",            "response.output_text.done"};
  return beta ? kBeta : kGa;
}

}  // namespace cadence::realtime
