using System;
using System.Diagnostics;
using System.Globalization;
using System.Management.Automation;
using System.Threading;
using QemuGuest.Cmdlets.Infrastructure;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Cmdlets.Tasks;

/// <summary>
/// Write-Progress for one target's copy: a parent activity with files n of N and bytes of the
/// whole copy (N and the total once known: see IGuestCopyCallbacks.Planned), and under it the
/// file being moved with its bytes, rate and time left; at most 4 updates a second.
/// </summary>
internal sealed class TransferProgress
{
    private static int s_nextId = 1000;
    private readonly GuestOperationContext _context;
    private readonly int _parentId = Interlocked.Increment(ref s_nextId);
    private readonly int _activityId = Interlocked.Increment(ref s_nextId);
    private readonly string _activity;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private long _lastReport = -1000;
    private int _filesDone;
    private long _bytesDone;
    private int _filesPlanned = -1;
    private long _bytesPlanned;

    public TransferProgress(GuestOperationContext context, string activity)
    {
        _context = context;
        _activity = activity;
    }

    /// <summary>The whole copy's size, when it is known up front.</summary>
    public void Plan(int files, long bytes)
    {
        _filesPlanned = files;
        _bytesPlanned = bytes;
        ReportParent(0);
    }

    /// <summary>One more file is in place: counted in the parent line, its own line at its end.</summary>
    public void FileDone(string item, long bytes, long total, TimeSpan elapsed)
    {
        Interlocked.Increment(ref _filesDone);
        Interlocked.Add(ref _bytesDone, bytes);
        Report(item, bytes, total, elapsed, force: true, counted: true);
    }

    public void Report(string item, long done, long total, TimeSpan elapsed, bool force = false, bool counted = false)
    {
        long now = _clock.ElapsedMilliseconds;
        if (!force && now - _lastReport < 250)
        {
            return;
        }
        _lastReport = now;
        ReportParent(counted ? 0 : done);
        double rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        string status = total > 0
            ? string.Format(CultureInfo.InvariantCulture, "{0}: {1} of {2} at {3}/s", item, Size(done), Size(total), Size((long)rate))
            : string.Format(CultureInfo.InvariantCulture, "{0}: {1} at {2}/s", item, Size(done), Size((long)rate));
        var record = new ProgressRecord(_activityId, item, status) { ParentActivityId = _parentId };
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

    /// <summary>The parent line: "files 3 of 10, 1.0 MiB of 4.0 MiB" (or "files 3, 1.0 MiB" while the total is unknown).</summary>
    private void ReportParent(long currentFileBytes)
    {
        int files = Volatile.Read(ref _filesDone);
        long bytes = Volatile.Read(ref _bytesDone) + currentFileBytes;
        string status = _filesPlanned >= 0
            ? string.Format(CultureInfo.InvariantCulture, "files {0} of {1}, {2} of {3}", files, _filesPlanned, Size(bytes), Size(_bytesPlanned))
            : string.Format(CultureInfo.InvariantCulture, "files {0}, {1}", files, Size(bytes));
        var record = new ProgressRecord(_parentId, _activity, status);
        if (_filesPlanned >= 0 && _bytesPlanned > 0)
        {
            record.PercentComplete = (int)Math.Min(100, bytes * 100 / _bytesPlanned);
        }
        _context.WriteProgress(record);
    }

    /// <summary>The engine's progress for one file, shown under <paramref name="item"/>.</summary>
    public IProgress<TransferProgressInfo> For(string item) => new Item(this, item);

    public void Complete()
    {
        _context.WriteProgress(new ProgressRecord(_activityId, _activity, "Done") { ParentActivityId = _parentId, RecordType = ProgressRecordType.Completed });
        _context.WriteProgress(new ProgressRecord(_parentId, _activity, "Done") { RecordType = ProgressRecordType.Completed });
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
