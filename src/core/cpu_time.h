// CPU time clocks for figures that must stay comparable on a shared machine: unlike wall time,
// they do not count other processes' turns on the cores. Seconds as double; thread-safe.
#pragma once

namespace cadence {

// CPU seconds consumed by the calling thread (CLOCK_THREAD_CPUTIME_ID).
double ThreadCpuSeconds();
// CPU seconds consumed by all of this process's threads (CLOCK_PROCESS_CPUTIME_ID).
double ProcessCpuSeconds();

}  // namespace cadence
