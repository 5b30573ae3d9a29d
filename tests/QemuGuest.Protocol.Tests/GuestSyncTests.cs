using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// <see cref="GuestSync"/> on its own, no PowerShell, against Debian's qemu-ga (find, sha256sum,
/// touch and mv through guest-exec): a second sync moves nothing, a changed file alone moves,
/// -WhatIf asks about every action and changes nothing, -Delete removes only the extra items.
/// </summary>
public sealed class GuestSyncTests : IClassFixture<QemuGaFixture>, IDisposable
{
    private readonly QemuGaFixture _qga;
    private readonly string _local = Path.Combine(Path.GetTempPath(), "qgsync-" + Guid.NewGuid().ToString("N").Substring(0, 8));
    private readonly string _guest;

    public GuestSyncTests(QemuGaFixture qga)
    {
        _qga = qga;
        _guest = Path.Combine(qga.Directory, "sync-" + Guid.NewGuid().ToString("N").Substring(0, 8));
        Directory.CreateDirectory(Path.Combine(_local, "css", "deep"));
        File.WriteAllText(Path.Combine(_local, "index.html"), "<h1>hi</h1>");
        File.WriteAllText(Path.Combine(_local, "css", "a.css"), "a{}");
        File.WriteAllText(Path.Combine(_local, "css", "deep", "b.css"), "b{}");
    }

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    public void Dispose()
    {
        foreach (string dir in new[] { _local, _guest })
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private async Task<(GuestSyncSummary Summary, Recorder Recorder)> SyncAsync(bool toGuest, bool delete = false, bool consent = true, bool whatIf = false)
    {
        await using var client = _qga.CreateClient();
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, new QgaCallOptions { Timeout = TimeSpan.FromSeconds(20) }, "qga", Ct);
        var recorder = new Recorder(consent) { WhatIf = whatIf };
        var request = new GuestSyncRequest { ToGuest = toGuest, LocalRoot = _local, GuestRoot = _guest, Delete = delete };
        GuestSyncSummary summary = await GuestSync.RunAsync(engine, request, recorder, Ct);
        return (summary, recorder);
    }

    private static string[] Tree(string root) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p) + (File.Exists(p) ? "=" + File.ReadAllText(p) + "@" + File.GetLastWriteTimeUtc(p).Ticks : "/"))
            .OrderBy(p => p, StringComparer.Ordinal).ToArray();

    [Fact]
    public async Task A_second_sync_moves_nothing_and_a_changed_file_moves_alone()
    {
        var (first, r1) = await SyncAsync(toGuest: true);
        Assert.Empty(r1.Failures);
        Assert.Equal(new[] { "css/a.css", "css/deep/b.css", "index.html" }, first.Copied.OrderBy(x => x, StringComparer.Ordinal));
        Assert.Equal(Tree(_local), Tree(_guest));

        var (second, _) = await SyncAsync(toGuest: true);
        Assert.Empty(second.Copied);
        Assert.Equal(0, second.BytesMoved);
        Assert.Equal(3, second.Skipped);
        Assert.Equal(0, second.Hashed);

        string changed = Path.Combine(_local, "css", "a.css");
        File.WriteAllText(changed, "A{}");
        File.SetLastWriteTimeUtc(changed, File.GetLastWriteTimeUtc(changed).AddSeconds(5));
        var (third, _) = await SyncAsync(toGuest: true);
        Assert.Equal(new[] { "css/a.css" }, third.Copied);
        Assert.Equal(3, third.BytesMoved);
        Assert.Equal(1, third.Hashed);
        Assert.Equal(Tree(_local), Tree(_guest));
    }

    [Fact]
    public async Task WhatIf_asks_about_every_action_and_changes_nothing()
    {
        var (summary, asked) = await SyncAsync(toGuest: true, delete: true, consent: false, whatIf: true);
        Assert.False(Directory.Exists(_guest));
        Assert.Empty(summary.Copied);
        Assert.Equal(
            new[] { _guest, Path.Combine(_guest, "css"), Path.Combine(_guest, "css", "a.css"), Path.Combine(_guest, "css", "deep"), Path.Combine(_guest, "css", "deep", "b.css"), Path.Combine(_guest, "index.html") }
                .Select(p => "qga:" + p),
            asked.Asked.Keys.OrderBy(k => k, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Delete_removes_only_what_the_source_has_not_both_ways()
    {
        await SyncAsync(toGuest: true);
        Directory.CreateDirectory(Path.Combine(_guest, "extra", "in"));
        File.WriteAllText(Path.Combine(_guest, "extra", "in", "x"), "x");
        File.WriteAllText(Path.Combine(_guest, "css", "old.css"), "old");
        var (kept, _) = await SyncAsync(toGuest: true);
        Assert.Empty(kept.Deleted);
        var (deleted, r) = await SyncAsync(toGuest: true, delete: true);
        Assert.Empty(r.Failures);
        Assert.Equal(new[] { "css/old.css", "extra" }, deleted.Deleted.OrderBy(x => x, StringComparer.Ordinal));
        Assert.Equal(Tree(_local), Tree(_guest));

        File.WriteAllText(Path.Combine(_local, "local-only"), "l");
        var (back, _) = await SyncAsync(toGuest: false, delete: true);
        Assert.Equal(new[] { "local-only" }, back.Deleted);
        Assert.Empty(back.Copied);
        Assert.Equal(Tree(_guest), Tree(_local));
    }

    [Theory]
    [InlineData(1_700_000_000_123_456_700L, 1_700_000_000_123_456_789L, true)] // the same 100 ns tick
    [InlineData(1_700_000_000_123_456_700L, 1_700_000_000_123_456_800L, false)]
    [InlineData(1_700_000_000_000_000_000L, 1_700_000_000_987_654_300L, true)] // a target that keeps seconds only
    [InlineData(1_700_000_001_000_000_000L, 1_700_000_000_987_654_300L, false)]
    [InlineData(1_700_000_000_500_000_000L, 1_700_000_000_987_654_300L, false)] // both with fractions: 100 ns
    [InlineData(-1_000_000_000L, -500_000_000L, true)] // before 1970: the second below
    public void Times_are_equal_to_the_tick_or_to_the_second_on_a_side_that_keeps_seconds(long a, long b, bool same)
    {
        Assert.Equal(same, GuestSync.SameTime(a, b));
        Assert.Equal(same, GuestSync.SameTime(b, a));
    }

    private sealed class Recorder : IGuestCopyCallbacks
    {
        private readonly bool _consent;

        public Recorder(bool consent) => _consent = consent;

        public bool WhatIf { get; init; }

        public ConcurrentDictionary<string, string> Asked { get; } = new();

        public ConcurrentQueue<(Exception, string)> Failures { get; } = new();

        public Task<bool> ShouldProcessAsync(string target, string action)
        {
            Asked[target] = action;
            return Task.FromResult(_consent);
        }

        public void ItemFailed(Exception exception, string target) => Failures.Enqueue((exception, target));

        public void Warning(string text) => throw new InvalidOperationException("no warning expected, got " + text);

        public IProgress<TransferProgressInfo> ProgressFor(string fileName) => new Progress<TransferProgressInfo>();

        public void Completed(GuestCopiedFile file)
        {
        }

        public void Planned(int files, long bytes)
        {
        }
    }
}
