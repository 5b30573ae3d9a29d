using System;
using System.Threading;

namespace QemuGuest.Agent.Hosting;

/// <summary>
/// Gives memory back to the guest once the agent goes idle after heavy work. The GC sizes its
/// budgets by what the process allocated lately and keeps freed regions committed for the next
/// burst, so after a copy or a few multi-MiB requests the agent held hundreds of MiB it no
/// longer used (476 MiB after four 8 MiB writes, four 8 MiB reads and one 48 MiB read; the
/// guest may have 512 MiB in all). When at least <see cref="AllocationThreshold"/> bytes were
/// allocated since the last trim and no request arrives for <see cref="IdleDelay"/>, one
/// aggressive collection compacts the heap and decommits what is free. Light use (pings,
/// small queries) never reaches the threshold, so an idle agent is never woken for nothing.
/// </summary>
internal sealed class IdleMemoryTrim : IDisposable
{
    public const long AllocationThreshold = 16L * 1024 * 1024;
    public static readonly TimeSpan IdleDelay = TimeSpan.FromSeconds(1);

    private readonly Timer _timer;
    private readonly Action? _beforeCollect;
    private long _allocatedAtLastTrim;
    private int _busy;
    private int _retryAfterLargeTrim;

    /// <param name="beforeCollect">Runs first on the timer thread (e.g. releasing pooled buffers).</param>
    public IdleMemoryTrim(Action? beforeCollect = null)
    {
        _beforeCollect = beforeCollect;
        _timer = new Timer(static s => ((IdleMemoryTrim)s!).OnIdle(), this, Timeout.Infinite, Timeout.Infinite);
        _allocatedAtLastTrim = GC.GetTotalAllocatedBytes(precise: false);
    }

    /// <summary>Trims done so far (for tests).</summary>
    public int Trims { get; private set; }

    /// <summary>A request is being processed: no trim until <see cref="RequestsDone"/>.</summary>
    public void RequestStarted()
    {
        Interlocked.Exchange(ref _busy, 1);
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>All input read so far is processed: arm the trim if the work was heavy.</summary>
    public void RequestsDone()
    {
        Interlocked.Exchange(ref _busy, 0);
        // One more try after a trim that left the heap large: it may have run while a large reply
        // was still referenced (the socket keeps the last buffer it sent until the next send),
        // and the small requests after it would never allocate enough to arm it again. Only
        // once, so that memory that really is in use does not cost a collection per request.
        bool retry = Interlocked.Exchange(ref _retryAfterLargeTrim, 0) != 0;
        if (retry || GC.GetTotalAllocatedBytes(precise: false) - Interlocked.Read(ref _allocatedAtLastTrim) >= AllocationThreshold)
        {
            _timer.Change(IdleDelay, Timeout.InfiniteTimeSpan);
        }
    }

    public void Dispose() => _timer.Dispose();

    private void OnIdle()
    {
        if (Volatile.Read(ref _busy) != 0)
        {
            return;
        }

        _beforeCollect?.Invoke();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        Interlocked.Exchange(ref _allocatedAtLastTrim, GC.GetTotalAllocatedBytes(precise: false));
        if (GC.GetGCMemoryInfo().TotalCommittedBytes >= AllocationThreshold)
        {
            Interlocked.Exchange(ref _retryAfterLargeTrim, 1);
        }

        Trims++;
    }
}
