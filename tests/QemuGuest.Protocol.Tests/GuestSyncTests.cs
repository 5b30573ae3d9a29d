using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
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
    private readonly GuestFolderPair _folders;
    private readonly string _local;
    private readonly string _guest;

    public GuestSyncTests(QemuGaFixture qga)
    {
        _folders = new GuestFolderPair(qga, "sync", createGuest: false);
        _local = _folders.Local;
        _guest = _folders.Guest;
        WriteSite(_local);
    }

    public void Dispose() => _folders.Dispose();

    /// <summary>The tree both sync test classes start from: three files at three levels.</summary>
    internal static void WriteSite(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "css", "deep"));
        File.WriteAllText(Path.Combine(root, "index.html"), "<h1>hi</h1>");
        File.WriteAllText(Path.Combine(root, "css", "a.css"), "a{}");
        File.WriteAllText(Path.Combine(root, "css", "deep", "b.css"), "b{}");
    }

    internal static Task<(GuestSyncSummary Summary, CopyRecorder Recorder)> SyncAsync(GuestFolderPair folders, bool toGuest, bool delete = false, bool consent = true, bool whatIf = false) =>
        folders.WithEngineAsync(async engine =>
        {
            var recorder = new CopyRecorder(consent) { WhatIf = whatIf };
            var request = new GuestSyncRequest { ToGuest = toGuest, LocalRoot = folders.Local, GuestRoot = folders.Guest, Delete = delete };
            GuestSyncSummary summary = await GuestSync.RunAsync(engine, request, recorder, GuestFolderPair.Ct);
            return (summary, recorder);
        });

    private Task<(GuestSyncSummary Summary, CopyRecorder Recorder)> SyncAsync(bool toGuest, bool delete = false, bool consent = true, bool whatIf = false) =>
        SyncAsync(_folders, toGuest, delete, consent, whatIf);

    private static string[] Tree(string root) => GuestFolderPair.Tree(root, times: true);

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
}

/// <summary>
/// Debian's qemu-ga whose guest-exec finds busybox's touch before GNU's (PATH), as in the e2e
/// image and other small guests: busybox's touch refuses a time with a fraction of a second.
/// </summary>
public sealed class BusyboxTouchQemuGaFixture : QemuGaFixture
{
    private const string Busybox = "/bin/busybox";

    public BusyboxTouchQemuGaFixture()
        : base(Tools())
    {
    }

    private static string ToolsFolder { get; } = Path.Combine(Path.GetTempPath(), "qgbusybox-" + Guid.NewGuid().ToString("N").Substring(0, 8));

    private static Dictionary<string, string> Tools()
    {
        if (!File.Exists(Busybox))
        {
            throw new InvalidOperationException(Busybox + " is missing: apt-get install busybox-static (a Test prerequisite in tools/Prerequisites.psm1)");
        }
        System.IO.Directory.CreateDirectory(ToolsFolder);
        string touch = Path.Combine(ToolsFolder, "touch");
        if (!File.Exists(touch))
        {
            File.CreateSymbolicLink(touch, Busybox);
        }
        return new Dictionary<string, string> { ["PATH"] = ToolsFolder + ":" + Environment.GetEnvironmentVariable("PATH") };
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try
        {
            System.IO.Directory.Delete(ToolsFolder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// <see cref="GuestSync"/> on the stock path with busybox's touch: the guest keeps the source's
/// time to the second, and a second sync decides by size and time without hashing. Before, the
/// touch with a fraction failed, the guest file kept the time of the copy, and every later sync
/// hashed every file again.
/// </summary>
public sealed class GuestSyncBusyboxTests : IClassFixture<BusyboxTouchQemuGaFixture>, IDisposable
{
    private readonly GuestFolderPair _folders;

    public GuestSyncBusyboxTests(BusyboxTouchQemuGaFixture qga)
    {
        _folders = new GuestFolderPair(qga, "bbsync", createGuest: false);
        GuestSyncTests.WriteSite(_folders.Local);
    }

    public void Dispose() => _folders.Dispose();

    [Fact]
    public async Task Busybox_touch_keeps_the_second_and_the_next_sync_hashes_nothing()
    {
        var local = new DateTime(2024, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddTicks(1_234_567);
        foreach (string f in Directory.EnumerateFiles(_folders.Local, "*", SearchOption.AllDirectories))
        {
            File.SetLastWriteTimeUtc(f, local);
        }

        var (first, r1) = await GuestSyncTests.SyncAsync(_folders, toGuest: true);
        Assert.Empty(r1.Failures);
        Assert.Equal(3, first.Copied.Count);
        foreach (string f in Directory.EnumerateFiles(_folders.Guest, "*", SearchOption.AllDirectories))
        {
            Assert.Equal(local.AddTicks(-1_234_567), File.GetLastWriteTimeUtc(f));
        }

        var (second, _) = await GuestSyncTests.SyncAsync(_folders, toGuest: true);
        Assert.Empty(second.Copied);
        Assert.Equal(0, second.BytesMoved);
        Assert.Equal(0, second.Hashed);
        Assert.Equal(3, second.Skipped);
    }
}
