using System;
using Microsoft.Extensions.Logging;

namespace QemuGuest.Relay;

/// <summary>
/// Every log message of the relay, with its EventId. The one registry: ids are never reused
/// or renumbered; new messages take the next free id in their block.
/// 1xx lifetime and config, 2xx guest channel, 3xx endpoints and clients, 4xx discovery, 5xx QMP.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(100, LogLevel.Information, "qemuguest-relay {Version} starting; runtime directory {RuntimeDirectory}; {SchemaCommands} schema commands")]
    public static partial void Starting(ILogger logger, string version, string runtimeDirectory, int schemaCommands);

    [LoggerMessage(101, LogLevel.Information, "qemuguest-relay stopping")]
    public static partial void Stopping(ILogger logger);

    [LoggerMessage(102, LogLevel.Information, "VM {Vm} added: agent {Agent}, source {Source}")]
    public static partial void VmAdded(ILogger logger, string vm, string agent, string source);

    [LoggerMessage(103, LogLevel.Information, "VM {Vm} removed")]
    public static partial void VmRemoved(ILogger logger, string vm);

    [LoggerMessage(104, LogLevel.Error, "reconciling configured and discovered VMs failed; retrying next period")]
    public static partial void ReconcileFailed(ILogger logger, Exception exception);

    [LoggerMessage(105, LogLevel.Warning, "policy {Policy} {Warning}")]
    public static partial void PolicyLeavesCommands(ILogger logger, string policy, string warning);

    [LoggerMessage(200, LogLevel.Information, "VM {Vm}: connected to the agent channel {Agent}")]
    public static partial void Connected(ILogger logger, string vm, string agent);

    [LoggerMessage(201, LogLevel.Debug, "VM {Vm}: cannot connect to {Agent}: {Reason}; retry in {Delay} ms")]
    public static partial void ConnectFailed(ILogger logger, string vm, string agent, string reason, double delay);

    [LoggerMessage(202, LogLevel.Information, "VM {Vm}: agent synchronised after {Attempts} attempt(s)")]
    public static partial void Synced(ILogger logger, string vm, int attempts);

    [LoggerMessage(203, LogLevel.Warning, "VM {Vm}: agent did not answer guest-sync-delimited in {Attempts} attempt(s); reconnecting")]
    public static partial void SyncFailed(ILogger logger, string vm, int attempts);

    [LoggerMessage(204, LogLevel.Warning, "VM {Vm}: agent channel closed ({Reason})")]
    public static partial void Disconnected(ILogger logger, string vm, string reason);

    [LoggerMessage(205, LogLevel.Warning, "VM {Vm}: {Command} got no reply in time ({Phase}); resynchronising")]
    public static partial void RequestTimeout(ILogger logger, string vm, string command, string phase);

    [LoggerMessage(206, LogLevel.Warning, "VM {Vm}: reply to {Command} does not match the schema: {Problem}")]
    public static partial void InvalidReply(ILogger logger, string vm, string command, string problem);

    [LoggerMessage(207, LogLevel.Debug, "VM {Vm}: dropped a guest message ({Why})")]
    public static partial void Dropped(ILogger logger, string vm, string why);

    [LoggerMessage(208, LogLevel.Warning, "VM {Vm}: guest sent {Bytes} bytes without an acceptable message; resynchronising")]
    public static partial void GarbageOverflow(ILogger logger, string vm, long bytes);

    [LoggerMessage(209, LogLevel.Warning, "VM {Vm}: guest message over a bound ({Bound})")]
    public static partial void Oversized(ILogger logger, string vm, string bound);

    [LoggerMessage(210, LogLevel.Error, "VM {Vm}: guest channel loop failed; restarting it")]
    public static partial void ChannelLoopFailed(ILogger logger, string vm, Exception exception);

    [LoggerMessage(211, LogLevel.Debug, "VM {Vm}: {Command} sent (relay id {Id})")]
    public static partial void Sent(ILogger logger, string vm, string command, long id);

    [LoggerMessage(212, LogLevel.Warning, "VM {Vm}: bulk transfer ended: {Why}")]
    public static partial void BulkRejected(ILogger logger, string vm, string why);

    [LoggerMessage(300, LogLevel.Information, "listening on {Endpoint} for VM {Vm} (policy {Policy})")]
    public static partial void Listening(ILogger logger, string endpoint, string vm, string policy);

    [LoggerMessage(301, LogLevel.Warning, "endpoint {Endpoint}: client limit {Limit} reached; connection refused")]
    public static partial void ClientRefused(ILogger logger, string endpoint, int limit);

    [LoggerMessage(302, LogLevel.Debug, "endpoint {Endpoint}: client session ended ({Reason})")]
    public static partial void ClientEnded(ILogger logger, string endpoint, string reason);

    [LoggerMessage(303, LogLevel.Error, "endpoint {Endpoint}: listener failed")]
    public static partial void ListenerFailed(ILogger logger, string endpoint, Exception exception);

    [LoggerMessage(304, LogLevel.Information, "control endpoint listening on {Endpoint}")]
    public static partial void ControlListening(ILogger logger, string endpoint);

    [LoggerMessage(305, LogLevel.Debug, "endpoint {Endpoint}: refused {Command}: {Reason}")]
    public static partial void RequestRejected(ILogger logger, string endpoint, string command, string reason);

    [LoggerMessage(306, LogLevel.Warning, "endpoint {Endpoint} of VM {Vm}: TCP without authentication, {What}; anyone who reaches the port may use it")]
    public static partial void TcpExposed(ILogger logger, string endpoint, string vm, string what);

    [LoggerMessage(400, LogLevel.Warning, "discovery: cannot scan {Directory}: {Reason}")]
    public static partial void DiscoveryFailed(ILogger logger, string directory, string reason);

    [LoggerMessage(401, LogLevel.Warning, "discovery: VM name {Name} from {Path} is not usable; skipped")]
    public static partial void DiscoveryBadName(ILogger logger, string name, string path);

    [LoggerMessage(402, LogLevel.Warning, "discovery: skipping {Path}: {Offender} {Reason}; only root, the relay's user and Discovery:TrustedOwners may own discovery folders and sockets")]
    public static partial void DiscoveryUntrusted(ILogger logger, string path, string offender, string reason);

    [LoggerMessage(500, LogLevel.Information, "VM {Vm}: QMP connected; agent port {Port} is {State}")]
    public static partial void QmpConnected(ILogger logger, string vm, string port, string state);

    [LoggerMessage(501, LogLevel.Information, "VM {Vm}: agent port {Port} {State} (VSERPORT_CHANGE)")]
    public static partial void QmpPortChange(ILogger logger, string vm, string port, string state);

    [LoggerMessage(502, LogLevel.Debug, "VM {Vm}: QMP unavailable: {Reason}")]
    public static partial void QmpFailed(ILogger logger, string vm, string reason);

    [LoggerMessage(503, LogLevel.Information, "VM {Vm}: {State} (QMP {Source}); requests are held while it is stopped")]
    public static partial void QmpRunState(ILogger logger, string vm, string state, string source);

    [LoggerMessage(504, LogLevel.Information, "VM {Vm}: this QEMU handed the guest over to a migration's destination; reconnecting to the agent chardev")]
    public static partial void Migrated(ILogger logger, string vm);
}
