using System;
using System.Buffers;
using System.Linq;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol;
using QemuGuest.Protocol.Client;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Link;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;

namespace QemuGuest.Relay.Guest;

/// <summary>
/// Owns one VM's agent channel: connects (with backoff), syncs (the shared
/// <see cref="SyncHandshake"/>: 0xFF + guest-sync-delimited) on every connect, after every timeout and whenever the stream is out of step, and runs the
/// clients' requests one at a time, taken round-robin from a bounded <see cref="FairQueue{T}"/>.
/// Each request goes out with a relay-owned id; the reply must carry it (in-order matching
/// with the id as a check). Every wait is timed out; every failure ends as a clear error for
/// the one client it concerns, and the loop goes on.
/// </summary>
public sealed class VmChannel : IAsyncDisposable
{
    private readonly LimitOptions _limits;
    private readonly ILogger _logger;
    private readonly FairQueue<RelayRequest> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly JsonMessageWriter _writer = new();
    private readonly SyncHandshake _handshake;
    private readonly object _gateLock = new();
    private TaskCompletionSource _runningGate = CompletedGate();
    private long _nextId;
    private Task? _loop;
    private volatile GuestConnection? _connection;
    private volatile VmState _state = VmState.Stopped;

    public VmChannel(string name, IGuestAgentTransport agent, LimitOptions limits, ILogger logger)
    {
        Name = name;
        Agent = agent;
        _limits = limits;
        _logger = logger;
        _queue = new FairQueue<RelayRequest>(limits.MaxQueuedRequests, limits.MaxQueuedPerClient, limits.MaxQueuedBytes);
        _nextId = Random.Shared.NextInt64(1, 1L << 40);
        _handshake = new SyncHandshake(limits.SyncTimeout, limits.SyncAttempts);
    }

    public string Name { get; }

    public IGuestAgentTransport Agent { get; }

    public RelayCounters Counters { get; } = new();

    public VmState State => _state;

    /// <summary>From QMP: null when unknown (no QMP socket), else whether the guest has the agent port open.</summary>
    public bool? PortOpen { get; private set; }

    public DateTimeOffset? ConnectedSince { get; private set; }

    public DateTimeOffset? LastSync { get; private set; }

    public int QueueLength => _queue.Count;

