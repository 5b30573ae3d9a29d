using System;
using System.IO;
using System.Net.Sockets;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Extensions.Logging;
using QemuGuest.Protocol.Framing;
using QemuGuest.Protocol.Link;
using QemuGuest.Protocol.Transports;
using QemuGuest.Relay.Configuration;
using QemuGuest.Relay.Wire;

namespace QemuGuest.Relay.Guest;

/// <summary>A failure of the guest channel that ends one request (the message is for the client).</summary>
public sealed class GuestChannelException : Exception
{
    public GuestChannelException(string message, Exception? inner = null, bool notSent = false)
        : base(message, inner)
    {
        NotSent = notSent;
    }

    /// <summary>The connection was already gone: not one byte of the request was written.</summary>
    public bool NotSent { get; }
}

/// <summary>
/// The one reply the relay is waiting for: the reply to relay id <see cref="Id"/>, or for a
/// sync, whatever ends its <see cref="SyncRound"/>. Completed by the reader loop with the parsed
/// message (ownership passes to the waiter), or failed with <see cref="GuestChannelException"/>.
/// </summary>
internal sealed class Expectation
{
    private readonly TaskCompletionSource<OwnedJson?> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _firstByte;

    public Expectation(long id, string command, SyncRound? round = null)
    {
        Id = id;
        Command = command;
        Round = round;
    }

    public long Id { get; }

    /// <summary>Set for a sync: the handshake's round, which judges the messages read meanwhile.</summary>
    public SyncRound? Round { get; }

    public bool IsSync => Round is not null;

    public string Command { get; }

    public Task<OwnedJson?> Task => _tcs.Task;

    public bool SawFirstByte => Volatile.Read(ref _firstByte) != 0;

    /// <summary>Called once, from the reader loop, when the first byte after the request arrives.</summary>
    public Action? OnFirstByte { get; set; }

    public void NoteBytes()
    {
        if (Interlocked.Exchange(ref _firstByte, 1) == 0)
        {
            OnFirstByte?.Invoke();
        }
    }

    public bool TryComplete(OwnedJson? message) => _tcs.TrySetResult(message);

    public bool TryFail(string message) => _tcs.TrySetException(new GuestChannelException(message));

    /// <summary>A completion that arrived after the waiter gave up owns a document nobody will read.</summary>
    public void DisposeUnclaimed()
    {
        if (_tcs.Task.IsCompletedSuccessfully)
        {
            _tcs.Task.Result?.Dispose();
        }
    }
}

/// <summary>
/// One open connection to a VM's agent chardev. A reader loop reads continuously (so the
/// guest can never fill a buffer the relay does not drain), frames with the protocol's
/// <see cref="JsonMessageReader"/>, parses with <see cref="BoundedJson"/>, and hands a
/// message to the outstanding <see cref="Expectation"/> only when its id matches. Everything
/// else is dropped and counted. Writes come from the VM channel's single request loop.
/// </summary>
internal sealed class GuestConnection : IAsyncDisposable
{
    private const int ChunkSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly string _vm;
    private readonly LimitOptions _limits;
    private readonly RelayCounters _counters;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _readDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Expectation? _expect;
    private long _sinceAccepted;
    private volatile bool _needsResync;
    private string _closeReason = "closed";

    private GuestConnection(Stream stream, string vm, LimitOptions limits, RelayCounters counters, ILogger logger)
    {
        _stream = stream;
        _vm = vm;
        _limits = limits;
        _counters = counters;
        _logger = logger;
        // A dedicated thread with blocking reads: the framer's growth buffers come from the
        // shared array pool, which caches per thread; one reader thread per connection keeps
        // that cache to one set per VM instead of one per thread-pool thread, and lets it go
        // when the connection (and its thread) ends.
        var thread = new Thread(ReadLoop) { IsBackground = true, Name = "qga-read " + vm };
        thread.Start();
    }

    /// <summary>Cancelled when the connection is gone (EOF, error, or disposed).</summary>
    public CancellationToken Closed => _closed.Token;

    public string CloseReason => _closeReason;

    /// <summary>Set when the stream can no longer be trusted to be in step: sync before the next request.</summary>
    public bool NeedsResync
    {
        get => _needsResync;
        set => _needsResync = value;
    }

    /// <summary>Opens the agent chardev through the protocol's transport for its connection string.</summary>
    public static async Task<GuestConnection> ConnectAsync(IGuestAgentTransport transport, string vm, LimitOptions limits, RelayCounters counters, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var stream = await transport.ConnectAsync(timeout.Token).ConfigureAwait(false);
        return new GuestConnection(stream, vm, limits, counters, logger);
    }

