using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Transfer;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// A local folder and a folder of a qemu-ga "guest" (this host, so what the guest got is read
/// back from the disk), both removed after the test, and an engine over a fresh connection to
/// that agent: what <see cref="GuestCopyTests"/> and <see cref="GuestSyncTests"/> run against.
/// </summary>
internal sealed class GuestFolderPair : IDisposable
{
    private readonly QemuGaFixture _qga;

    public GuestFolderPair(QemuGaFixture qga, string name, bool createGuest)
    {
        _qga = qga;
        string id = Guid.NewGuid().ToString("N").Substring(0, 8);
        Local = Path.Combine(Path.GetTempPath(), "qg" + name + "-" + id);
        Guest = Path.Combine(qga.Directory, name + "-" + id);
        Directory.CreateDirectory(Local);
        if (createGuest)
        {
            Directory.CreateDirectory(Guest);
        }
    }

    public string Local { get; }

    public string Guest { get; }

    public static CancellationToken Ct => new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    /// <summary>Runs <paramref name="work"/> with an engine on a connection of its own, closed after.</summary>
    public async Task<T> WithEngineAsync<T>(Func<GuestTransferEngine, Task<T>> work)
    {
        await using var client = _qga.CreateClient();
        await client.ConnectAsync(Ct);
        var engine = await GuestTransferEngine.OpenAsync(client, new QgaCallOptions { Timeout = TimeSpan.FromSeconds(20) }, "qga", Ct);
        return await work(engine);
    }

    /// <summary>Every item below <paramref name="root"/>: relative path, content, and with <paramref name="times"/> the modification time.</summary>
    public static string[] Tree(string root, bool times = false) =>
        Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p) + (File.Exists(p) ? "=" + File.ReadAllText(p) + (times ? "@" + File.GetLastWriteTimeUtc(p).Ticks : string.Empty) : "/"))
            .OrderBy(p => p, StringComparer.Ordinal).ToArray();

    public void Dispose()
    {
        foreach (string dir in new[] { Local, Guest })
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>What GuestCopy or GuestSync asked and reported: consent given or refused for every action.</summary>
internal sealed class CopyRecorder : IGuestCopyCallbacks
{
    private readonly bool _consent;

    public CopyRecorder(bool consent) => _consent = consent;

    public bool WhatIf { get; init; }

    public ConcurrentDictionary<string, string> Asked { get; } = new();

    public ConcurrentQueue<(Exception, string)> Failures { get; } = new();

    public ConcurrentQueue<GuestCopiedFile> Files { get; } = new();

    public (int Files, long Bytes)? Plan { get; private set; }

    public Task<bool> ShouldProcessAsync(string target, string action)
    {
        Asked[target] = action;
        return Task.FromResult(_consent);
    }

    public void ItemFailed(Exception exception, string target) => Failures.Enqueue((exception, target));

    // qemu-ga with guest-exec can rename and set times: a warning would mean a weaker path was taken.
    public void Warning(string text) => throw new InvalidOperationException("no warning expected, got " + text);

    public IProgress<TransferProgressInfo> ProgressFor(string fileName) => new Progress<TransferProgressInfo>();

    public void Completed(GuestCopiedFile file) => Files.Enqueue(file);

    public void Planned(int files, long bytes) => Plan = (files, bytes);
}
