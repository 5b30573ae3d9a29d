using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using CsCheck;
using Microsoft.Extensions.Logging.Abstractions;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Agent.Handlers.Linux;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Tests;

/// <summary>Records what the dangerous commands would have done; never touches the machine.</summary>
internal sealed class FakeActions : ISystemActions
{
    public List<string> Calls { get; } = new();

    public int FreezeResult { get; set; }

    public void Shutdown(string flag) => Calls.Add("shutdown " + flag);

    public void Suspend(string mode) => Calls.Add("suspend " + mode);

    public void SetTime(long? nanoseconds) => Calls.Add("settime " + nanoseconds);

    public void SetPassword(string user, string password, bool crypted) => Calls.Add("passwd " + user + ":" + password + ":" + crypted);

    public int Freeze(string mountpoint)
    {
        Calls.Add("freeze " + mountpoint);
        return FreezeResult;
    }

    public int Thaw(string mountpoint)
    {
        bool wasFrozen = Calls.Contains("freeze " + mountpoint) && !Calls.Contains("thaw " + mountpoint);
        Calls.Add("thaw " + mountpoint);
        return wasFrozen ? 0 : 22;
    }

    public (int Errno, ulong Trimmed) Trim(string mountpoint, ulong minimum)
    {
        Calls.Add("trim " + mountpoint + " " + minimum);
        return (0, 4096);
    }

    public int WriteSysfs(string path, string value)
    {
        Calls.Add("write " + Path.GetFileName(Path.GetDirectoryName(path)) + "/" + Path.GetFileName(path) + "=" + value);
        return 0;
    }

