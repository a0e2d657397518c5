#pragma once
// SIGTERM and SIGINT, held for a sigwait() from the first line of main.
//
// In a container the process is PID 1, and the kernel drops a signal whose action is the
// default for a namespace's init: a `docker stop` arriving before the process blocked the
// signal (while it starts up, reads config or reaches devices) would be lost and the process
// killed at the end of its grace period, mid-step. Blocked from the start, the signal waits as
// pending until the drain logic's sigwait() takes it. Threads started later inherit the mask.
//
// Call first in main(), before any thread exists; calling it again (where the signals are
// waited for) is harmless and gives the set to sigwait() on. Not thread-safe (process-wide).
#include <signal.h>

namespace dcops {

// Blocks SIGINT and SIGTERM in the calling thread; returns that set.
sigset_t BlockStopSignals();

}  // namespace dcops
