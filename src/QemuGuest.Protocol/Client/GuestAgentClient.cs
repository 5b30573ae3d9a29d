using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Link;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Client;

/// <summary>Where a <see cref="GuestAgentClient"/>'s connection stands.</summary>
public enum GuestAgentClientState
{
    /// <summary>No connection; the next call connects.</summary>
    Disconnected,

    /// <summary>Connected, but the next request must be preceded by a sync round.</summary>
    OutOfStep,

    /// <summary>Connected and in step with the agent.</summary>
    Ready,

    Disposed,
}

/// <summary>
/// A client for one guest agent channel (stock qemu-ga, our agent, or the relay).
/// </summary>
/// <remarks>
/// <para><b>Ordering.</b> Calls from any number of threads are queued and sent strictly in
/// call order by one pump. With <see cref="GuestAgentClientOptions.MaxPipelineDepth"/> &gt; 1
/// several requests are on the wire at once; the agent runs them one at a time and answers in
/// order.</para>
/// <para><b>Reply matching.</b> Every typed request carries a numeric <c>"id"</c> from a
/// per-client counter. The stock agent echoes it on success and on dispatch errors, so a reply
/// with a numeric id completes the in-flight request with that id (older in-flight requests
/// that got no reply fail with <see cref="QgaProtocolException"/>, or succeed if they were
/// sent without expecting a response). A reply with an id nobody is waiting for is stale: it
/// is dropped and the connection re-syncs. An error without an id (the agent could not parse a
/// request) goes to the oldest in-flight request; a success without an id is stale like a
/// foreign id (a correct agent always echoes the id of a request it parsed). Raw requests keep whatever id the caller gave
/// and are matched in order.</para>
/// <para><b>Sync.</b> On every new connection, after a call timed out or was cancelled once
/// sent, after an unexpected or malformed reply, and after a command without success response,
/// the next request is preceded by: 0xFF + guest-sync-delimited with a random id (the 0xFF
/// resets the agent's parser, even if an earlier client left half a request in it); everything
/// received is discarded (our reader drops half-read input at the agent's 0xFF) until a reply
/// echoes that id. Each round is bounded by <see cref="GuestAgentClientOptions.SyncTimeout"/>
/// and retried with a fresh id up to <see cref="GuestAgentClientOptions.SyncAttempts"/> times.
/// An agent answering CommandNotFound gets plain guest-sync (still after 0xFF). The handshake
/// is <see cref="SyncHandshake"/>, the same one the relay runs on its guest channels.</para>
/// <para><b>Timeouts.</b> A call's timeout covers queueing, connecting, syncing, sending and the
/// reply. A call that times out before being sent leaves no trace; once sent, its reply may
/// still come, so it stays as a placeholder that swallows the reply, and the connection
/// re-syncs before the next request.</para>
/// <para><b>Disconnects.</b> When the transport drops, requests awaiting a reply fail with
/// <see cref="QgaDisconnectedException"/> (they may or may not have run, so they are never
/// retried); queued calls reconnect following <see cref="ReconnectPolicy"/>.</para>
/// </remarks>
public sealed class GuestAgentClient : IGuestAgentChannel, IDisposable, IAsyncDisposable
{
    private readonly IGuestAgentTransport _transport;
    private readonly GuestAgentClientOptions _options;
    private readonly JsonDocumentOptions _documentOptions;
    private readonly object _gate = new();
    private readonly LinkedList<PendingCall> _queue = new();
    private readonly List<PendingCall> _inFlight = new();
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly JsonMessageWriter _writer = new();
    private readonly SyncHandshake _handshake;

    private TaskCompletionSource<bool> _changed = NewSignal();
    private Task? _pump;
    private Connection? _connection;
    private SyncRound? _sync;
    private bool _outOfStep = true;
    private bool? _syncDelimitedSupported;
    private long _nextId;
    private bool _disposed;

    public GuestAgentClient(IGuestAgentTransport transport, GuestAgentClientOptions? options = null)
    {
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _options = (options ?? new GuestAgentClientOptions()).Validated();
        _documentOptions = new JsonDocumentOptions { MaxDepth = _options.MaxDepth };
        _handshake = new SyncHandshake(_options.SyncTimeout, _options.SyncAttempts);
    }

    /// <summary>Connects to an endpoint given as a <see cref="ConnectionString"/>.</summary>
    public GuestAgentClient(string connectionString, GuestAgentClientOptions? options = null)
        : this(ConnectionString.Parse(connectionString).CreateTransport(), options)
    {
    }