    public int RunHook(string hook, string argument)
    {
        Calls.Add("hook " + argument);
        return 0;
    }
}

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
        Policy = new CommandPolicy(Array.Empty<string>(), Array.Empty<string>(), Path.Combine(Root, "qga.state.isfrozen"));
        var context = new AgentContext(State, Policy, new FileHandleTable(State, new PosixFileOpener()), new ExecManager(new PosixSpawnLauncher()), AgentContext.DetectPlatform(), null);
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

    public CommandPolicy Policy { get; }

    public LinuxCommandHandler Handler { get; }

    public void Write(string relative, string text)
    {
        string path = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

public sealed class LinuxHandlerTests
{
    [Fact]
    public async Task DangerousCommandsGoThroughTheSeam()
    {
        using var f = new FakeLinux();
        await f.Handler.GuestShutdownAsync(null, default);
        await f.Handler.GuestShutdownAsync("reboot", default);
        await f.Handler.GuestShutdownAsync("halt", default);
        var ex = await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestShutdownAsync("bogus", default).AsTask());
        Assert.Equal("mode is invalid (valid values are: halt|powerdown|reboot", ex.Message);
        await f.Handler.GuestSuspendRamAsync(default);
        await f.Handler.GuestSuspendDiskAsync(default);
        await f.Handler.GuestSuspendHybridAsync(default);
        await f.Handler.GuestSetTimeAsync(1_700_000_000_000_000_000, default);
        await f.Handler.GuestSetTimeAsync(null, default);
        await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestSetTimeAsync(-1, default).AsTask());
        await f.Handler.GuestSetUserPasswordAsync("alice", Convert.ToBase64String(Encoding.UTF8.GetBytes("s3cret")), false, default);
        await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestSetUserPasswordAsync("a:b", "eA==", false, default).AsTask());
        await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestSetUserPasswordAsync("alice", Convert.ToBase64String(Encoding.UTF8.GetBytes("a\nb")), false, default).AsTask());
        Assert.Equal(
            new[] { "shutdown -P", "shutdown -r", "shutdown -H", "suspend mem", "suspend disk", "suspend hybrid", "settime 1700000000000000000", "settime ", "passwd alice:s3cret:False" },
            f.Actions.Calls);
    }

    [Fact]
    public async Task SuspendRefusedWhenUnsupported()
    {
        using var f = new FakeLinux();
        f.Write("sys/power/state", "freeze\n");
        var ex = await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestSuspendRamAsync(default).AsTask());
        Assert.Equal("the requested suspend mode is not supported by the guest", ex.Message);
        Assert.Empty(f.Actions.Calls);
    }

    [Fact]
    public async Task FreezeGatesCommandsAndThawReopens()
    {
        using var f = new FakeLinux();
        long frozen = await f.Handler.GuestFsfreezeFreezeAsync(default);
        Assert.Equal(2, frozen);
        Assert.Equal(new[] { "freeze /data", "freeze /" }, f.Actions.Calls); // reverse mount order, pseudo fs skipped
        Assert.True(f.Policy.IsFrozen);
        Assert.True(File.Exists(Path.Combine(f.Root, "qga.state.isfrozen")));
        Assert.False(f.Policy.IsEnabled("guest-file-open"));
        Assert.True(f.Policy.IsEnabled("guest-fsfreeze-thaw"));
        Assert.Equal(GuestFsfreezeStatus.Frozen, await f.Handler.GuestFsfreezeStatusAsync(default));
        Assert.Equal(2, await f.Handler.GuestFsfreezeThawAsync(default));
        Assert.False(f.Policy.IsFrozen);
        Assert.False(File.Exists(Path.Combine(f.Root, "qga.state.isfrozen")));
        Assert.True(f.Policy.IsEnabled("guest-file-open"));
    }

    [Fact]
    public async Task FreezeListOnlyNamedMountpoints()
    {
        using var f = new FakeLinux();
        Assert.Equal(1, await f.Handler.GuestFsfreezeFreezeListAsync(new[] { "/data" }, default));
        Assert.Equal(new[] { "freeze /data" }, f.Actions.Calls);
        await f.Handler.GuestFsfreezeThawAsync(default);
        f.Actions.Calls.Clear();
        Assert.Equal(0, await f.Handler.GuestFsfreezeFreezeListAsync(new[] { "/nope" }, default));
        Assert.False(f.Policy.IsFrozen);
    }

    [Fact]
    public async Task FreezeFailureThawsEverything()
    {
        using var f = new FakeLinux();
        f.Actions.FreezeResult = 5; // EIO
        var ex = await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestFsfreezeFreezeAsync(default).AsTask());
        Assert.StartsWith("failed to freeze /data", ex.Message);
        Assert.False(f.Policy.IsFrozen);
    }

    [Fact]
    public async Task FstrimReportsPerMount()
    {
        using var f = new FakeLinux();
        var r = await f.Handler.GuestFstrimAsync(1024, default);
        Assert.Equal(new[] { "/", "/data" }, r.Paths.Select(p => p.Path));
        Assert.All(r.Paths, p => Assert.Equal(4096, p.Trimmed));
    }

    [Fact]
    public async Task VcpusAndMemoryBlocksFromSysfs()
    {
        using var f = new FakeLinux();
        var cpus = await f.Handler.GuestGetVcpusAsync(default);
        Assert.Equal(2, cpus.Count);
        Assert.False(cpus[0].CanOffline);
        Assert.True(cpus[1].CanOffline);
        Assert.Equal(2, await f.Handler.GuestSetVcpusAsync(new[] { new GuestLogicalProcessor(0, true), new GuestLogicalProcessor(1, false) }, default));
        Assert.Equal(new[] { "write cpu1/online=0" }, f.Actions.Calls);
        await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestSetVcpusAsync(new[] { new GuestLogicalProcessor(0, false) }, default).AsTask());

        var blocks = await f.Handler.GuestGetMemoryBlocksAsync(default);
        Assert.Equal(new ulong[] { 0, 1 }, blocks.Select(b => b.PhysIndex));
        Assert.Equal(134217728UL, (await f.Handler.GuestGetMemoryBlockInfoAsync(default)).Size);
        var set = await f.Handler.GuestSetMemoryBlocksAsync(new[] { new GuestMemoryBlock(0, false), new GuestMemoryBlock(1, false), new GuestMemoryBlock(9, true) }, default);
        Assert.Equal(new[] { GuestMemoryBlockResponseType.OperationNotSupported, GuestMemoryBlockResponseType.Success, GuestMemoryBlockResponseType.NotFound }, set.Select(s => s.Response));
    }

    [Fact]
    public async Task LoadAndCpuStats()
    {
        using var f = new FakeLinux();
        var load = await f.Handler.GuestGetLoadAsync(default);
        Assert.Equal(0.5, load.Load1m);
        var stats = await f.Handler.GuestGetCpustatsAsync(default);
        var linux = Assert.IsType<GuestCpuStats.LinuxCase>(Assert.Single(stats));
        Assert.Equal(0, linux.Cpu);
        Assert.Equal(1000UL, linux.Guestnice); // ticks of 10 ms, reported in ms like qemu-ga
    }

    [Fact]
    public async Task SshKeysForAFakeUser()
    {
        using var f = new FakeLinux();
        Directory.CreateDirectory(Path.Combine(f.Root, "home/alice"));
        await f.Handler.GuestSshAddAuthorizedKeysAsync("alice", new[] { "ssh-ed25519 AAA a", "ssh-ed25519 BBB b" }, null, default);
        await f.Handler.GuestSshAddAuthorizedKeysAsync("alice", new[] { "ssh-ed25519 AAA a" }, null, default);
        Assert.Equal(new[] { "ssh-ed25519 AAA a", "ssh-ed25519 BBB b" }, (await f.Handler.GuestSshGetAuthorizedKeysAsync("alice", default)).Keys);
        await f.Handler.GuestSshRemoveAuthorizedKeysAsync("alice", new[] { "ssh-ed25519 AAA a" }, default);
        Assert.Equal(new[] { "ssh-ed25519 BBB b" }, (await f.Handler.GuestSshGetAuthorizedKeysAsync("alice", default)).Keys);
        await f.Handler.GuestSshAddAuthorizedKeysAsync("alice", new[] { "ssh-rsa C c" }, true, default);
        Assert.Equal(new[] { "ssh-rsa C c" }, (await f.Handler.GuestSshGetAuthorizedKeysAsync("alice", default)).Keys);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(f.Root, "home/alice/.ssh/authorized_keys")));
        var ex = await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestSshGetAuthorizedKeysAsync("bob", default).AsTask());
        Assert.Equal("failed to lookup user 'bob': Success", ex.Message);
    }

    [Fact]
    public async Task FileExtensions()
    {
        using var f = new FakeLinux();
        string dir = Path.Combine(f.Root, "ext");
        await f.Handler.GuestFileMkdirAsync(Path.Combine(dir, "a/b"), true, 0x1ED, default);
        Assert.Equal((UnixFileMode)0x1ED, File.GetUnixFileMode(Path.Combine(dir, "a/b")));
        File.WriteAllText(Path.Combine(dir, "a/x.txt"), "hello");
        var stat = await f.Handler.GuestFileStatAsync(Path.Combine(dir, "a/x.txt"), null, default);
        Assert.Equal(GuestFileType.File, stat.Type);
        Assert.Equal(5, stat.Size);
        var list = await f.Handler.GuestFileListAsync(Path.Combine(dir, "a"), null, 1, default);
        Assert.Equal("b", Assert.Single(list.Entries).Name);
        Assert.True(list.Truncated);
        list = await f.Handler.GuestFileListAsync(Path.Combine(dir, "a"), "b", null, default);
        Assert.Equal("x.txt", Assert.Single(list.Entries).Name);
        var hash = await f.Handler.GuestFileHashAsync(Path.Combine(dir, "a/x.txt"), null, 1, 3, default);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.ASCII.GetBytes("ell"))), hash.Hash);
        await f.Handler.GuestFileRenameAsync(Path.Combine(dir, "a/x.txt"), Path.Combine(dir, "a/y.txt"), null, default);
        await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestFileRemoveAsync(Path.Combine(dir, "a"), false, null, default).AsTask());
        await f.Handler.GuestFileRemoveAsync(Path.Combine(dir, "a"), true, null, default);
        await f.Handler.GuestFileRemoveAsync(Path.Combine(dir, "a"), false, true, default);
        await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestFileRemoveAsync("/", true, null, default).AsTask());
    }

    [Fact]
    public async Task ExecStartStreamsAndTimesOut()
    {
        using var f = new FakeLinux();
        long pid = (await f.Handler.GuestExecStartAsync("sh", new[] { "-c", "echo one; sleep 0.2; echo two" }, null, null, GuestExecCaptureOutputMode.Stdout, f.Root, null, true, true, default)).Pid;
        var text = new StringBuilder();
        GuestExecOutput o;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            o = await f.Handler.GuestExecReadAsync(pid, null, 500, default);
            if (o.OutData is not null)
            {
                text.Append(Encoding.ASCII.GetString(Convert.FromBase64String(o.OutData)));
            }
        }
        while (!o.Exited && DateTime.UtcNow < deadline);
        Assert.Equal("one\ntwo\n", text.ToString());
        Assert.Equal(0, o.Exitcode);

        pid = (await f.Handler.GuestExecStartAsync("sleep", new[] { "30" }, null, null, null, null, 200, null, null, default)).Pid;
        deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            o = await f.Handler.GuestExecReadAsync(pid, null, 500, default);
        }
        while (!o.Exited && DateTime.UtcNow < deadline);
        Assert.True(o.TimedOut);
        Assert.Equal(9, o.Signal);

        pid = (await f.Handler.GuestExecStartAsync("sleep", new[] { "30" }, null, null, null, null, null, null, null, default)).Pid;
        await f.Handler.GuestExecKillAsync(pid, null, true, default);
        deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            o = await f.Handler.GuestExecReadAsync(pid, null, 500, default);
        }
        while (!o.Exited && DateTime.UtcNow < deadline);
        Assert.Equal(15, o.Signal);
    }
}

