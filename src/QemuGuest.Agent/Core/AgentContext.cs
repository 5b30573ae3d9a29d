using System;
using System.Collections.Generic;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Core;

/// <summary>The agent's shared state, handed to the command handler.</summary>
public sealed class AgentContext
{
    public AgentContext(PersistentState state, CommandGate gate, FileHandleTable files, ExecManager exec, QgaPlatform platform, string? fsfreezeHook)
    {
        State = state;
        Gate = gate;
        Files = files;
        Exec = exec;
        Platform = platform;
        FsfreezeHook = fsfreezeHook;
    }

    public PersistentState State { get; }

    public CommandGate Gate { get; }

    public FileHandleTable Files { get; }

    public ExecManager Exec { get; }

    /// <summary>The config symbols that decide which commands exist here.</summary>
    public QgaPlatform Platform { get; }

    /// <summary>The bulk transfer the handler accepted, for the service loop to run.</summary>
    public BulkSlot Bulk { get; } = new();

    /// <summary>-F: the script run with "freeze" / "thaw", or null.</summary>
    public string? FsfreezeHook { get; }

    public IEnumerable<QgaCommandInfo> AvailableCommands()
    {
        foreach (QgaCommandInfo c in QemuGuest.Agent.QgaCommandTable.All)
        {
            if (c.IsAvailableOn(Platform))
            {
                yield return c;
            }
        }
    }

    /// <summary>
    /// The platform this agent implements. QgaPlatform.Linux mirrors a minimal qemu-ga build;
    /// our Linux agent also provides what qemu-ga needs optional libraries for (libudev for
    /// guest-get-disks, utmpx for guest-get-users, getloadavg for guest-get-load).
    /// </summary>
    public static QgaPlatform DetectPlatform()
    {
        if (OperatingSystem.IsLinux())
        {
            var symbols = new List<string>(QgaPlatform.Linux.Symbols) { "CONFIG_LIBUDEV", "HAVE_UTMPX", "CONFIG_GETLOADAVG" };
            return new QgaPlatform(symbols);
        }

        return QgaPlatform.Current;
    }
}
