// `cadence analyze FILE.wav [--json] [--frames]`: the paralinguistic reading of a recording.
#include <cstdio>
#include <string>

#include "audio/wav.h"
#include "cli/command.h"
#include "paralinguistics/analyzer.h"
#include "paralinguistics/cues_json.h"
#include "paralinguistics/cues_text.h"

namespace {

using cadence::paralinguistics::Analysis;
using cadence::paralinguistics::Analyzer;
using cadence::paralinguistics::FrameClassName;

void PrintFrames(const Analysis& analysis) {
  std::printf("time_s,class,f0_hz,f0_strength,hnr_db,intensity_db,syllable_intensity_db,alpha_ratio_db,hammarberg_db,slope_db_per_khz,f1_hz,f2_hz,f3_hz,f4_hz,nucleus_intensity_db\n");
  for (const auto& f : analysis.frames)
    std::printf("%.3f,%s,%.2f,%.3f,%.2f,%.2f,%.2f,%.2f,%.2f,%.3f,%.0f,%.0f,%.0f,%.0f,%.2f\n", f.time_s, FrameClassName(f.frame_class), f.f0_hz,
                f.f0_strength, f.hnr_db, f.intensity_db, f.syllable_intensity_db, f.alpha_ratio_db, f.hammarberg_db, f.slope_db_per_khz, f.formant_hz[0], f.formant_hz[1],
                f.formant_hz[2], f.formant_hz[3], f.nucleus_intensity_db);
}

void PrintSummary(const std::string& path, const Analysis& a) {
  const auto& c = a.cues;
  std::printf("%s: %.2f s, speech %.2f s\n", path.c_str(), c.duration_s, c.speech_s);
  std::printf("  pitch      mean %.1f Hz, median %.1f Hz, range %.1f st, slope %.2f st/s, voiced %.0f %%\n",
              c.pitch.mean_hz, c.pitch.median_hz, c.pitch.range_st, c.pitch.slope_st_per_s,
              100.0 * c.pitch.voiced_fraction);
  std::printf("  loudness   mean %.1f dB, range %.1f dB\n", c.loudness.mean_db, c.loudness.range_db);
  std::printf("  rate       %.2f syll/s (articulation %.2f), %d syllable%s\n", c.speaking_rate.syllables_per_s,
              c.speaking_rate.articulation_rate, c.speaking_rate.syllables, c.speaking_rate.syllables == 1 ? "" : "s");
  std::printf("  pauses     %d, mean %.2f s, longest %.2f s\n", c.pauses.count, c.pauses.mean_s, c.pauses.longest_s);
  std::printf("  voice      jitter %.2f %%, shimmer %.2f %%, HNR %.1f dB\n", 100.0 * c.voice_quality.jitter,
              100.0 * c.voice_quality.shimmer, c.voice_quality.hnr_db);
  std::printf("  spectrum   alpha ratio %.1f dB, Hammarberg %.1f dB, slope %.2f dB/kHz\n", c.spectral.alpha_ratio_db,
              c.spectral.hammarberg_db, c.spectral.slope_db_per_khz);
  for (const auto& e : c.events)
    std::printf("  event      %s %.2f-%.2f s (confidence %.2f)\n", e.type.c_str(), e.start_s, e.end_s, e.confidence);
  std::printf("  state      %s; arousal %s (%.2f); fatigue %.2f, frustration %.2f, excitement %.2f, calm %.2f\n",
              c.state.summary.c_str(), c.state.arousal.label.empty() ? "-" : c.state.arousal.label.c_str(),
              c.state.arousal.confidence, c.state.fatigue, c.state.frustration, c.state.excitement, c.state.calm);
  if (c.traits.gender.label.empty()) {
    std::printf("  traits     not judged (too little voice)\n");
  } else {
    char tract[32] = "not measured";
    if (c.traits.vocal_tract_cm > 0.0) std::snprintf(tract, sizeof(tract), "%.1f cm", c.traits.vocal_tract_cm);
    std::printf("  traits     %s (%.2f), %s (%.2f), vocal tract %s\n", c.traits.gender.label.c_str(), c.traits.gender.confidence,
                c.traits.age_group.label.empty() ? "-" : c.traits.age_group.label.c_str(), c.traits.age_group.confidence,
                tract);
  }
  std::printf("  prompt     %s\n", cadence::paralinguistics::CuesToPromptText(c).c_str());
}

int RunAnalyze(int argc, char** argv) {
  cadence::cli::Flags flags("cadence analyze FILE.wav [--json] [--frames]");
  flags.Switch("json", "print the cues as JSON (the shape of the realtime event)");
  flags.Switch("frames", "print the 10 ms frame track as CSV instead of the cues");
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  if (flags.positional().size() != 1) {
    std::fprintf(stderr, "error: analyze takes exactly one WAV file\n\n%s", flags.Help().c_str());
    return 2;
  }
  const std::string path = flags.positional()[0];
  auto wave = cadence::audio::ReadWav(path);
  if (!wave.ok()) {
    std::fprintf(stderr, "error: %s\n", wave.status().ToString().c_str());
    return 1;
  }
  Analyzer analyzer;
  auto analysis = analyzer.AnalyzeWaveform(*wave);
  if (!analysis.ok()) {
    std::fprintf(stderr, "error: %s: %s\n", path.c_str(), analysis.status().ToString().c_str());
    return 1;
  }
  if (flags.On("frames")) PrintFrames(*analysis);
  else if (flags.On("json")) std::printf("%s\n", cadence::paralinguistics::CuesToJson(analysis->cues, true).c_str());
  else PrintSummary(path, *analysis);
  return 0;
}

}  // namespace

CADENCE_COMMAND(analyze, "paralinguistic reading of a WAV file (pitch, rate, pauses, events, state)", RunAnalyze);