    /// <summary>Registers what the next accepted message must be; any previous expectation fails.</summary>
    public Expectation Expect(long id, string command) => Expect(new Expectation(id, command));

    /// <summary>Registers a sync round as the expectation; it ends when the round does.</summary>
    public Expectation ExpectSync(SyncRound round) => Expect(new Expectation(round.SyncId, round.Command, round));

    /// <summary>Closes the connection (a sync nobody answered): the reader stops, waiters fail.</summary>
    public void Abandon(string reason) => Close(reason);

    private Expectation Expect(Expectation e)
    {
        var old = Interlocked.Exchange(ref _expect, e);
        old?.TryFail("superseded");
        if (_closed.IsCancellationRequested)
        {
            e.TryFail(DisconnectedText());
            e.Round?.Disconnected();
        }

        return e;
    }

    /// <summary>The waiter gave up (timeout): later replies to it are stale.</summary>
    public void Clear(Expectation e)
    {
        Interlocked.CompareExchange(ref _expect, null, e);
        e.TryFail("abandoned");
        e.DisposeUnclaimed();
    }

    /// <summary>Fails the outstanding request now (e.g. QMP says the guest closed the port).</summary>
    public void FailCurrent(string message)
    {
        var e = Interlocked.Exchange(ref _expect, null);
        e?.TryFail(message);
        _needsResync = true;
    }