    public string Endpoint => _transport.Endpoint;

    public GuestAgentClientState State
    {
        get
        {
            lock (_gate)
            {
                return _disposed ? GuestAgentClientState.Disposed
                    : _connection is null ? GuestAgentClientState.Disconnected
                    : _outOfStep ? GuestAgentClientState.OutOfStep
                    : GuestAgentClientState.Ready;
            }
        }
    }

    /// <summary>Whether the agent knew guest-sync-delimited at the last sync (null: not synced yet).</summary>
    public bool? SupportsSyncDelimited
    {
        get
        {
            lock (_gate)
            {
                return _syncDelimitedSupported;
            }
        }
    }

    /// <summary>Connects (if needed) and syncs now, in queue order with other calls.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        await EnqueueAsync(new PendingCall(CallKind.Sync, SyncHandshake.SyncDelimited), null, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<JsonElement> ExecuteAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            throw new ArgumentNullException(nameof(command));
        }

        var call = new PendingCall(CallKind.Typed, command) { Arguments = arguments };
        object? result = await EnqueueAsync(call, options?.Timeout, cancellationToken).ConfigureAwait(false);
        return (JsonElement)result!;
    }

    /// <summary>Convenience overload for commands without arguments.</summary>
    public Task<JsonElement> ExecuteAsync(string command, CancellationToken cancellationToken = default) =>
        ExecuteAsync(command, null, null, cancellationToken);

    /// <inheritdoc />
    public async Task ExecuteWithoutResponseAsync(string command, IQgaArguments? arguments, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            throw new ArgumentNullException(nameof(command));
        }

        var call = new PendingCall(CallKind.NoResponse, command) { Arguments = arguments };
        await EnqueueAsync(call, options?.Timeout ?? _options.NoResponseTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends one request given as a JSON object (re-written as ASCII JSON; any "id" is kept)
    /// and returns the whole reply, error replies included (no exception for those). With
    /// <paramref name="expectResponse"/> false, returns null when the agent stays quiet (or
    /// the channel closes) until the timeout, as for guest-shutdown. The caller disposes the
    /// returned document.
    /// </summary>
    public async Task<JsonDocument?> ExecuteRawAsync(JsonElement request, bool expectResponse = true, QgaCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (request.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"A request must be a JSON object, not {request.ValueKind}.", nameof(request));
        }

        string command = request.TryGetProperty("execute", out JsonElement execute) && execute.ValueKind == JsonValueKind.String
            ? execute.GetString()!
            : "(raw request)";
        var call = new PendingCall(expectResponse ? CallKind.Raw : CallKind.RawNoResponse, command) { RawRequest = request };
        TimeSpan? timeout = options?.Timeout ?? (expectResponse ? null : _options.NoResponseTimeout);
        return (JsonDocument?)await EnqueueAsync(call, timeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>As <see cref="ExecuteRawAsync(JsonElement, bool, QgaCallOptions?, CancellationToken)"/>, from UTF-8 JSON text.</summary>
    public async Task<JsonDocument?> ExecuteRawAsync(ReadOnlyMemory<byte> requestJson, bool expectResponse = true, QgaCallOptions? options = null, CancellationToken cancellationToken = default)
    {
        JsonDocument request;
        try
        {
            request = JsonDocument.Parse(requestJson, _documentOptions);
        }
        catch (JsonException ex)
        {
            throw new ArgumentException("The request is not valid JSON: " + ex.Message, nameof(requestJson), ex);
        }

        using (request)
        {
            return await ExecuteRawAsync(request.RootElement, expectResponse, options, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        Task? pump = Shutdown();
        try
        {
            pump?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? pump = Shutdown();
        if (pump is not null)
        {
            await Task.WhenAny(pump, Task.Delay(TimeSpan.FromSeconds(5))).ConfigureAwait(false);
        }
    }

    private Task? Shutdown()
    {
        List<PendingCall> failed;
        Connection? connection;
        Task? pump;
        lock (_gate)
        {
            if (_disposed)
            {
                return null;
            }

            _disposed = true;
            failed = new List<PendingCall>(_queue);
            failed.AddRange(_inFlight);
            _queue.Clear();
            _inFlight.Clear();
            connection = _connection;
            _connection = null;
            pump = _pump;
            foreach (PendingCall call in failed)
            {
                call.State = CallState.Done;
            }

            Pulse();
        }

        _disposeCts.Cancel();
        connection?.Abort();
        foreach (PendingCall call in failed)
        {
            call.TrySetException(new ObjectDisposedException(nameof(GuestAgentClient)));
        }

        return pump;
    }

    // ---- calls ----------------------------------------------------------------------------

    private async Task<object?> EnqueueAsync(PendingCall call, TimeSpan? timeout, CancellationToken cancellationToken)
    {
        TimeSpan limit = timeout ?? _options.DefaultTimeout;
        if (limit <= TimeSpan.Zero && limit != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), limit, "A call timeout must be positive.");
        }

        call.Timeout = limit;
        using var timeoutCts = limit == Timeout.InfiniteTimeSpan ? new CancellationTokenSource() : new CancellationTokenSource(limit);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeoutCts.Token);
        call.Token = linked.Token;
        lock (_gate)
        {
            if (_disposed)
            {
                throw new ObjectDisposedException(nameof(GuestAgentClient));
            }

            if (_queue.Count >= _options.MaxQueuedCalls)
            {
                throw new InvalidOperationException($"More than {_options.MaxQueuedCalls} calls are waiting for {Endpoint}.");
            }

            call.Node = _queue.AddLast(call);
            _pump ??= Task.Run(PumpAsync);
            Pulse();
        }

        // Registered after queueing: a token that has already fired runs the callback at once.
        using (timeoutCts.Token.Register(static s => { var (c, p) = ((PendingCall, GuestAgentClient))s!; p.OnCallCancelled(c, true, default); }, (call, this)))
        using (cancellationToken.Register(static s => { var (c, p, t) = ((PendingCall, GuestAgentClient, CancellationToken))s!; p.OnCallCancelled(c, false, t); }, (call, this, cancellationToken)))
        {
            return await call.Task.ConfigureAwait(false);
        }
    }

    private void OnCallCancelled(PendingCall call, bool timedOut, CancellationToken userToken)
    {
        Exception error = timedOut
            ? new QgaTimeoutException(call.Command, call.Timeout)
            : new OperationCanceledException(userToken);
        bool succeed = false;
        lock (_gate)
        {
            switch (call.State)
            {
                case CallState.Queued:
                    if (call.Node is not null)
                    {
                        _queue.Remove(call.Node);
                        call.Node = null;
                    }

                    break;
                case CallState.Sending:
                    // The pump's write is cancelled through call.Token and drops the connection.
                    _outOfStep = true;
                    break;
                case CallState.InFlight:
                    _outOfStep = true;
                    if (call.Kind is CallKind.NoResponse or CallKind.RawNoResponse)
                    {
                        // Quiet until the timeout: the command ran (shutdown, suspend).
                        _inFlight.Remove(call);
                        succeed = timedOut;
                    }

                    // Otherwise it stays in _inFlight as a placeholder that swallows a late reply.
                    break;
                default:
                    return;
            }

            call.State = CallState.Done;
            Pulse();
        }

        if (succeed)
        {
            call.TrySetResult(null);
        }
        else
        {
            call.TrySetException(error);
        }
    }

    // ---- the pump: the only sender --------------------------------------------------------

    private async Task PumpAsync()
    {
        try
        {
            await PumpLoopAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_disposeCts.IsCancellationRequested)
        {
        }
    }

    private async Task PumpLoopAsync()
    {
        CancellationToken disposing = _disposeCts.Token;
        while (!disposing.IsCancellationRequested)
        {
            PendingCall? call;
            Task changed;
            lock (_gate)
            {
                call = _queue.First?.Value;
                changed = _changed.Task;
            }

            if (call is null)
            {
                await WaitAsync(changed, disposing).ConfigureAwait(false);
                continue;
            }

            try
            {
                // The call's token source may be disposed once the call completed: then this throws
                // and the catch below finds the call no longer ours.
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(call.Token, disposing);
                await SendAsync(call, linked.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                bool owned;
                lock (_gate)
                {
                    owned = call.State is CallState.Queued or CallState.Sending;
                    if (owned)
                    {
                        if (call.Node is not null)
                        {
                            _queue.Remove(call.Node);
                            call.Node = null;
                        }

                        _inFlight.Remove(call);
                        call.State = CallState.Done;
                    }
                }

                if (owned)
                {
                    call.TrySetException(ex is OperationCanceledException && disposing.IsCancellationRequested
                        ? new ObjectDisposedException(nameof(GuestAgentClient))
                        : ex);
                }
            }
        }
    }

    private async Task SendAsync(PendingCall call, CancellationToken cancellationToken)
    {
        Connection connection;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Connection? current;
            bool mustSync;
            Task changed;
            lock (_gate)
            {
                if (call.State != CallState.Queued)
                {
                    return;
                }

                current = _connection;
                changed = _changed.Task;
                mustSync = _outOfStep || call.Kind == CallKind.Sync;
                if (current is not null)
                {
                    bool liveInFlight = _inFlight.Exists(c => c.State != CallState.Done);
                    bool barrier = _inFlight.Exists(c => c.Kind is CallKind.NoResponse or CallKind.RawNoResponse);
                    bool ready = mustSync || call.Kind is CallKind.NoResponse or CallKind.RawNoResponse
                        ? _inFlight.Count == 0 || !liveInFlight
                        : !barrier && _inFlight.Count < _options.MaxPipelineDepth;
                    if (ready)
                    {
                        connection = current;
                        break;
                    }
                }
            }

            if (current is null)
            {
                await ConnectAsync(call, cancellationToken).ConfigureAwait(false);
                continue;
            }

            await WaitAsync(changed, cancellationToken).ConfigureAwait(false);
        }

        bool sync;
        lock (_gate)
        {
            sync = _outOfStep || call.Kind == CallKind.Sync;
        }

        if (sync)
        {
            await SyncAsync(connection, cancellationToken).ConfigureAwait(false);
            if (call.Kind == CallKind.Sync)
            {
                lock (_gate)
                {
                    if (call.State != CallState.Queued)
                    {
                        return;
                    }

                    _queue.Remove(call.Node!);
                    call.Node = null;
                    call.State = CallState.Done;
                    Pulse();
                }

                call.TrySetResult(null);
                return;
            }

            // Re-check the pipeline against the synced connection on the next turn.
            lock (_gate)
            {
                if (_connection != connection || _outOfStep)
                {
                    return;
                }
            }
        }

        ReadOnlyMemory<byte> payload;
        lock (_gate)
        {
            if (call.State != CallState.Queued || _connection != connection)
            {
                return;
            }

            if (call.Kind is CallKind.Typed or CallKind.NoResponse)
            {
                call.ExpectedId = ++_nextId;
            }
        }

        // Serialising runs caller code (IQgaArguments): outside the lock; errors fail the call only.
        payload = call.Kind is CallKind.Raw or CallKind.RawNoResponse
            ? _writer.WriteValue(call.RawRequest)
            : _writer.WriteRequest(call.Command, call.Arguments, call.ExpectedId);

        lock (_gate)
        {
            if (call.State != CallState.Queued || _connection != connection)
            {
                return;
            }

            _queue.Remove(call.Node!);
            call.Node = null;
            call.State = CallState.Sending;
            _inFlight.Add(call);
        }

        // A request half on the wire makes the connection unusable, so a caller who gives up
        // (Ctrl+C, timeout) does not cut the write short: it finishes within a bound, the call
        // stays behind as a placeholder that swallows the late reply, and the connection lives
        // on. Dropping it instead forces a reconnect, which the stock qemu-ga (one client at a
        // time) refuses until it has worked through everything already sent on the old one;
        // that is what left cleanup requests after a Ctrl+C failing to connect.
        using var writeCts = CancellationTokenSource.CreateLinkedTokenSource(_disposeCts.Token);
        using var abandon = cancellationToken.Register(
            static s => { var (cts, bound) = ((CancellationTokenSource, TimeSpan))s!; try { cts.CancelAfter(bound); } catch (ObjectDisposedException) { } },
            (writeCts, _options.AbandonedWriteTimeout));
        try
        {
            await WriteAsync(connection, payload, call.Command, writeCts.Token).ConfigureAwait(false);
        }
        catch (QgaDisconnectedException)
        {
            // The connection died under the write (e.g. the agent restarted while we were idle):
            // the request never reached a live agent, so it goes back to the head of the queue
            // once and is sent again after reconnect + sync.
            lock (_gate)
            {
                if (call.State == CallState.Sending && !call.Retried)
                {
                    _inFlight.Remove(call);
                    call.Retried = true;
                    call.State = CallState.Queued;
                    call.Node = _queue.AddFirst(call);
                    Pulse();
                    return;
                }
            }

            throw;
        }

        Exception? lost = null;
        bool quietSuccess = false;
        lock (_gate)
        {
            if (call.State == CallState.Sending)
            {
                if (_connection == connection)
                {
                    call.State = CallState.InFlight;
                }
                else
                {
                    // The receive side saw the connection close while this write was finishing.
                    // A command without response counts that as success (guest-shutdown closes
                    // the channel as soon as it has read the request); others cannot know.
                    call.State = CallState.Done;
                    quietSuccess = call.Kind is CallKind.NoResponse or CallKind.RawNoResponse;
                    lost = quietSuccess ? null : new QgaDisconnectedException(call.Command, $"Lost the connection to {Endpoint} right after sending {call.Command}.");
                }
            }

            Pulse();
        }

        if (quietSuccess)
        {
            call.TrySetResult(null);
        }
        else if (lost is not null)
        {
            call.TrySetException(lost);
        }
    }

    private async Task ConnectAsync(PendingCall call, CancellationToken cancellationToken)
    {
        ReconnectPolicy policy = _options.Reconnect;
        var clock = Stopwatch.StartNew();
        Exception? last = null;
        int attempt = 0;
        while (true)
        {
            attempt++;
            using var attemptCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (policy.ConnectTimeout != Timeout.InfiniteTimeSpan)
            {
                attemptCts.CancelAfter(policy.ConnectTimeout);
            }

            try
            {
                Stream stream = await _transport.ConnectAsync(attemptCts.Token).ConfigureAwait(false);
                var connection = new Connection(stream, new JsonMessageReader(_options.MaxMessageBytes, _options.MaxDepth));
                lock (_gate)
                {
                    if (_disposed)
                    {
                        connection.Abort();
                        throw new ObjectDisposedException(nameof(GuestAgentClient));
                    }

                    _connection = connection;
                    _outOfStep = true;
                    _syncDelimitedSupported = null;
                    Pulse();
                }

                connection.Receiving = Task.Run(() => ReceiveLoopAsync(connection));
                return;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (OperationCanceledException ex)
            {
                last = new TimeoutException($"no connection within {policy.ConnectTimeout.TotalSeconds:0.###} s", ex);
            }
            catch (Exception ex) when (ex is not ObjectDisposedException)
            {
                last = ex;
            }

            TimeSpan delay = policy.GetDelay(attempt);
            if (attempt >= policy.MaxAttempts || clock.Elapsed + delay >= policy.Deadline)
            {
                throw new QgaDisconnectedException(
                    call.Kind == CallKind.Sync ? null : call.Command,
                    $"Cannot connect to the guest agent at {Endpoint}: {attempt} attempt(s) in {clock.Elapsed.TotalSeconds:0.#} s failed; last error: {last.Message}",
                    last);
            }

            await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task SyncAsync(Connection connection, CancellationToken cancellationToken)
    {
        bool preferDelimited;
        lock (_gate)
        {
            preferDelimited = _syncDelimitedSupported != false;
        }

        SyncResult result;
        try
        {
            result = await _handshake.RunAsync(new ClientSyncLink(this, connection), preferDelimited, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The call ran out of time with its sync unanswered: this connection may be stuck,
            // and a call timeout shorter than SyncAttempts x SyncTimeout would otherwise never
            // get to drop it. Reconnecting costs a stock agent nothing.
            OnDisconnected(connection, null);
            throw;
        }

        lock (_gate)
        {
            if (result.DelimitedRefused)
            {
                _syncDelimitedSupported = false;
            }

            if (result.Kind == SyncResultKind.Synced && _connection == connection)
            {
                _outOfStep = false;
                _syncDelimitedSupported = result.Delimited;
                _inFlight.Clear();
                Pulse();
            }
        }

        switch (result.Kind)
        {
            case SyncResultKind.Synced:
                return;
            case SyncResultKind.Disconnected:
                throw new QgaDisconnectedException(null, $"The connection to {Endpoint} closed during sync.");
            default:
                TimeSpan total = TimeSpan.FromTicks(_options.SyncTimeout.Ticks * result.Rounds);
                throw new QgaTimeoutException(
                    result.Command,
                    total,
                    $"The guest agent at {Endpoint} did not answer {result.Command} ({result.Rounds} round(s) of {_options.SyncTimeout.TotalSeconds:0.###} s); is the agent running in the guest?");
        }
    }

    /// <summary>The client's side of <see cref="SyncHandshake"/>: rounds go through <c>_sync</c>, which <see cref="OnFrame"/> reads.</summary>
    private sealed class ClientSyncLink : ISyncLink
    {
        private readonly GuestAgentClient _client;
        private readonly Connection _connection;

        public ClientSyncLink(GuestAgentClient client, Connection connection)
        {
            _client = client;
            _connection = connection;
        }

        public Task SendAsync(SyncRound round, CancellationToken cancellationToken)
        {
            lock (_client._gate)
            {
                if (_client._connection != _connection)
                {
                    throw new QgaDisconnectedException(null, $"The connection to {_client.Endpoint} closed during sync.");
                }

                // Only placeholders (timed-out calls) may be left; their late replies are discarded now.
                _client._inFlight.Clear();
                _client._sync = round;
            }

            return _client.WriteAsync(_connection, round.WriteRequest(_client._writer), round.Command, cancellationToken);
        }

        public void EndRound(SyncRound round)
        {
            lock (_client._gate)
            {
                if (_client._sync == round)
                {
                    _client._sync = null;
                }
            }
        }

        public void DropSilent() => _client.OnDisconnected(_connection, null);
    }

    private async Task WriteAsync(Connection connection, ReadOnlyMemory<byte> payload, string command, CancellationToken cancellationToken)
    {
        try
        {
#if NET
            await connection.Stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
            await connection.Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
#else
            if (!System.Runtime.InteropServices.MemoryMarshal.TryGetArray(payload, out ArraySegment<byte> segment))
            {
                segment = new ArraySegment<byte>(payload.ToArray());
            }

            using (cancellationToken.Register(static s => ((Connection)s!).Abort(), connection))
            {
                await connection.Stream.WriteAsync(segment.Array!, segment.Offset, segment.Count, cancellationToken).ConfigureAwait(false);
                await connection.Stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
#endif
        }
        catch (Exception ex)
        {
            // Half a request may be on the wire: this connection is unusable. Drop it now so the
            // next send reconnects instead of finding the dead stream.
            connection.Abort();
            OnDisconnected(connection, ex);
            if (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException(cancellationToken);
            }

            throw new QgaDisconnectedException(command, $"Sending {command} to {Endpoint} failed: {ex.Message}", ex);
        }
    }

    // ---- the receive side -----------------------------------------------------------------

    private async Task ReceiveLoopAsync(Connection connection)
    {
        byte[] buffer = new byte[_options.ReceiveBufferSize];
        Exception? error = null;
        try
        {
            while (true)
            {
#if NET
                int n = await connection.Stream.ReadAsync(buffer.AsMemory(), connection.Closing).ConfigureAwait(false);
#else
                int n = await connection.Stream.ReadAsync(buffer, 0, buffer.Length, connection.Closing).ConfigureAwait(false);
#endif
                if (n == 0)
                {
                    break;
                }

                var input = new ReadOnlyMemory<byte>(buffer, 0, n);
                while (!input.IsEmpty)
                {
                    JsonFrame frame = connection.Reader.Read(input, out int used);
                    input = input.Slice(used);
                    if (frame.Kind != JsonFrameKind.None)
                    {
                        OnFrame(connection, frame);
                    }
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        OnDisconnected(connection, error);
        connection.Reader.Dispose();
    }

    private void OnFrame(Connection connection, JsonFrame frame)
    {
        SyncRound? round;
        lock (_gate)
        {
            if (_connection != connection)
            {
                return;
            }

            round = _sync;
        }

        if (round is not null)
        {
            if (frame.Kind == JsonFrameKind.Message)
            {
                OnSyncReply(round, frame.Message);
            }

            // Everything else before the matching reply is discarded.
            return;
        }

        switch (frame.Kind)
        {
            case JsonFrameKind.Message:
                OnReply(connection, frame.Message);
                break;
            case JsonFrameKind.TooLarge:
            case JsonFrameKind.TooDeep:
            case JsonFrameKind.TooManyTokens:
                // The reader skips the rest of the value, so the stream stays in step.
                FailOldest(new QgaProtocolException(null, frame.Kind switch
                {
                    JsonFrameKind.TooLarge => $"A reply from {Endpoint} exceeds {_options.MaxMessageBytes} bytes.",
                    JsonFrameKind.TooDeep => $"A reply from {Endpoint} nests deeper than {_options.MaxDepth} levels.",
                    _ => $"A reply from {Endpoint} has more than {connection.Reader.MaxTokens} JSON tokens.",
                }), markOutOfStep: false);
                break;
            default:
                // Stray or unexpected bytes: the agent never sends these outside sync.
                lock (_gate)
                {
                    _outOfStep = true;
                }

                break;
        }
    }

    private void OnSyncReply(SyncRound round, ReadOnlyMemory<byte> message)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(message, _documentOptions);
            round.Offer(document.RootElement);
        }
        catch (JsonException)
        {
            // Garbage before the sync reply: discarded.
        }
    }

    private void OnReply(Connection connection, ReadOnlyMemory<byte> message)
    {
        // JsonDocument would accept these and throw InvalidOperationException in whoever reads
        // the string later (a typed reader, a cmdlet): refuse them here as a protocol error.
        string? badString = JsonStringCheck.FindError(message.Span);
        if (badString is not null)
        {
            FailOldest(new QgaProtocolException(null, $"The guest agent at {Endpoint} sent malformed JSON: {badString}."), markOutOfStep: true);
            return;
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(message, _documentOptions);
        }
        catch (JsonException ex)
        {
            FailOldest(new QgaProtocolException(null, $"The guest agent at {Endpoint} sent malformed JSON: {ex.Message}", ex), markOutOfStep: true);
            return;
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                FailOldest(new QgaProtocolException(null, $"The guest agent at {Endpoint} sent a {root.ValueKind} where a reply object belongs."), markOutOfStep: true);
                return;
            }

            long? numericId = null;
            bool hasId = root.TryGetProperty("id", out JsonElement idElement);
            if (hasId && idElement.ValueKind == JsonValueKind.Number && idElement.TryGetInt64(out long parsed))
            {
                numericId = parsed;
            }

            PendingCall? target = null;
            List<PendingCall>? skipped = null;
            lock (_gate)
            {
                if (_connection != connection)
                {
                    return;
                }

                int index = -1;
                if (numericId is long id)
                {
                    index = _inFlight.FindIndex(c => c.ExpectedId == id);
                }

                if (index < 0 && _inFlight.Count > 0)
                {
                    // Raw requests (caller's id, if any) and id-less errors: oldest first. A typed
                    // request's reply echoing some other id is stale. So is an id-less success: the
                    // agent echoes the id of every request it could parse, so only an error can lack
                    // it; a success without one was never an answer to this request, and a value
                    // must never reach a call that did not ask for it.
                    PendingCall oldest = _inFlight[0];
                    if (oldest.ExpectedId is null || (!hasId && root.TryGetProperty("error", out _)))
                    {
                        index = 0;
                    }
                }

                if (index < 0)
                {
                    _outOfStep = true;
                    return;
                }

                target = _inFlight[index];
                if (index > 0)
                {
                    skipped = _inFlight.GetRange(0, index);
                }

                _inFlight.RemoveRange(0, index + 1);
                bool wasLive = target.State != CallState.Done;
                target.State = CallState.Done;
                if (skipped is not null)
                {
                    foreach (PendingCall c in skipped)
                    {
                        c.Skipped = c.State != CallState.Done;
                        c.State = CallState.Done;
                    }
                }

                Pulse();
                if (!wasLive)
                {
                    target = null; // a placeholder for a timed-out call: swallow its late reply
                }
            }

            if (skipped is not null)
            {
                foreach (PendingCall c in skipped)
                {
                    if (!c.Skipped)
                    {
                        continue;
                    }

                    if (c.Kind is CallKind.NoResponse or CallKind.RawNoResponse)
                    {
                        c.TrySetResult(null); // a later request got its reply: this one ran quietly
                    }
                    else
                    {
                        c.TrySetException(new QgaProtocolException(c.Command, $"The guest agent at {Endpoint} answered a later request without answering {c.Command}."));
                    }
                }
            }

            if (target is not null)
            {
                Complete(target, root, message);
            }
        }
    }

    private void Complete(PendingCall call, JsonElement root, ReadOnlyMemory<byte> message)
    {
        if (call.Kind is CallKind.Raw or CallKind.RawNoResponse)
        {
            // The caller owns the result: copy out of the receive buffer.
            call.TrySetResult(JsonDocument.Parse(message.ToArray(), _documentOptions));
            return;
        }

        if (root.TryGetProperty("return", out JsonElement value))
        {
            call.TrySetResult(call.Kind == CallKind.NoResponse ? null : value.Clone());
            return;
        }

        if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object
            && error.TryGetProperty("class", out JsonElement errorClass) && errorClass.ValueKind == JsonValueKind.String
            && error.TryGetProperty("desc", out JsonElement desc) && desc.ValueKind == JsonValueKind.String)
        {
            call.TrySetException(QgaCommandException.Create(call.Command, errorClass.GetString()!, desc.GetString()!));
            return;
        }

        call.TrySetException(new QgaProtocolException(call.Command, $"The guest agent at {Endpoint} replied to {call.Command} with neither \"return\" nor a well-formed \"error\"."));
    }

    private void FailOldest(Exception error, bool markOutOfStep)
    {
        PendingCall? call = null;
        lock (_gate)
        {
            if (markOutOfStep)
            {
                _outOfStep = true;
            }

            if (_inFlight.Count > 0)
            {
                call = _inFlight[0];
                _inFlight.RemoveAt(0);
                if (call.State == CallState.Done)
                {
                    call = null;
                }
                else
                {
                    call.State = CallState.Done;
                }

                Pulse();
            }
            else
            {
                _outOfStep = true;
            }
        }

        if (call is not null)
        {
            call.TrySetException(error is QgaProtocolException p && p.Command is null
                ? new QgaProtocolException(call.Command, p.Message, p.InnerException)
                : error);
        }
    }

    private void OnDisconnected(Connection connection, Exception? error)
    {
        List<PendingCall> inFlight;
        SyncRound? round;
        lock (_gate)
        {
            if (_connection != connection)
            {
                connection.Abort();
                return;
            }

            _connection = null;
            _outOfStep = true;
            round = _sync;
            inFlight = new List<PendingCall>(_inFlight);
            _inFlight.Clear();
            foreach (PendingCall call in inFlight)
            {
                if (call.State is CallState.Done or CallState.Sending)
                {
                    // Done: nothing to do. Still being written: the pump decides when its write
                    // completes or fails.
                    call.Skipped = false;
                    continue;
                }

                call.Skipped = true;
                call.SentCompletely = call.State == CallState.InFlight;
                call.State = CallState.Done;
            }

            Pulse();
        }

        connection.Abort();
        round?.Disconnected();
        string reason = error is null or OperationCanceledException or ObjectDisposedException ? "the channel closed" : error.Message;
        foreach (PendingCall call in inFlight)
        {
            if (!call.Skipped)
            {
                continue;
            }

            // A command without success response that was fully sent: closing is its success.
            bool sent = call.SentCompletely;
            if (sent && call.Kind is CallKind.NoResponse or CallKind.RawNoResponse)
            {
                call.TrySetResult(null);
            }
            else
            {
                call.TrySetException(new QgaDisconnectedException(call.Command, $"Lost the connection to {Endpoint} while waiting for the reply to {call.Command}: {reason}.", error));
            }
        }
    }

    // ---- helpers --------------------------------------------------------------------------

    private static TaskCompletionSource<bool> NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Wakes everything waiting for a state change. Call under the lock.</summary>
    private void Pulse()
    {
        TaskCompletionSource<bool> old = _changed;
        _changed = NewSignal();
        old.TrySetResult(true);
    }

    private static async Task WaitAsync(Task task, CancellationToken cancellationToken)
    {
        if (!task.IsCompleted)
        {
            var cancelled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(static s => ((TaskCompletionSource<bool>)s!).TrySetResult(true), cancelled))
            {
                await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false);
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
    }

    private enum CallKind
    {
        Typed,
        NoResponse,
        Raw,
        RawNoResponse,
        Sync,
    }

    private enum CallState
    {
        Queued,
        Sending,
        InFlight,
        Done,
    }

    private sealed class PendingCall
    {
        private readonly TaskCompletionSource<object?> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public PendingCall(CallKind kind, string command)
        {
            Kind = kind;
            Command = command;
        }

        public CallKind Kind { get; }

        public string Command { get; }

        public IQgaArguments? Arguments { get; set; }

        public JsonElement RawRequest { get; set; }

        public TimeSpan Timeout { get; set; }

        public CancellationToken Token { get; set; }

        public LinkedListNode<PendingCall>? Node { get; set; }

        public CallState State { get; set; }

        public long? ExpectedId { get; set; }

        /// <summary>Scratch flag used while completing calls outside the lock.</summary>
        public bool Skipped { get; set; }

        public bool SentCompletely { get; set; }

        /// <summary>Already put back in the queue once after a failed write.</summary>
        public bool Retried { get; set; }

        public Task<object?> Task => _completion.Task;

        public void TrySetResult(object? value) => _completion.TrySetResult(value);

        public void TrySetException(Exception error) => _completion.TrySetException(error);
    }

    private sealed class Connection
    {
        private readonly CancellationTokenSource _closing = new();
        private int _aborted;

        public Connection(Stream stream, JsonMessageReader reader)
        {
            Stream = stream;
            Reader = reader;
            Closing = _closing.Token;
        }

        public Stream Stream { get; }

        public JsonMessageReader Reader { get; }

        public CancellationToken Closing { get; }

        public Task? Receiving { get; set; }

        public void Abort()
        {
            if (Interlocked.Exchange(ref _aborted, 1) != 0)
            {
                return;
            }

            try
            {
                _closing.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            try
            {
                Stream.Dispose();
            }
            catch (IOException)
            {
            }
        }
    }
}
