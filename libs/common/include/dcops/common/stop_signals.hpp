#pragma once
// SIGTERM and SIGINT, held for a sigwait() from the first line of main.
//
// In a container the process is PID 1, and the kernel drops a signal whose action is the
// default for a namespace's init: a `docker stop` arriving before the process blocked the
// signal (while it starts up, reads config or reaches devices) would be lost and the process
// killed at the end of its grace period, mid-step. Blocked from the start, the signal waits as
// pending until the drain logic's sigwait() takes it. Threads started later inherit the mask.
//
// Call first in main(), before any thread exists. Not thread-safe (process-wide state).
namespace dcops {

void BlockStopSignals();

}  // namespace dcops