    public async Task WriteAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        if (_closed.IsCancellationRequested)
        {
            throw new GuestChannelException("the connection to the guest agent closed (" + _closeReason + ") before the request was sent", notSent: true);
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        cts.CancelAfter(_limits.WriteTimeout);
        try
        {
            await _stream.WriteAsync(message, cts.Token).ConfigureAwait(false);
            RelayCounters.Add(ref _counters.BytesToGuest, message.Length);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            if (cancellationToken.IsCancellationRequested && !_closed.IsCancellationRequested)
            {
                throw;
            }

            // Not sent: the stream was closed under us before the write began, or the agent had
            // already hung up (end of stream seen) - a peer that closed reads nothing more.
            bool notSent = e is ObjectDisposedException || (_closed.IsCancellationRequested && _closeReason == "end of stream");
            Close(e is OperationCanceledException ? "write timed out" : "write failed: " + e.Message);
            throw new GuestChannelException("could not send the request to the guest agent (" + _closeReason + ")", e, notSent);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Close("closed by the relay");
        try
        {
            await _readDone.Task.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The socket is shut down; the thread ends on its own.
        }

        _closed.Dispose();
    }

    private string DisconnectedText() =>
        "the connection to the guest agent was lost (" + _closeReason + "; VM reboot, agent restart or migration?); the command may or may not have run";

    private void Close(string reason)
    {
        if (_closed.IsCancellationRequested)
        {
            return;
        }

        _closeReason = reason;
        try
        {
            // Disposing the transport's stream unblocks the reader thread and any write.
            _stream.Dispose();
        }
        catch (Exception)
        {
            // Already gone.
        }

        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        var pending = Interlocked.Exchange(ref _expect, null);
        pending?.TryFail(DisconnectedText());
        pending?.Round?.Disconnected();
    }

    private void ReadLoop()
    {
        try
        {
            ReadLoopCore();
        }
        finally
        {
            _readDone.TrySetResult();
        }
    }

    private void ReadLoopCore()
    {
        var buffer = new byte[ChunkSize];
        using var reader = new JsonMessageReader(_limits.MaxReplyBytes, _limits.MaxDepth, _limits.MaxTokens);
        long garbageLimit = (long)_limits.MaxReplyBytes + _limits.MaxGarbageBytes;
        try
        {
            while (true)
            {
                int n = _stream.Read(buffer, 0, buffer.Length);
                if (n == 0)
                {
                    Close("end of stream");
                    return;
                }

                RelayCounters.Add(ref _counters.BytesFromGuest, n);
                _sinceAccepted += n;
                Volatile.Read(ref _expect)?.NoteBytes();
                var input = new ReadOnlyMemory<byte>(buffer, 0, n);
                while (!input.IsEmpty)
                {
                    var frame = reader.Read(input, out int consumed);
                    input = input.Slice(consumed);
                    Handle(frame, reader);
                }

                if (_sinceAccepted > garbageLimit)
                {
                    RelayCounters.Inc(ref _counters.GarbageResyncs);
                    Log.GarbageOverflow(_logger, _vm, _sinceAccepted);
                    _sinceAccepted = 0;
                    reader.Reset();
                    _needsResync = true;
                    FailUnlessSyncing($"the guest agent sent more than {garbageLimit} bytes without a usable reply; channel resynchronised");
                }
            }
        }
        catch (OperationCanceledException)
        {
            Close("closed by the relay");
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Close("read failed: " + e.Message);
        }
        catch (Exception e)
        {
            // Anything else (out of memory included) ends this connection, never the relay.
            Close("reader failed: " + e.GetType().Name + ": " + e.Message);
        }
    }

    /// <summary>Fails the outstanding request; a sync in progress is the remedy and keeps waiting.</summary>
    private void FailUnlessSyncing(string message)
    {
        var e = Volatile.Read(ref _expect);
        if (e is not null && !e.IsSync && Interlocked.CompareExchange(ref _expect, null, e) == e)
        {
            e.TryFail(message);
        }
    }

    private void Handle(JsonFrame frame, JsonMessageReader reader)
    {
        switch (frame.Kind)
        {
            case JsonFrameKind.None:
                return;
            case JsonFrameKind.StrayByte:
            case JsonFrameKind.UnexpectedByte:
                if (frame.Byte != JsonMessageWriter.Delimiter)
                {
                    RelayCounters.Inc(ref _counters.GarbageBytes);
                }

                return;
            case JsonFrameKind.TooLarge:
            case JsonFrameKind.TooDeep:
            case JsonFrameKind.TooManyTokens:
            {
                MemoryGovernor.AfterMessage(frame.Kind == JsonFrameKind.TooLarge ? _limits.MaxReplyBytes : 0);
                string bound = frame.Kind switch
                {
                    JsonFrameKind.TooLarge => $"larger than {_limits.MaxReplyBytes} bytes",
                    JsonFrameKind.TooDeep => $"nested deeper than {_limits.MaxDepth}",
                    _ => $"made of more than {_limits.MaxTokens} JSON tokens",
                };
                RelayCounters.Inc(ref _counters.Oversized);
                Log.Oversized(_logger, _vm, bound);
                _needsResync = true;
                FailUnlessSyncing($"the guest agent's reply was {bound}; not passed on, channel resynchronised");
                return;
            }
        }

        var message = BoundedJson.TryParse(frame.Message.Span, _limits.MaxDepth, out string? error);
        MemoryGovernor.AfterMessage(frame.Message.Length);
        if (message is null)
        {
            RelayCounters.Inc(ref _counters.Malformed);
            RelayCounters.Add(ref _counters.GarbageBytes, frame.Message.Length);
            Log.Dropped(_logger, _vm, "not strict JSON: " + Protocol.GuestText.Printable(error));
            return;
        }

        var expect = Volatile.Read(ref _expect);
        bool accepted = false;
        var root = message.Root;
        if (expect is null)
        {
            RelayCounters.Inc(ref _counters.Unsolicited);
            Log.Dropped(_logger, _vm, "unsolicited");
        }
        else if (expect.Round is { } round)
        {
            if (round.Offer(root))
            {
                accepted = true;
            }
            else
            {
                // Expected while syncing: stale replies, the parse error for our 0xFF.
                RelayCounters.Inc(ref _counters.SyncDiscarded);
                message.Dispose();
                return;
            }
        }
        else if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out var id))
        {
            if (id.ValueKind == JsonValueKind.Number && id.TryGetInt64(out long v) && v == expect.Id)
            {
                accepted = true;
            }
            else
            {
                RelayCounters.Inc(ref _counters.Dropped);
                Log.Dropped(_logger, _vm, "id matches no outstanding request (stale, forged or duplicate)");
            }
        }
        else
        {
            RelayCounters.Inc(ref _counters.Dropped);
            Log.Dropped(_logger, _vm, "reply without id while a request was outstanding");
        }

        if (accepted && Interlocked.CompareExchange(ref _expect, null, expect) == expect)
        {
            _sinceAccepted = 0;
            if (expect!.IsSync)
            {
                message.Dispose();
                expect.TryComplete(null);
            }
            else if (!expect.TryComplete(message))
            {
                message.Dispose();
            }

            return;
        }

        RelayCounters.Add(ref _counters.GarbageBytes, message.Length);
        message.Dispose();
    }
}
