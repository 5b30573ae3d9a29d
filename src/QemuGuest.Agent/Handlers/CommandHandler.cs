using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Agent.Core;
using QemuGuest.Agent.Handlers.Common;
using QemuGuest.Protocol.Marshalling;
using QemuGuest.Protocol.Qga;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Agent.Handlers;

/// <summary>
/// The agent's implementation of the generated <see cref="IQgaCommandHandler"/>. Portable
/// commands (sync, ping, info, time, file handles, exec, the __com.qemuguest_ extensions) live
/// here; OS-specific ones are virtual and answered "not currently supported" unless the
/// platform subclass overrides them (commands compiled out for the platform never get here:
/// the dispatcher reports them "not found", like the stock agent).
/// </summary>
public abstract partial class CommandHandler : IQgaCommandHandler
{
    protected CommandHandler(AgentContext context)
    {
        Context = context;
    }

    public AgentContext Context { get; }

    protected FileHandleTable Files => Context.Files;

    protected ExecManager Exec => Context.Exec;

    protected CommandGate Gate => Context.Gate;

    protected static ValueTask<T> Done<T>(T value) => new(value);

    protected static ValueTask<T> Unsupported<T>() => ValueTask.FromException<T>(AgentCommandException.Unsupported());

    protected static ValueTask Unsupported() => ValueTask.FromException(AgentCommandException.Unsupported());

    // ---- agent ----
    public ValueTask<long> GuestSyncDelimitedAsync(long id, CancellationToken cancellationToken) => Done(id);

    public ValueTask<long> GuestSyncAsync(long id, CancellationToken cancellationToken) => Done(id);

    public ValueTask GuestPingAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public ValueTask<GuestAgentInfo> GuestInfoAsync(CancellationToken cancellationToken)
    {
        var commands = new List<GuestAgentCommandInfo>();
        foreach (QgaCommandInfo c in Context.AvailableCommands())
        {
            commands.Add(new GuestAgentCommandInfo(c.Name, Gate.IsEnabled(c.Name), c.SuccessResponse));
        }

        return Done(new GuestAgentInfo(AgentInfo.Version, commands));
    }

