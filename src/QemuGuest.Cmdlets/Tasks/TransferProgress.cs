using System;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Threading;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>Write-Progress for one target's transfer: bytes, rate, time left; at most 4 updates a second.</summary>
internal sealed class TransferProgress
{
    private static int s_nextId = 1000;
    private readonly GuestOperationContext _context;
    private readonly int _activityId = Interlocked.Increment(ref s_nextId);
    private readonly string _activity;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastReport = -1000;

    public TransferProgress(GuestOperationContext context, string activity)
    {
        _context = context;
        _activity = activity;
    }

    public void Report(string item, long done, long total, TimeSpan elapsed, bool force = false)
    {
        long now = _clock.ElapsedMilliseconds;
        if (!force && now - _lastReport < 250)
        {
            return;
        }
        _lastReport = now;
        double rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        string status = total > 0
            ? string.Format(CultureInfo.InvariantCulture, "{0}: {1} of {2} at {3}/s", item, Size(done), Size(total), Size((long)rate))
            : string.Format(CultureInfo.InvariantCulture, "{0}: {1} at {2}/s", item, Size(done), Size((long)rate));
        var record = new ProgressRecord(_activityId, _activity, status);
        if (total > 0)
        {
            record.PercentComplete = (int)Math.Min(100, done * 100 / total);
            if (rate > 0)
            {
                record.SecondsRemaining = (int)Math.Min(int.MaxValue, (total - done) / rate);
            }
        }
        _context.WriteProgress(record);
    }

    /// <summary>The engine's progress for one file, shown under <paramref name="item"/>.</summary>
    public IProgress<TransferProgressInfo> For(string item) => new Item(this, item);

    public void Complete()
    {
        _context.WriteProgress(new ProgressRecord(_activityId, _activity, "Done") { RecordType = ProgressRecordType.Completed });
    }

    public static string Size(long bytes)
    {
        if (bytes >= 1L << 30)
        {
            return (bytes / (double)(1L << 30)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB";
        }
        if (bytes >= 1L << 20)
        {
            return (bytes / (double)(1L << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB";
        }
        return (bytes / 1024.0).ToString("0.0", CultureInfo.InvariantCulture) + " KiB";
    }

    // Reports straight through (not Progress<T>, which would post to a synchronization
    // context): Report throttles and WriteProgress already queues to the pipeline thread.
    private sealed class Item : IProgress<TransferProgressInfo>
    {
        private readonly TransferProgress _owner;
        private readonly string _name;

        public Item(TransferProgress owner, string name)
        {
            _owner = owner;
            _name = name;
        }

        public void Report(TransferProgressInfo value) => _owner.Report(_name, value.Done, value.Total, value.Elapsed);
    }
}
