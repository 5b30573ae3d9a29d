using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Security.Cryptography;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.HostileAgent;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The transfer engine on its own, no PowerShell: against Debian's real qemu-ga (round trips,
/// verify, the failures a user meets) and against the hostile agent (what a lying guest sends
/// ends as a typed <see cref="TransferException"/>, bounded, with nothing left on the host).
/// </summary>
public sealed class TransferEngineTests : IClassFixture<QemuGaFixture>, IDisposable
{
    private readonly QemuGaFixture _qga;
    private readonly string _local = Path.Combine(Path.GetTempPath(), "qgengine-" + Guid.NewGuid().ToString("N").Substring(0, 8));

    public TransferEngineTests(QemuGaFixture qga)
    {
        _qga = qga;
        Directory.CreateDirectory(_local);
    }

    private static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    private static QgaCallOptions Call => new() { Timeout = TimeSpan.FromSeconds(20) };

    public void Dispose()
    {
        try
        {
            Directory.Delete(_local, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static byte[] Content(int length)
    {
        var data = new byte[length];
        new Random(length).NextBytes(data);
        return data;
    }

    private static string Sha256(byte[] data)
    {
        using var sha = SHA256.Create();
        return string.Concat(sha.ComputeHash(data).Select(b => b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task Stock_agent_round_trip_by_path_verified_and_committed_by_rename()
    {
        await using var client = _qga.CreateClient();
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "qga", Ct);
        byte[] data = Content(300_000);
        string source = Path.Combine(_local, "source.bin");
        File.WriteAllBytes(source, data);
        string guest = Path.Combine(_qga.Directory, "up-" + Guid.NewGuid().ToString("N") + ".bin");
        var options = new TransferOptions { Verify = true, ChunkSize = 64 * 1024 };

        await engine.CheckUploadTargetAsync(guest, overwrite: false, Ct);
        long reports = 0;
        TransferResult up = await engine.UploadAsync(source, guest, options, new Counter(() => Interlocked.Increment(ref reports)), Ct);

        Assert.Equal(data.Length, up.Bytes);
        Assert.Equal(Sha256(data), up.Hash);
        Assert.True(up.Atomic, "qemu-ga with guest-exec renames the finished temporary file into place");
        Assert.True(reports > 0);
        Assert.Equal(data, File.ReadAllBytes(guest));
        Assert.Empty(Directory.GetFiles(_qga.Directory, "up-*.qgtmp-*"));

        string back = Path.Combine(_local, "back.bin");
        GuestTransferEngine.CheckDownloadTarget(back, overwrite: false, guestNamed: false);
        TransferResult down = await engine.DownloadAsync(guest, back, data.Length, options, null, Ct);
        Assert.Equal(data.Length, down.Bytes);
        Assert.Equal(up.Hash, down.Hash);
        Assert.Equal(data, File.ReadAllBytes(back));
        Assert.Empty(Directory.GetFiles(_local, "back.bin.qgtmp-*"));
    }

    [Fact]
    public async Task Stock_agent_round_trip_by_stream()
    {
        await using var client = _qga.CreateClient();
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "qga", Ct);
        byte[] data = Content(70_001);
        string guest = Path.Combine(_qga.Directory, "stream-" + Guid.NewGuid().ToString("N") + ".bin");
        var options = new TransferOptions { Verify = true, Mode = 0x180 }; // 0600

        using (var source = new MemoryStream(data))
        {
            TransferResult up = await engine.UploadAsync(source, guest, options, null, Ct);
            Assert.Equal(data.Length, up.Bytes);
        }
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(guest));
        }

        using var sink = new MemoryStream();
        TransferResult down = await engine.DownloadAsync(guest, sink, data.Length, options, null, Ct);
        Assert.Equal(data, sink.ToArray());
        Assert.Equal(Sha256(data), down.Hash);
    }

    [Fact]
    public async Task Stock_agent_failures_are_typed_kinds()
    {
        await using var client = _qga.CreateClient();
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "qga", Ct);
        string existing = Path.Combine(_qga.Directory, "exists-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(existing, "x");

        var exists = await Assert.ThrowsAsync<TransferException>(() => engine.CheckUploadTargetAsync(existing, overwrite: false, Ct));
        Assert.Equal(TransferFailureKind.DestinationExists, exists.Kind);
        Assert.Equal(existing, exists.Target);

        var folder = await Assert.ThrowsAsync<TransferException>(() => engine.CheckUploadTargetAsync(_qga.Directory, overwrite: true, Ct));
        Assert.Equal(TransferFailureKind.DestinationIsDirectory, folder.Kind);

        string missing = Path.Combine(_qga.Directory, "no-such-" + Guid.NewGuid().ToString("N"));
        string local = Path.Combine(_local, "never.bin");
        var notFound = await Assert.ThrowsAsync<TransferException>(() => engine.DownloadAsync(missing, local, 0, new TransferOptions(), null, Ct));
        Assert.Equal(TransferFailureKind.SourceNotFound, notFound.Kind);
        Assert.IsAssignableFrom<QgaCommandException>(notFound.InnerException);
        Assert.Empty(Directory.GetFileSystemEntries(_local));

        string noFolder = Path.Combine(_qga.Directory, "no-folder-" + Guid.NewGuid().ToString("N"), "f.bin");
        using var source = new MemoryStream(new byte[10]);
        var parent = await Assert.ThrowsAsync<TransferException>(() => engine.UploadAsync(source, noFolder, new TransferOptions(), null, Ct));
        Assert.Equal(TransferFailureKind.DestinationFolderNotFound, parent.Kind);
    }

    [Fact]
    public async Task Guest_sending_more_than_the_limit_is_stopped_and_nothing_is_kept()
    {
        await using var agent = new FakeAgent();
        HostileModes.Apply(agent, "endless-read");
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(5) });
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "hostile", Ct);
        string local = Path.Combine(_local, "endless.bin");

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<TransferException>(() =>
            engine.DownloadAsync("/dev/zero", local, 0, new TransferOptions { MaxBytes = 1 << 20 }, null, Ct));

