using System;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using CsCheck;
using QemuGuest.Agent.Core;
using QemuGuest.Protocol.Qga;

namespace QemuGuest.Agent.Tests;

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
        Assert.True(f.Gate.IsFrozen);
        Assert.True(File.Exists(Path.Combine(f.Root, "qga.state.isfrozen")));
        Assert.False(f.Gate.IsEnabled("guest-file-open"));
        Assert.True(f.Gate.IsEnabled("guest-fsfreeze-thaw"));
        Assert.Equal(GuestFsfreezeStatus.Frozen, await f.Handler.GuestFsfreezeStatusAsync(default));
        Assert.Equal(2, await f.Handler.GuestFsfreezeThawAsync(default));
        Assert.False(f.Gate.IsFrozen);
        Assert.False(File.Exists(Path.Combine(f.Root, "qga.state.isfrozen")));
        Assert.True(f.Gate.IsEnabled("guest-file-open"));
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
        Assert.False(f.Gate.IsFrozen);
    }

    [Fact]
    public async Task FreezeFailureThawsEverything()
    {
        using var f = new FakeLinux();
        f.Actions.FreezeResult = 5; // EIO
        var ex = await Assert.ThrowsAsync<AgentCommandException>(() => f.Handler.GuestFsfreezeFreezeAsync(default).AsTask());
        Assert.StartsWith("failed to freeze /data", ex.Message);
        Assert.False(f.Gate.IsFrozen);
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
        long pid = (await f.Handler.GuestExecStartAsync("sh", new[] { "-c", "echo one; sleep 0.2; echo two" }, null, null, GuestExecCaptureOutputMode.Stdout, f.Root, null, true, true, null, default)).Pid;
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

        pid = (await f.Handler.GuestExecStartAsync("sleep", new[] { "30" }, null, null, null, null, 200, null, null, null, default)).Pid;
        deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            o = await f.Handler.GuestExecReadAsync(pid, null, 500, default);
        }
        while (!o.Exited && DateTime.UtcNow < deadline);
        Assert.True(o.TimedOut);
        Assert.Equal(9, o.Signal);

        pid = (await f.Handler.GuestExecStartAsync("sleep", new[] { "30" }, null, null, null, null, null, null, null, null, default)).Pid;
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