    public void Start()
    {
        _loop ??= Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>Queues a request; the outcome arrives on <see cref="RelayRequest.Completion"/>.</summary>
    public EnqueueResult Submit(object client, RelayRequest request)
    {
        request.Client = client;
        var result = _queue.TryEnqueue(client, request, request.Size);
        if (result != EnqueueResult.Queued)
        {
            RelayCounters.Inc(ref Counters.QueueFull);
        }

        return result;
    }

    /// <summary>From QMP: null when unknown, else whether the VM runs (STOP / RESUME, query-status).</summary>
    public bool? Running { get; private set; }

    /// <summary>
    /// QMP says the VM stopped or runs again. While it is stopped (paused, or switching over to
    /// a migration's destination) no request is sent: a stopped guest cannot answer, and a
    /// request written into the source's chardev during the switch-over is lost with it. Queued
    /// requests wait, bounded by the queue timeout; the one already taken waits at most that long.
    /// </summary>
    public void OnRunStateChanged(bool running)
    {
        lock (_gateLock)
        {
            if (Running == running)
            {
                return;
            }

            Running = running;
            if (running)
            {
                _runningGate.TrySetResult();
            }
            else
            {
                RelayCounters.Inc(ref Counters.Stops);
                if (_runningGate.Task.IsCompleted)
                {
                    _runningGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
        }
    }

    /// <summary>
    /// QMP says this QEMU process handed the guest over to a migration's destination
    /// (query-status 'postmigrate', or a MIGRATION event 'completed'). The connection to its
    /// chardev leads nowhere any more: close it now rather than when the source quits, and
    /// connect again at the configured path, where the destination's chardev now listens (same
    /// host: libvirt and Proxmox re-create it there). The request in flight fails as a lost
    /// connection (a copy resumes from it); queued ones wait and go to the destination.
    /// </summary>
    public void OnMigrated()
    {
        var c = _connection;
        RelayCounters.Inc(ref Counters.Migrations);
        Log.Migrated(_logger, Name);
        // Closed first: a request held while the source was stopped then goes back to the
        // queue for the destination instead of into the old connection.
        c?.Close("the VM migrated to another QEMU process");
        OnRunStateChanged(true);
    }

    /// <summary>QMP told us the guest opened or closed the agent port (VSERPORT_CHANGE / query-chardev).</summary>
    public void OnPortChanged(bool open)
    {
        bool? was = PortOpen;
        PortOpen = open;
        var c = _connection;
        if (c is null)
        {
            return;
        }

        if (!open)
        {
            c.FailCurrent("the guest closed the agent port (reboot, shutdown or agent stopped); the command may or may not have run");
        }
        else if (was == false)
        {
            // A fresh agent behind the same chardev: its parser is new, but sync anyway.
            c.NeedsResync = true;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        while (_queue.TryDequeue(out var r))
        {
            if (r!.TryTake())
            {
                r.Complete(GuestOutcome.RelayError($"VM '{Name}' was removed from the relay"));
            }
        }

        _writer.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var delay = _limits.ReconnectInitial;
        while (!stop.IsCancellationRequested)
        {
            _state = VmState.Connecting;
            GuestConnection connection;
            try
            {
                connection = await GuestConnection.ConnectAsync(Agent, Name, _limits, Counters, _logger, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                Log.ConnectFailed(_logger, Name, Agent.Endpoint, e.Message, delay.TotalMilliseconds);
                if (!await DelayAsync(delay, stop).ConfigureAwait(false))
                {
                    break;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _limits.ReconnectMax.Ticks));
                continue;
            }
            catch (OperationCanceledException)
            {
                break;
            }

            RelayCounters.Inc(ref Counters.Connects);
            ConnectedSince = DateTimeOffset.UtcNow;
            Log.Connected(_logger, Name, Agent.Endpoint);
            _connection = connection;
            bool synced = false;
            try
            {
                synced = await ServeAsync(connection, stop).ConfigureAwait(false);
            }
            catch (Exception e) when (!stop.IsCancellationRequested)
            {
                Log.ChannelLoopFailed(_logger, Name, e);
            }
            finally
            {
                _connection = null;
                ConnectedSince = null;
                _state = VmState.Connecting;
                await connection.DisposeAsync().ConfigureAwait(false);
                RelayCounters.Inc(ref Counters.Disconnects);
                if (!stop.IsCancellationRequested)
                {
                    Log.Disconnected(_logger, Name, connection.CloseReason);
                }
            }

            delay = synced ? _limits.ReconnectInitial : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _limits.ReconnectMax.Ticks));
            if (!await DelayAsync(synced ? _limits.ReconnectInitial : delay, stop).ConfigureAwait(false))
            {
                break;
            }
        }

        _state = VmState.Stopped;
    }

    /// <summary>Runs requests on one connection until it closes; true if it was ever synchronised.</summary>
    private async Task<bool> ServeAsync(GuestConnection connection, CancellationToken stop)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stop, connection.Closed);
        var token = linked.Token;
        _state = VmState.Syncing;
        if (!await SyncAsync(connection, token).ConfigureAwait(false))
        {
            return false;
        }

        _state = VmState.Ready;
        while (true)
        {
            if (connection.NeedsResync)
            {
                // Before taking a request: if the guest cannot be brought back in step, the
                // queued requests stay queued (bounded by the queue timeout) for the next connection.
                _state = VmState.Syncing;
                if (!await SyncAsync(connection, token).ConfigureAwait(false))
                {
                    return true;
                }

                _state = VmState.Ready;
            }

            RelayRequest request;
            try
            {
                request = await _queue.DequeueAsync(token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return true;
            }

            if (!request.TryTake())
            {
                continue;
            }

            if (!await WhileStoppedAsync(token).ConfigureAwait(false))
            {
                // The connection closed while the VM was stopped (migration completed): this
                // request goes first on the next one.
                if (!PutBack(request))
                {
                    request.Complete(GuestOutcome.RelayError($"{request.Command.Name}: the connection to the guest agent closed before the request was sent"));
                    RelayCounters.Inc(ref Counters.ErrorsToClients);
                }

                return true;
            }

            if (connection.NeedsResync)
            {
                _state = VmState.Syncing;
                if (!await SyncAsync(connection, token).ConfigureAwait(false))
                {
                    // Not sent: back in the queue for the next connection (bounded by its timeout).
                    if (!PutBack(request))
                    {
                        request.Complete(GuestOutcome.RelayError("the guest agent does not answer guest-sync-delimited; the request was not sent"));
                        RelayCounters.Inc(ref Counters.ErrorsToClients);
                    }

                    return true;
                }

                _state = VmState.Ready;
            }

            if (request.IsLocalSync)
            {
                RelayCounters.Inc(ref Counters.LocalSyncs);
                request.Complete(GuestOutcome.NoReply);
                continue;
            }

            GuestOutcome? outcome;
            try
            {
                outcome = await ExecuteAsync(connection, request, token).ConfigureAwait(false);
                if (outcome is null)
                {
                    // Never sent: the connection closed under it. It waits for the next one.
                    if (PutBack(request))
                    {
                        return true;
                    }

                    outcome = GuestOutcome.RelayError($"{request.Command.Name}: the connection to the guest agent closed before the request was sent");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException || !stop.IsCancellationRequested)
            {
                outcome = GuestOutcome.RelayError("internal error: " + e.Message);
            }
            catch (OperationCanceledException)
            {
                request.Complete(GuestOutcome.RelayError("the relay is stopping"));
                throw;
            }

            if (request.Bulk is { } bulk)
            {
                outcome = StartBulk(connection, bulk, outcome);
                if (outcome.Kind == OutcomeKind.Return)
                {
                    request.Complete(outcome);
                    var done = await FinishBulkAsync(connection, bulk, stop).ConfigureAwait(false);
                    if (done.Kind == OutcomeKind.Error && done.Description!.StartsWith("qemuguest-relay:", StringComparison.Ordinal))
                    {
                        RelayCounters.Inc(ref Counters.ErrorsToClients);
                    }

                    if (!bulk.Done.TrySetResult(done))
                    {
                        done.Dispose();
                    }

                    continue;
                }
            }

            if (outcome.Kind == OutcomeKind.Error && outcome.Description!.StartsWith("qemuguest-relay:", StringComparison.Ordinal))
            {
                RelayCounters.Inc(ref Counters.ErrorsToClients);
            }

            request.Complete(outcome);
        }
    }

    /// <summary>
    /// Waits while QMP says the VM is stopped, at most the queue timeout (then the request goes
    /// out and meets the reply timeouts). False when the connection closed meanwhile.
    /// </summary>
    private async Task<bool> WhileStoppedAsync(CancellationToken token)
    {
        Task gate;
        lock (_gateLock)
        {
            gate = _runningGate.Task;
        }

        if (gate.IsCompleted)
        {
            return true;
        }

        RelayCounters.Inc(ref Counters.HeldWhileStopped);
        try
        {
            await gate.WaitAsync(_limits.QueueTimeout, token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        return true;
    }

    /// <summary>A request taken but never sent goes back, first in its client's line.</summary>
    private bool PutBack(RelayRequest request)
    {
        if (!request.TryUntake())
        {
            return false;
        }

        _queue.ReturnToFront(request.Client!, request, request.Size);
        return true;
    }

    private async Task<bool> SyncAsync(GuestConnection connection, CancellationToken token)
    {
        SyncResult result;
        try
        {
            result = await connection.Link.SyncAsync(_handshake, preferDelimited: true, token).ConfigureAwait(false);
        }
        catch (AgentLinkException)
        {
            return false; // the write failed: the connection is closed
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        switch (result.Kind)
        {
            case SyncResultKind.Synced:
                connection.NeedsResync = false;
                LastSync = DateTimeOffset.UtcNow;
                Log.Synced(_logger, Name, result.Rounds);
                return true;
            case SyncResultKind.Silent:
                RelayCounters.Inc(ref Counters.SyncFailures);
                Log.SyncFailed(_logger, Name, result.Rounds);
                return false;
            default:
                return false;
        }
    }

    /// <summary>Runs one request; null when it was never sent (the connection was already gone).</summary>
    private async Task<GuestOutcome?> ExecuteAsync(GuestConnection connection, RelayRequest request, CancellationToken token)
    {
        var command = request.Command;
        long id = Interlocked.Increment(ref _nextId);
        var expectation = connection.Expect(id, command.Name, inline: request.Bulk is null);
        if (request.Bulk is { } bulk)
        {
            bulk.Accept = expectation;
            connection.BeginBulk(bulk);
        }
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(token);
        deadline.CancelAfter(_limits.FirstByteTimeout);
        expectation.OnFirstByte = () =>
        {
            try
            {
                deadline.CancelAfter(_limits.LastByteTimeout);
            }
            catch (ObjectDisposedException)
            {
            }
        };

        try
        {
            await connection.WriteAsync(BuildRequest(command.Name, request.Arguments, id), token).ConfigureAwait(false);
        }
        catch (GuestChannelException e)
        {
            connection.Clear(expectation);
            // Part of it may have reached the guest: as much an interruption as a connection
            // lost after sending, and marked so (a copy resumes from it: docs/copy.md).
            return e.NotSent ? null : GuestOutcome.RelayError($"{command.Name}: {e.Message}; the command may or may not have run", QgaInterruption.ConnectionLost);
        }

        RelayCounters.Inc(ref Counters.Requests);
        Log.Sent(_logger, Name, command.Name, id);

        if (!command.SuccessResponse)
        {
            // The schema says: no reply on success. Wait a little for an error, then treat
            // silence (or the channel closing, as for guest-shutdown) as success.
            RelayCounters.Inc(ref Counters.NoResponseCommands);
            try
            {
                var reply = await expectation.Task.WaitAsync(_limits.NoResponseGrace, token).ConfigureAwait(false);
                var outcome = ReplyChecker.Check(reply!, command, _limits.MaxErrorDescChars, out _);
                if (outcome.Kind == OutcomeKind.Error)
                {
                    RelayCounters.Inc(ref Counters.Replies);
                    return outcome;
                }

                outcome.Dispose();
            }
            catch (TimeoutException)
            {
                connection.Clear(expectation);
            }
            catch (GuestChannelException)
            {
                connection.Clear(expectation);
            }
            catch (OperationCanceledException) when (connection.Closed.IsCancellationRequested)
            {
                // The channel closed while we waited (the guest powered off after reading
                // guest-shutdown): the expectation is cancelled with it. That is the success case.
                connection.Clear(expectation);
            }

            connection.NeedsResync = true;
            return GuestOutcome.NoReply;
        }

        OwnedJsonHolder holder;
        try
        {
            holder = new OwnedJsonHolder(await expectation.Task.WaitAsync(deadline.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            connection.Clear(expectation);
            connection.NeedsResync = true;
            RelayCounters.Inc(ref Counters.Timeouts);
            string phase = expectation.SawFirstByte
                ? $"the reply did not complete within {_limits.LastByteTimeoutSeconds:0.###} s of its first byte"
                : $"no reply began within {_limits.FirstByteTimeoutSeconds:0.###} s";
            Log.RequestTimeout(_logger, Name, command.Name, expectation.SawFirstByte ? "last byte" : "first byte");
            return GuestOutcome.RelayError($"{command.Name}: {phase}; the command may still be running in the guest", QgaInterruption.NoReply);
        }
        catch (OperationCanceledException) when (connection.Closed.IsCancellationRequested)
        {
            connection.Clear(expectation);
            return GuestOutcome.RelayError($"{command.Name}: the connection to the guest agent was lost ({connection.CloseReason}; VM reboot, agent restart or migration?); the command may or may not have run", QgaInterruption.ConnectionLost);
        }
        catch (GuestChannelException e)
        {
            connection.Clear(expectation);
            return GuestOutcome.RelayError($"{command.Name}: {e.Message}", e.Interruption);
        }

        var result = ReplyChecker.Check(holder.Value!, command, _limits.MaxErrorDescChars, out string? problem);
        if (problem is not null)
        {
            RelayCounters.Inc(ref Counters.InvalidReplies);
            Log.InvalidReply(_logger, Name, command.Name, Protocol.GuestText.Printable(problem));
        }
        else
        {
            RelayCounters.Inc(ref Counters.Replies);
        }

        return result;
    }

    /// <summary>
    /// The first reply of a bulk transfer: an accepted one with a frame size our reader takes
    /// opens the transfer; anything else ends it here (a guest that accepted with a frame size
    /// out of bounds, or whose acceptance was refused as of the wrong shape, may already be
    /// sending frames: the connection is renewed).
    /// </summary>
    private GuestOutcome StartBulk(GuestConnection connection, BulkRelay bulk, GuestOutcome outcome)
    {
        if (outcome.Kind == OutcomeKind.Return && bulk.MaxFrame > 0 && bulk.Final is not null)
        {
            RelayCounters.Inc(ref Counters.BulkTransfers);
            return outcome;
        }

        connection.EndBulk();
        if (bulk.Final is not null)
        {
            connection.Clear(bulk.Final);
            connection.Close("bulk transfer not carried");
            if (outcome.Kind == OutcomeKind.Return)
            {
                outcome.Dispose();
                RelayCounters.Inc(ref Counters.InvalidReplies);
                return GuestOutcome.RelayError($"the guest agent's reply to {GuestAgentClient.BulkCommand} does not match the schema (max-frame-bytes must be 1 to {BulkFrame.MaxPayloadBytes}); not passed on");
            }
        }

        return outcome;
    }

    /// <summary>
    /// Holds the channel while the frames move, until the transfer's second reply: no other
    /// request goes to the guest meanwhile. Bounded by <see cref="LimitOptions.LastByteTimeout"/>
    /// of silence on both sides together; every failure ends with the channel resynchronised
    /// (a frame from the guest that broke a rule, or silence inside a read, renew the connection,
    /// since where the guest's next frame starts is unknown).
    /// </summary>
    private async Task<GuestOutcome> FinishBulkAsync(GuestConnection connection, BulkRelay bulk, CancellationToken stop)
    {
        var final = bulk.Final!;
        string command = final.Command;
        try
        {
            while (!(final.Task.IsCompleted && bulk.PumpDone.IsCompleted))
            {
                TimeSpan left = _limits.LastByteTimeout - bulk.Quiet;
                if (left <= TimeSpan.Zero)
                {
                    RelayCounters.Inc(ref Counters.Timeouts);
                    RelayCounters.Inc(ref Counters.BulkRejected);
                    Log.BulkRejected(_logger, Name, "silence");
                    connection.Clear(final);
                    if (bulk.IsWrite)
                    {
                        // The pump ends within its own bound of the client's silence; it must not
                        // write to the guest once the channel serves others.
                        await bulk.PumpDone.ConfigureAwait(false);
                        connection.NeedsResync = true;
                    }
                    else
                    {
                        connection.Close("bulk transfer silent");
                    }

                    return GuestOutcome.RelayError($"{command}: {BulkRelayTexts.Name}: nothing moved for {_limits.LastByteTimeoutSeconds:0.###} s inside the transfer ({bulk.Bytes} of {bulk.Count} bytes passed on); the transfer was ended and the channel resynchronised", QgaInterruption.BadFrame);
                }

                // Only what is still pending may end this wait: a finished task makes WhenAny
                // return at once, and the loop then spun without ever yielding (a read's pump is
                // done from the start). On the thread of a client whose request found the channel
                // idle, that spin also kept the session from sending the acceptance the guest
                // reader waits for: "the client did not take the accepting reply in time".
                Task pending = final.Task.IsCompleted ? bulk.PumpDone : bulk.PumpDone.IsCompleted ? final.Task : Task.WhenAny(final.Task, bulk.PumpDone);
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(stop);
                await Task.WhenAny(pending, Task.Delay(left, wake.Token)).ConfigureAwait(false);
                wake.Cancel();
                stop.ThrowIfCancellationRequested();
            }

            if (bulk.ClientFailure is { } wrong && bulk.GuestFailure is null)
            {
                // The guest's reply (an error for the missing bytes) is the remedy's business.
                RelayCounters.Inc(ref Counters.BulkRejected);
                Log.BulkRejected(_logger, Name, "client: " + Protocol.GuestText.Printable(wrong));
                connection.NeedsResync = true;
                if (final.Task.IsCompletedSuccessfully)
                {
                    final.Task.Result?.Dispose();
                }

                return GuestOutcome.RelayError(BulkRelayTexts.ClientFrame(command, wrong), QgaInterruption.BadFrame);
            }

            Wire.OwnedJson reply;
            try
            {
                reply = (await final.Task.ConfigureAwait(false))!;
            }
            catch (GuestChannelException e)
            {
                return GuestOutcome.RelayError(e.Message, e.Interruption);
            }

            var outcome = ReplyChecker.Check(reply, BulkDone, _limits.MaxErrorDescChars, out string? problem);
            if (problem is not null)
            {
                RelayCounters.Inc(ref Counters.InvalidReplies);
                Log.InvalidReply(_logger, Name, command, Protocol.GuestText.Printable(problem));
                connection.NeedsResync = true;
                return outcome;
            }

            RelayCounters.Inc(ref Counters.Replies);
            if (outcome.Kind == OutcomeKind.Error)
            {
                // Our agent ends a failed write early and drops what follows up to the next 0xFF.
                connection.NeedsResync = true;
                return outcome;
            }

            long count = outcome.Value.GetProperty("count").GetInt64();
            if (!bulk.IsWrite ? count != bulk.Bytes || !bulk.GuestEnded : count < 0 || count > bulk.Count)
            {
                outcome.Dispose();
                RelayCounters.Inc(ref Counters.BulkRejected);
                connection.NeedsResync = true;
                string lie = $"the guest agent reported {count} bytes but {bulk.Bytes} of at most {bulk.Count} were passed on{(bulk.IsWrite || bulk.GuestEnded ? "" : ", and it sent no end frame")}";
                Log.BulkRejected(_logger, Name, lie);
                return GuestOutcome.RelayError(BulkRelayTexts.GuestFrame(command, lie), QgaInterruption.BadFrame);
            }

            return outcome;
        }
        finally
        {
            connection.EndBulk();
        }
    }

    /// <summary>The bulk command's second reply is checked as the schema's GuestFileBulkDone.</summary>
    private static readonly QemuGuest.Protocol.Validation.QgaCommandDescriptor BulkDone = new(
        QemuGuest.Protocol.Qga.QgaSchemaDescriptors.Commands.First(c => c.Info.Name == GuestAgentClient.BulkCommand).Info,
        null,
        QemuGuest.Protocol.Qga.QgaSchemaDescriptors.GuestFileBulkDone);

    private ReadOnlyMemory<byte> BuildRequest(string command, byte[]? arguments, long id)
    {
        if (arguments is { Length: > LargeRequest })
        {
            // A large write (guest-file-write) goes in a plain array the GC takes back, not a
            // pooled buffer the shared pool would keep per thread.
            var buffer = new System.Buffers.ArrayBufferWriter<byte>(arguments.Length + command.Length + 64);
            using (var large = new Utf8JsonWriter(buffer, JsonMessageWriter.Options))
            {
                WriteRequest(large, command, arguments, id);
            }

            buffer.Write("\n"u8);
            return buffer.WrittenMemory;
        }

        Utf8JsonWriter w = _writer.BeginMessage();
        WriteRequest(w, command, arguments, id);
        return _writer.EndMessage();
    }

    private const int LargeRequest = 1024 * 1024;

    private static void WriteRequest(Utf8JsonWriter w, string command, byte[]? arguments, long id)
    {
        w.WriteStartObject();
        w.WriteString(JsonNames.Execute, command);
        if (arguments is not null)
        {
            w.WritePropertyName(JsonNames.Arguments);
            w.WriteRawValue(arguments, skipInputValidation: true);
        }

        w.WriteNumber(JsonNames.Id, id);
        w.WriteEndObject();
    }

    private static TaskCompletionSource CompletedGate()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        done.SetResult();
        return done;
    }

    private static async Task<bool> DelayAsync(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    private readonly struct OwnedJsonHolder
    {
        public OwnedJsonHolder(Wire.OwnedJson? value) => Value = value;

        public Wire.OwnedJson? Value { get; }
    }
}
