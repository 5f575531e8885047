// PocketSphinx recognizer (CMU Sphinx, US English acoustic model, trigram LM, CMU dictionary).
//
// Decoders load the acoustic model, language model and dictionary (~0.5 s CPU, ~85 MiB each), so
// the recognizer keeps a pool of ready decoders shared by its streams: a stream takes one on its
// first audio and returns it when it is destroyed. The pool is thread-safe and outlives the
// Recognizer if streams still hold it. A transcript depends on the utterance's audio alone — not
// on how it was chunked, nor on which decoder or caller came before.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "speech/asr/recognizer.h"

namespace cadence::speech {

struct PocketSphinxConfig {
  std::string model_dir;  // holds en-us/ (acoustic model), en-us.lm.bin, cmudict-en-us.dict
  // true: the tree search alone, so the transcript is ready when speech stops (measured: median
  // 97 ms from speech_stopped to first reply audio). false: also the flat-lexicon and lattice passes
  // over the whole utterance at its end — fewer word errors on real speech (JFK clip WER 0.21 vs
  // 0.43) for ~100 ms more per turn (median 199 ms) and more CPU.
  // The single pass also caps the search at 5000 active HMMs and 10 words per frame: on 33 clips
  // (`cadence transcribe --stats`) 0.62 -> 0.40 CPU-seconds per second of audio, word errors
  // Flite 0.160 -> 0.160 of 219 words, real 0.59 -> 0.62 of 91 (2 words). Tighter caps
  // (2000 / 5 / topn 2: 0.15 CPU-s) decoded a second of silence as "the" and lost real words.
  bool single_pass = true;
  // Decoders loaded before the recognizer is returned (>= 1). Each costs ~0.5 s of CPU and
  // ~85 MiB (16 preloaded: process RSS 129 -> 1484 MiB). A pool that is empty when a session
  // starts talking loads one on the ASR worker in front of everyone's audio: bench realtime, 8
  // sessions, first 20 s p50 637 ms / not real time; the same 8 again with their decoders loaded
  // p50 167 ms / real time. Serving N users at once: preload N. (A background loader that kept
  // two spares was tried; it made an idle server's memory grow at unpredictable moments.)
  int preload_decoders = 1;
  // At most this many decoders exist at once (0: no limit); a turn that finds them all in use is
  // not transcribed (its transcription fails with ResourceExhausted) rather than growing the
  // process by ~85 MiB per turn in flight.
  int max_decoders = 16;
  // Decoders beyond `preload_decoders` that stay idle this long are freed.
  double idle_release_s = 60.0;
};

// The compile-time default model dir of Debian's pocketsphinx-en-us.
std::string DefaultPocketSphinxModelDir();

// Checks the model files exist and loads one decoder up front, so errors surface at start-up.
Result<std::unique_ptr<Recognizer>> CreatePocketSphinxRecognizer(const PocketSphinxConfig& config);

}  // namespace cadence::speech