public sealed class CoreTests
{
    [Fact]
    public void PersistentStateLikeQemuGa()
    {
        string dir = Directory.CreateTempSubdirectory("qga-state-").FullName;
        try
        {
            var s = new PersistentState(Path.Combine(dir, "qga.state"));
            Assert.Null(s.Load(false));
            Assert.Equal("[global]\nfd_counter=1000\n", File.ReadAllText(s.FilePath));
            Assert.Equal(1000, s.NextHandle());
            Assert.Equal(1001, s.NextHandle());
            var again = new PersistentState(s.FilePath);
            Assert.Null(again.Load(false));
            Assert.Equal(1002, again.NextHandle());
            File.WriteAllText(s.FilePath, "[global]\n");
            Assert.Null(again.Load(false));
            Assert.Equal(1000, again.FdCounter);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void PolicyOrder()
    {
        var p = new CommandPolicy(new[] { "guest-ping", "guest-info" }, new[] { "guest-info" }, null);
        Assert.True(p.IsEnabled("guest-ping"));
        Assert.False(p.IsEnabled("guest-info"));
        Assert.False(p.IsEnabled("guest-exec"));
        var open = new CommandPolicy(Array.Empty<string>(), Array.Empty<string>(), null);
        open.SetFrozen();
        Assert.True(open.IsEnabled("guest-sync"));
        Assert.False(open.IsEnabled("guest-exec"));
        open.UnsetFrozen();
        Assert.True(open.IsEnabled("guest-exec"));
    }

    [Theory]
    [InlineData("{'execute':'guest-ping'}", "{\"execute\":\"guest-ping\"}")]
    [InlineData("{'a':'say \"hi\"'}", "{\"a\":\"say \\\"hi\\\"\"}")]
    [InlineData("{'a':'it\\'s'}", "{\"a\":\"it's\"}")]
    [InlineData("{\"a\":\"it's\"}", "{\"a\":\"it's\"}")]
    public void SingleQuotes(string input, string expected) =>
        Assert.Equal(expected, Encoding.UTF8.GetString(QemuJsonDialect.ToStandardJson(Encoding.UTF8.GetBytes(input))));

    [Fact]
    public void Base64LikeQemu()
    {
        Assert.Equal("hi", Encoding.ASCII.GetString(QemuBase64.Decode("aGk")));
        Assert.Equal("hi", Encoding.ASCII.GetString(QemuBase64.Decode("a\nGk=")));
        Assert.Equal("Base64 data contains invalid characters", Assert.Throws<AgentCommandException>(() => QemuBase64.Decode("a b")).Message);
        Assert.Equal("Base64 data contains embedded NUL characters", Assert.Throws<AgentCommandException>(() => QemuBase64.Decode("a\0")).Message);
        Gen.Byte.Array[0, 300].Sample(bytes => QemuBase64.Decode(Convert.ToBase64String(bytes)).AsSpan().SequenceEqual(bytes));
    }

    [Fact]
    public void OsReleaseUnquoting()
    {
        var kv = SysText.ParseOsRelease("VARIANT=\"Unit test \\\"\\'\\$\\`\\\\ and \\\\\\\\ etc.\"\nID=x\n# c\nNAME='a b'\n");
        Assert.Equal("Unit test \"'$`\\ and \\\\ etc.", kv["VARIANT"]);
        Assert.Equal("x", kv["ID"]);
        Assert.Equal("a b", kv["NAME"]);
    }

    [Fact]
    public void OutputBufferCapsAndDrains()
    {
        var b = new ExecOutputBuffer(10, streamed: false);
        b.Append(new byte[7]);
        b.Append(new byte[7]);
        Assert.True(b.Truncated);
        Assert.Equal(10, b.Take(-1).Length);
    }

    [Fact]
    public void RouteAddressDecoding()
    {
        Assert.Equal("192.0.2.1", LinuxCommandHandler.HexIPv4("010200C0"));
        Assert.Equal("::1", LinuxCommandHandler.HexIPv6("00000000000000000000000000000001"));
    }

    [Fact]
    public void DiskAddressFromSysfsPath()
    {
        var a = LinuxCommandHandler.AddressOf("/sys/devices/pci0000:00/0000:00:02.0/virtio1/block/vda")!;
        Assert.Equal(GuestDiskBusType.Virtio, a.BusType);
        Assert.Equal(2, a.PciController.Slot);
        var s = LinuxCommandHandler.AddressOf("/sys/devices/pci0000:00/0000:00:05.0/virtio2/host0/target0:0:1/0:0:1:3/block/sda")!;
        Assert.Equal(GuestDiskBusType.Scsi, s.BusType);
        Assert.Equal(1, s.Target);
        Assert.Equal(3, s.Unit);
        Assert.Null(LinuxCommandHandler.AddressOf("/sys/devices/virtual/block/loop0"));
    }

    /// <summary>A command that throws unexpectedly becomes an error reply; the next request still works.</summary>
    [Fact]
    public async Task OneFailingCommandNeverStopsTheLoop()
    {
        var processor = new RequestProcessor(new ThrowingDispatcher(), new CommandPolicy(Array.Empty<string>(), Array.Empty<string>(), null), NullLogger.Instance);
        using var writer = new JsonMessageWriter();
        string reply = Encoding.ASCII.GetString((await processor.ProcessAsync(Encoding.ASCII.GetBytes("{\"execute\":\"boom\",\"id\":1}"), writer, default)).Span);
        Assert.Contains("\"class\":\"GenericError\"", reply);
        Assert.Contains("\"id\":1", reply);
        reply = Encoding.Latin1.GetString((await processor.ProcessAsync(Encoding.ASCII.GetBytes("{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":5}}"), writer, default)).Span);
        Assert.Equal("\u00FF{\"return\":{}}\n".Length, reply.Length);
        Assert.Equal(0xFF, (int)reply[0]);
        Assert.True((await processor.ProcessAsync(Encoding.ASCII.GetBytes("{\"execute\":\"quiet\"}"), writer, default)).IsEmpty);
    }

    private sealed class ThrowingDispatcher : IAgentDispatcher
    {
        public IReadOnlyList<AgentCommandInfo> Commands { get; } = new[] { new AgentCommandInfo("boom", true), new AgentCommandInfo("guest-sync-delimited", true), new AgentCommandInfo("quiet", false) };

        public bool TryGetCommand(string name, out AgentCommandInfo info)
        {
            info = Commands.FirstOrDefault(c => c.Name == name)!;
            return info is not null;
        }

        public ValueTask DispatchAsync(string name, JsonElement arguments, Utf8JsonWriter writer, CancellationToken cancellationToken)
        {
            if (name == "boom")
            {
                throw new NullReferenceException("bug");
            }

            writer.WriteStartObject();
            writer.WriteEndObject();
            return ValueTask.CompletedTask;
        }
    }
}
