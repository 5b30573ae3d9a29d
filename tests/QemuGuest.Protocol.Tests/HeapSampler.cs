using System;
using System.Runtime;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Tests;

/// <summary>Samples the managed heap every few milliseconds: its peak growth and what is left after a full collection.</summary>
internal sealed class HeapSampler : IDisposable
{
    private readonly long _baseline;
    private readonly long _baselineLive;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampling;
    private long _peak;

    public HeapSampler()
    {
        // The peak is sampled as HeapSizeBytes, which counts free space inside the heap too. An
        // earlier test's freed 65 MiB buffers can leave ~250 MiB of uncompacted large-object
        // heap behind (seen under load), so the baseline is taken the same way, after a
        // compacting collection, or that free space reads as growth caused by this call.
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        _baselineLive = GC.GetTotalMemory(forceFullCollection: true);
        _baseline = Math.Max(GC.GetGCMemoryInfo().HeapSizeBytes, _baselineLive);
        _peak = _baseline;
        _sampling = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                long now = GC.GetGCMemoryInfo().HeapSizeBytes;
                long total = GC.GetTotalMemory(false);
                long seen = Math.Max(now, total);
                if (seen > Interlocked.Read(ref _peak))
                {
                    Interlocked.Exchange(ref _peak, seen);
                }

                await Task.Delay(5).ConfigureAwait(false);
            }
        });
    }

    public (long Peak, long Retained) Stop()
    {
        _stop.Cancel();
        _sampling.Wait(TimeSpan.FromSeconds(5));
        long after = GC.GetTotalMemory(forceFullCollection: true);
        return (Interlocked.Read(ref _peak) - _baseline, Math.Max(0, after - _baselineLive));
    }

    public void Dispose() => _stop.Cancel();
}