    // ---- time and identity ----
    public virtual ValueTask<long> GuestGetTimeAsync(CancellationToken cancellationToken) =>
        Done((DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100);

    public virtual ValueTask GuestSetTimeAsync(long? time, CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask GuestShutdownAsync(string? mode, CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask GuestSuspendDiskAsync(CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask GuestSuspendRamAsync(CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask GuestSuspendHybridAsync(CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask<GuestHostName> GuestGetHostNameAsync(CancellationToken cancellationToken) =>
        Done(new GuestHostName(Environment.MachineName));

    public virtual ValueTask<GuestTimezone> GuestGetTimezoneAsync(CancellationToken cancellationToken)
    {
        TimeZoneInfo tz = TimeZoneInfo.Local;
        var offset = tz.GetUtcOffset(DateTime.UtcNow);
        return Done(new GuestTimezone((long)offset.TotalSeconds) { Zone = tz.IsDaylightSavingTime(DateTime.Now) ? tz.DaylightName : tz.StandardName });
    }

    public virtual ValueTask<GuestOSInfo> GuestGetOsinfoAsync(CancellationToken cancellationToken) => Unsupported<GuestOSInfo>();

    public virtual ValueTask<GuestLoadAverage> GuestGetLoadAsync(CancellationToken cancellationToken) => Unsupported<GuestLoadAverage>();

    // ---- files ----
    public ValueTask<long> GuestFileOpenAsync(string path, string? mode, CancellationToken cancellationToken) => Done(Files.Open(path, mode));

    public ValueTask GuestFileCloseAsync(long handle, CancellationToken cancellationToken)
    {
        Files.Close(handle);
        return ValueTask.CompletedTask;
    }

    public ValueTask<GuestFileReadBytes> GuestFileReadAsync(long handle, long? count, CancellationToken cancellationToken) => Done(Files.Read(handle, count));

    public ValueTask<GuestFileWrite> GuestFileWriteAsync(long handle, QapiBase64 bufB64, long? count, CancellationToken cancellationToken) => Done(Files.Write(handle, bufB64, count));

    public ValueTask<GuestFileSeek> GuestFileSeekAsync(long handle, long offset, GuestFileWhence whence, CancellationToken cancellationToken) => Done(Files.Seek(handle, offset, whence));

    public ValueTask GuestFileFlushAsync(long handle, CancellationToken cancellationToken)
    {
        Files.Flush(handle);
        return ValueTask.CompletedTask;
    }

    // ---- filesystems ----
    public virtual ValueTask<GuestFsfreezeStatus> GuestFsfreezeStatusAsync(CancellationToken cancellationToken) =>
        Done(Gate.IsFrozen ? GuestFsfreezeStatus.Frozen : GuestFsfreezeStatus.Thawed);

    public virtual ValueTask<long> GuestFsfreezeFreezeAsync(CancellationToken cancellationToken) => Unsupported<long>();

    public virtual ValueTask<long> GuestFsfreezeFreezeListAsync(IReadOnlyList<string>? mountpoints, CancellationToken cancellationToken) => Unsupported<long>();

    public virtual ValueTask<long> GuestFsfreezeThawAsync(CancellationToken cancellationToken) => Unsupported<long>();

    public virtual ValueTask<GuestFilesystemTrimResponse> GuestFstrimAsync(long? minimum, CancellationToken cancellationToken) => Unsupported<GuestFilesystemTrimResponse>();

    public virtual ValueTask<IReadOnlyList<GuestDiskInfo>> GuestGetDisksAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestDiskInfo>>();

    public virtual ValueTask<IReadOnlyList<GuestFilesystemInfo>> GuestGetFsinfoAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestFilesystemInfo>>();

    public virtual ValueTask<IReadOnlyList<GuestDiskStatsInfo>> GuestGetDiskstatsAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestDiskStatsInfo>>();

    // ---- network / hardware ----
    public virtual ValueTask<IReadOnlyList<GuestNetworkInterface>> GuestNetworkGetInterfacesAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestNetworkInterface>>();

    public virtual ValueTask<IReadOnlyList<GuestNetworkRoute>> GuestNetworkGetRouteAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestNetworkRoute>>();

    public virtual ValueTask<IReadOnlyList<GuestNetworkRoute>> GuestGetRoutesAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestNetworkRoute>>();

    public virtual ValueTask<IReadOnlyList<GuestLogicalProcessor>> GuestGetVcpusAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestLogicalProcessor>>();

    public virtual ValueTask<long> GuestSetVcpusAsync(IReadOnlyList<GuestLogicalProcessor> vcpus, CancellationToken cancellationToken) => Unsupported<long>();

    public virtual ValueTask<IReadOnlyList<GuestMemoryBlock>> GuestGetMemoryBlocksAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestMemoryBlock>>();

    public virtual ValueTask<IReadOnlyList<GuestMemoryBlockResponse>> GuestSetMemoryBlocksAsync(IReadOnlyList<GuestMemoryBlock> memBlks, CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestMemoryBlockResponse>>();

    public virtual ValueTask<GuestMemoryBlockInfo> GuestGetMemoryBlockInfoAsync(CancellationToken cancellationToken) => Unsupported<GuestMemoryBlockInfo>();

    public virtual ValueTask<IReadOnlyList<GuestDeviceInfo>> GuestGetDevicesAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestDeviceInfo>>();

    public virtual ValueTask<IReadOnlyList<GuestCpuStats>> GuestGetCpustatsAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestCpuStats>>();

    // ---- exec ----
    public ValueTask<GuestExecStatus> GuestExecStatusAsync(long pid, CancellationToken cancellationToken) => Done(Exec.Status(pid));

    public ValueTask<GuestExec> GuestExecAsync(string path, IReadOnlyList<string>? arg, IReadOnlyList<string>? env, string? inputData, GuestExecCaptureOutput? captureOutput, CancellationToken cancellationToken)
    {
        byte[]? input = inputData is null ? null : QemuBase64.Decode(inputData);
        var request = new ExecRequest(path, arg ?? Array.Empty<string>(), env, false, input, ExecManager.ResolveCapture(captureOutput), null, false);
        return Done(new GuestExec(Exec.Start(request, extended: false, streamed: false, timeoutMs: null)));
    }

    // ---- users ----
    public virtual ValueTask GuestSetUserPasswordAsync(string username, string password, bool crypted, CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask<IReadOnlyList<GuestUser>> GuestGetUsersAsync(CancellationToken cancellationToken) => Unsupported<IReadOnlyList<GuestUser>>();

    public virtual ValueTask<GuestAuthorizedKeys> GuestSshGetAuthorizedKeysAsync(string username, CancellationToken cancellationToken) => Unsupported<GuestAuthorizedKeys>();

    public virtual ValueTask GuestSshAddAuthorizedKeysAsync(string username, IReadOnlyList<string> keys, bool? reset, CancellationToken cancellationToken) => Unsupported();

    public virtual ValueTask GuestSshRemoveAuthorizedKeysAsync(string username, IReadOnlyList<string> keys, CancellationToken cancellationToken) => Unsupported();
}
