using System;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Relay;

/// <summary>
/// Gives memory back after very large messages. A maximal reply (tens of MiB) leaves large
/// buffers in the GC heap and the shared array pool; left alone, the runtime keeps them as
/// long as the machine has memory to spare, so the relay's footprint would follow the largest
/// message ever seen times the number of threads that touched one. After a message over
/// <see cref="Threshold"/>, one aggressive, compacting collection is scheduled (at most one
/// pending at a time), which also lets the pool trim. Small messages never pay for this.
/// </summary>
internal static class MemoryGovernor
{
    public const int Threshold = 4 * 1024 * 1024;

    private static int _pending;

    public static void AfterMessage(long bytes)
    {
        if (bytes < Threshold || Interlocked.Exchange(ref _pending, 1) == 1)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await Task.Delay(50).ConfigureAwait(false);
            Volatile.Write(ref _pending, 0);
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        });
    }
}
