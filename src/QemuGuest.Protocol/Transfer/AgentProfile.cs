using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// What one agent offers, learnt once per session from guest-info (which commands are enabled),
/// guest-get-osinfo (Windows or not) and, when listed, our agent's capabilities (size limits).
/// Task cmdlets choose their strategy from it: extensions when listed, else stock commands,
/// else guest-exec of standard tools, else a documented weaker guarantee.
/// </summary>
public sealed class AgentProfile
{
    public const string Prefix = "__com.qemuguest_";
    public const string Stat = Prefix + "guest-file-stat";
    public const string List = Prefix + "guest-file-list";
    public const string Hash = Prefix + "guest-file-hash";
    public const string Mkdir = Prefix + "guest-file-mkdir";
    public const string Rename = Prefix + "guest-file-rename";
    public const string Remove = Prefix + "guest-file-remove";
    public const string SetAttributes = Prefix + "guest-file-set-attributes";
    public const string ExecStart = Prefix + "guest-exec-start";
    public const string ExecKill = Prefix + "guest-exec-kill";
    public const string ExecRead = Prefix + "guest-exec-read";
    public const string ExecWrite = Prefix + "guest-exec-write";
    public const string Capabilities = Prefix + "guest-agent-capabilities";
    public const string Bulk = Prefix + "guest-file-bulk";

    /// <summary>
    /// Default transfer block: 60 KiB, whose base64 request or reply (82 KB with its JSON
    /// envelope) stays under .NET's 85,000-byte large-object threshold, so every per-block
    /// allocation dies young in gen0 and memory stays flat. Measured against Debian's qemu-ga
    /// on a loaded 2-core machine: 60 KiB read 12.4 MiB/s with a 36 MB peak working-set delta
    /// for 512 MiB; 1 MiB read 5.8 MiB/s / 112 MB; 4 MiB 8.3 MiB/s / 536 MB for 1 GiB (LOH churn,
    /// gen2 collections). The stock agent's own speed does not depend on the block size (a bare
    /// client moves the same ~5 MiB/s writing, ~11 MiB/s reading with 64 KiB or 4 MiB blocks).
    /// </summary>
    public const int DefaultChunkSize = 60 * 1024;

    /// <summary>Largest write block for the stock agent: 45 MiB encodes to 60 MiB of base64, under its 64 MiB message cap.</summary>
    public const int StockMaxWriteCount = 45 * 1024 * 1024;

    private readonly HashSet<string> _enabled;

    private AgentProfile(HashSet<string> enabled, bool isWindows, string version, GuestAgentCapabilities? capabilities)
    {
        _enabled = enabled;
        IsWindows = isWindows;
        Version = version;
        MaxReadCount = (int)Math.Min(capabilities?.MaxReadCount ?? GuestFileIO.StockMaxReadCount, GuestFileIO.StockMaxReadCount);
        MaxWriteCount = (int)Math.Min(capabilities?.MaxWriteCount ?? StockMaxWriteCount, StockMaxWriteCount);
        IsOurs = capabilities is not null;
        CanBulk = enabled.Contains(Bulk) && capabilities?.MaxBulkFrameBytes > 0;
    }

    /// <summary>The agent offers the binary bulk mode (and has it enabled).</summary>
    public bool CanBulk { get; }

    /// <summary>The channel refused the bulk mode once (a relay older than issue 19 stage 6, which did not carry frames): copies use JSON from then on.</summary>
    public bool BulkRefused { get; set; }

    public bool IsWindows { get; }

    public string Version { get; }

    /// <summary>True when the agent answered our capabilities extension.</summary>
    public bool IsOurs { get; }

    public int MaxReadCount { get; }

    public int MaxWriteCount { get; }

    public bool Has(string command) => _enabled.Contains(command);

    public bool CanExec => Has("guest-exec") && Has("guest-exec-status");

    public char Separator => IsWindows ? '\\' : '/';

    /// <summary>Asks the agent; callers keep the answer on the session (<see cref="GuestSessionFacts.GetProfileAsync"/>).</summary>
    internal static async Task<AgentProfile> LoadAsync(IGuestAgentChannel channel, QgaCallOptions options, CancellationToken cancellationToken)
    {
        var commands = new GuestAgentCommands(channel);
        GuestAgentInfo info = await commands.GuestInfoAsync(options, cancellationToken).ConfigureAwait(false);
        var enabled = new HashSet<string>(StringComparer.Ordinal);
        foreach (var c in info.SupportedCommands)
        {
            if (c.Enabled)
            {
                enabled.Add(c.Name);
            }
        }

        bool windows = false;
        if (enabled.Contains("guest-get-osinfo"))
        {
            try
            {
                var os = await commands.GuestGetOsinfoAsync(options, cancellationToken).ConfigureAwait(false);
                windows = string.Equals(os.Id, "mswindows", StringComparison.OrdinalIgnoreCase);
            }
            catch (QgaCommandException)
            {
                // Not fatal: assume POSIX.
            }
        }

        GuestAgentCapabilities? caps = null;
        if (enabled.Contains(Capabilities))
        {
            try
            {
                caps = await commands.GuestAgentCapabilitiesAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (QgaCommandException)
            {
            }
        }

        return new AgentProfile(enabled, windows, info.Version, caps);
    }

    /// <summary>A read block for this agent: the wish, capped by the agent's read limit.</summary>
    public int ReadChunk(int wish) => Math.Max(4096, Math.Min(wish, MaxReadCount));

    /// <summary>A write block for this agent: the wish, capped so the base64 request fits its message cap.</summary>
    public int WriteChunk(int wish) => Math.Max(4096, Math.Min(wish, MaxWriteCount));
}