        Assert.Equal(TransferFailureKind.SourceSizeExceeded, ex.Kind);
        Assert.Contains("hostile sent more of '/dev/zero' than 1048576 bytes (-MaxBytes)", ex.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), clock.Elapsed.ToString());
        Assert.Empty(Directory.GetFileSystemEntries(_local));
        Assert.True(agent.Count("guest-file-close") >= 1, "the guest handle is closed after the failure");
    }

    [Fact]
    public async Task Hostile_names_in_a_listing_are_rejected_one_by_one_and_never_leave_the_root()
    {
        await using var agent = new FakeAgent();
        HostileModes.Apply(agent, "list-names");
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(5) });
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "hostile", Ct);
        string root = Path.GetFullPath(Path.Combine(_local, "tree"));

        GuestFolderLister lister = await engine.OpenListingAsync("/g/tree", new GuestListingBudget(), Ct);
        GuestFolderPlan plan = await engine.PlanFolderAsync(lister, "/g/tree", root, string.Empty, 1, root, Ct);

        Assert.Contains(plan.Files, f => f.Entry.Name == "good.txt");
        Assert.All(plan.Files.Concat(plan.Folders), f => Assert.True(GuestNames.IsUnder(root, f.Local), f.Local));
        Assert.DoesNotContain(plan.Files, f => f.Entry.Name == "dup" || f.Entry.Name.Contains('/') || f.Entry.Name.Contains('\u001b'));
        Assert.Contains(plan.Rejected, r => r.Kind == TransferFailureKind.InvalidGuestName && r.Message.Contains("'../../x'", StringComparison.Ordinal));
        Assert.Contains(plan.Rejected, r => r.Kind == TransferFailureKind.DuplicateGuestName && r.Message.Contains("'dup'", StringComparison.Ordinal));
        Assert.All(plan.Rejected, r => Assert.DoesNotContain("\u001b", r.Message, StringComparison.Ordinal));
        Assert.All(plan.Rejected, r => Assert.StartsWith("hostile:/g/tree", r.Target, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_listing_that_never_ends_meets_the_budget()
    {
        await using var agent = new FakeAgent();
        HostileModes.Apply(agent, "list-recurse");
        await using var client = new GuestAgentClient(agent.ConnectionString, new GuestAgentClientOptions { DefaultTimeout = TimeSpan.FromSeconds(5) });
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, Call, "hostile", Ct);
        string root = Path.GetFullPath(Path.Combine(_local, "tree"));
        var budget = new GuestListingBudget();
        GuestFolderLister lister = await engine.OpenListingAsync("/g/tree", budget, Ct);

        var clock = Stopwatch.StartNew();
        var ex = await Assert.ThrowsAsync<TransferException>(async () =>
        {
            string guest = "/g/tree";
            string local = root;
            string relative = string.Empty;
            for (int depth = 1; ; depth++)
            {
                GuestFolderPlan plan = await engine.PlanFolderAsync(lister, guest, local, relative, depth, root, Ct);
                var (entry, next) = plan.Folders[0];
                guest = engine.Join(guest, entry.Name);
                local = next;
                relative = relative.Length == 0 ? entry.Name : relative + "/" + entry.Name;
            }
        });

        Assert.Equal(TransferFailureKind.ListingLimitExceeded, ex.Kind);
        Assert.True(ex.IsListingFailure);
        Assert.Contains("nested more than 64 deep", ex.Message, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), clock.Elapsed.ToString());
    }

    private sealed class Counter : IProgress<TransferProgressInfo>
    {
        private readonly Action _tick;

        public Counter(Action tick) => _tick = tick;

        public void Report(TransferProgressInfo value) => _tick();
    }
}
