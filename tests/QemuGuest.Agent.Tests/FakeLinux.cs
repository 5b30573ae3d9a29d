using System;
using System.IO;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Platform.Linux;

namespace QemuGuest.Agent.Tests;

/// <summary>A fake /proc + /sys tree and a handler over it.</summary>
internal sealed class FakeLinux : IDisposable
{
    public FakeLinux()
    {
        Root = Directory.CreateTempSubdirectory("qga-fake-").FullName;
        Write("proc/self/mountinfo", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n28 1 254:1 / /data rw - xfs /dev/vdb rw\n22 27 0:21 / /proc rw - proc proc rw\n");
        Write("proc/loadavg", "0.50 0.25 0.10 1/100 1234\n");
        Write("proc/stat", "cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 10 20 30 40 50 60 70 80 90 100\nintr 1\n");
        Write("sys/devices/system/cpu/cpu0/x", string.Empty);
        Write("sys/devices/system/cpu/cpu1/online", "1\n");
        Write("sys/devices/system/memory/block_size_bytes", "8000000\n");
        Write("sys/devices/system/memory/memory0/state", "online\n");
        Write("sys/devices/system/memory/memory0/removable", "0\n");
        Write("sys/devices/system/memory/memory1/state", "online\n");
        Write("sys/devices/system/memory/memory1/removable", "1\n");
        Write("sys/power/state", "freeze mem disk\n");
        Write("sys/power/disk", "[platform] shutdown suspend\n");
        State = new PersistentState(Path.Combine(Root, "qga.state"));
        State.Load(false);
        Gate = new CommandGate(Array.Empty<string>(), Array.Empty<string>(), Path.Combine(Root, "qga.state.isfrozen"));
        var context = new AgentContext(State, Gate, new FileHandleTable(State, new LinuxFileOpener()), new ExecManager(new LinuxProcessLauncher()), AgentContext.DetectPlatform(), null);
        Handler = new LinuxCommandHandler(
            context,
            new LinuxSystem
            {
                ProcRoot = Path.Combine(Root, "proc"),
                SysRoot = Path.Combine(Root, "sys"),
                Actions = Actions,
                LookupUser = name => name == "alice" ? (Path.Combine(Root, "home/alice"), 4242u, 4242u) : null,
                OsReleasePath = () => null,
            },
            NullLogger.Instance);
    }

    public string Root { get; }

    public FakeActions Actions { get; } = new();

    public PersistentState State { get; }

    public CommandGate Gate { get; }

    public LinuxCommandHandler Handler { get; }

    public void Write(string relative, string text)
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
