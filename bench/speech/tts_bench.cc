// `cadence bench tts`: synthesis speed with sculpting, on the calling thread (one core).
// Reports real-time factor (wall and thread CPU time / audio time) per case and time to the first
// audio chunk of a 3-sentence reply. CPU time is reported because the machine may be shared.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/cpu_time.h"
#include "speech/tts/synthesizer.h"

namespace cadence::speech {
namespace {

struct Case {
  const char* name;
  const char* voice;
  const char* emotion;
  const char* text;
};

const Case kCases[] = {
    {"en slt neutral", "slt", "neutral",
     "Sure, I can help with that. The train leaves at nine fifteen from platform four. Would you like me to book a seat?"},
    {"en slt excited+tags", "slt", "excited",
     "Oh wow, that is amazing news! [laughs] <emphasis>Congratulations</emphasis>, you really earned it. "
     "<prosody rate=\"slow\">Tell me everything.</prosody>"},
    {"en rms tired (Rubber Band pitch)", "rms", "tired",
     "It has been a long week. [sighs] I think I will rest this evening. Maybe we can talk tomorrow."},
    {"en slt whisper (LPC breath)", "slt", "whisper",
     "Come closer. I have a secret to tell you. Nobody else can know."},
    {"zh cmn-f happy", "cmn-f", "happy", "好的，我来帮你查一下。火车九点十五分从四号站台出发。你要我帮你订座位吗？"},
    {"zh cmn-m tags", "cmn-m", "neutral", "（悲伤 1）（慢速 1）今天真的很累。[sighs] 我们明天再说吧。"},
};

int RunTtsBench(int argc, char** argv) {
  cli::Flags flags("cadence bench tts [--repeat N]");
  flags.Int("repeat", "N", "renders per case (median reported)", 3, 1, 1000);
  int exit_code = 0;
  if (!flags.Parse(argc, argv, &exit_code)) return exit_code;
  const int repeat = flags.GetInt("repeat");

  auto t0 = std::chrono::steady_clock::now();
  auto synth = CreateSynthesizer({});
  if (!synth.ok()) {
    std::fprintf(stderr, "error: %s\n", synth.status().ToString().c_str());
    return 1;
  }
  std::printf("tts bench: synthesizer created in %.0f ms; %d render(s) per case, median shown; one thread\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(), repeat);
  std::printf("%-34s %8s %9s %9s %8s %8s %14s\n", "case", "audio_s", "wall_ms", "cpu_ms", "RTF", "RTFcpu",
              "first_chunk_ms");
  for (const Case& c : kCases) {
    std::vector<double> wall, cpu, first;
    double audio_s = 0;
    for (int r = 0; r < repeat; ++r) {
      SynthesisRequest request;
      request.text = c.text;
      request.voice = c.voice;
      request.tone.emotion = c.emotion;
      size_t samples = 0;
      double first_ms = -1;
      auto start = std::chrono::steady_clock::now();
      double cpu_start = ThreadCpuSeconds();
      Status s = (*synth)->Synthesize(request, CancelToken(), [&](std::span<const float> pcm) {
        if (first_ms < 0)
          first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        samples += pcm.size();
        return true;
      });
      if (!s.ok()) {
        std::fprintf(stderr, "error in case '%s': %s\n", c.name, s.ToString().c_str());
        return 1;
      }
      cpu.push_back((ThreadCpuSeconds() - cpu_start) * 1000.0);
      wall.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      first.push_back(first_ms);
      audio_s = static_cast<double>(samples) / kTtsSampleRateHz;
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return v[v.size() / 2];
    };
    double w = median(wall), cp = median(cpu), f = median(first);
    std::printf("%-34s %8.2f %9.0f %9.0f %8.3f %8.3f %14.0f\n", c.name, audio_s, w, cp, w / 1000.0 / audio_s,
                cp / 1000.0 / audio_s, f);
  }
  std::printf("RTF = wall time / audio duration (<1 is faster than real time); RTFcpu uses thread CPU time.\n"
              "first_chunk_ms = time to the first audio chunk (each case is a 3-sentence reply).\n");
  return 0;
}

}  // namespace
}  // namespace cadence::speech

CADENCE_BENCH(tts, "speech synthesis real-time factor with sculpting; time to first audio chunk",
              cadence::speech::RunTtsBench);
