using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Link;
using QemuGuest.Protocol.Transports;

namespace QemuGuest.Protocol.Client;

/// <summary>
/// A client for one guest agent channel (stock qemu-ga, our agent, or the relay): a queue,
/// pipelining and reconnect over one <see cref="AgentLink"/> at a time (the connection core it
/// shares with the relay: stream, reader loop, framing, sync rounds, writes, close).
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
public sealed partial class GuestAgentClient : IGuestAgentInPlaceChannel, IDisposable, IAsyncDisposable
{
    private readonly IGuestAgentTransport _transport;
    private readonly GuestAgentClientOptions _options;
    private readonly JsonDocumentOptions _documentOptions;
    private readonly AgentLinkOptions _linkOptions;
    private readonly object _gate = new();
    private readonly LinkedList<PendingCall> _queue = new();
    private readonly List<PendingCall> _inFlight = new();
    private readonly CancellationTokenSource _disposeCts = new();
    private readonly JsonMessageWriter _writer = new();
    private readonly SyncHandshake _handshake;
    private readonly LinkReceiver _receiver;

    private TaskCompletionSource<bool> _changed = NewSignal();
    private Task? _pump;
    private AgentLink? _connection;
    private bool _outOfStep = true;
    private bool? _syncDelimitedSupported;
    private long _nextId;
    private bool _disposed;

    public GuestAgentClient(IGuestAgentTransport transport, GuestAgentClientOptions? options = null)
    {
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _options = (options ?? new GuestAgentClientOptions()).Validated();
        _documentOptions = new JsonDocumentOptions { MaxDepth = _options.MaxDepth };
        _linkOptions = new AgentLinkOptions
        {
            MaxMessageBytes = _options.MaxMessageBytes,
            MaxDepth = _options.MaxDepth,
            ReceiveBufferSize = _options.ReceiveBufferSize,
            MaxBulkFrameBytes = BulkFrame.MaxPayloadBytes,
        };
        _handshake = new SyncHandshake(_options.SyncTimeout, _options.SyncAttempts);
        _receiver = new LinkReceiver(this);
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

    /// <inheritdoc />
    public async Task<T> ExecuteAsync<T>(string command, IQgaArguments? arguments, Func<JsonElement, T> readReturn, QgaCallOptions? options, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            throw new ArgumentNullException(nameof(command));
        }

        if (readReturn is null)
        {
            throw new ArgumentNullException(nameof(readReturn));
        }

        var call = new PendingCall(CallKind.Typed, command) { Arguments = arguments, ReadReturn = value => readReturn(value) };
        object? result = await EnqueueAsync(call, options?.Timeout, cancellationToken).ConfigureAwait(false);
        return (T)result!;
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
        AgentLink? connection;
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
        connection?.Close("client disposed");
        foreach (PendingCall call in failed)
        {
            call.TrySetException(new ObjectDisposedException(nameof(GuestAgentClient)));
        }

        return pump;
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
}
