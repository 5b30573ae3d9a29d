using System;
using System.Diagnostics;
using System.IO;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Link;

namespace QemuGuest.Protocol.Client;

// The pump, the only sender: pipelining, connecting (with reconnect), sync, writes.
public sealed partial class GuestAgentClient
{
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
        AgentLink connection;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            AgentLink? current;
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
                    bool ready = mustSync || call.Kind is CallKind.NoResponse or CallKind.RawNoResponse or CallKind.Bulk
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

        if (call.Kind == CallKind.Bulk)
        {
            lock (_gate)
            {
                if (call.State != CallState.Queued || _connection != connection)
                {
                    return;
                }

                _queue.Remove(call.Node!);
                call.Node = null;
                call.State = CallState.Sending;
            }

            // Run here, on the pump: nothing else is sent while frames may be on the wire.
            object? result = await RunBulkAsync(connection, call.Bulk!, cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                call.State = CallState.Done;
                Pulse();
            }

            call.TrySetResult(result);
            return;
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
                var connection = new AgentLink(stream, _linkOptions, _receiver);
                lock (_gate)
                {
                    if (_disposed)
                    {
                        connection.Close("client disposed");
                        throw new ObjectDisposedException(nameof(GuestAgentClient));
                    }

                    _connection = connection;
                    _outOfStep = true;
                    _syncDelimitedSupported = null;
                    Pulse();
                }

                connection.Start();
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

    private async Task SyncAsync(AgentLink connection, CancellationToken cancellationToken)
    {
        bool preferDelimited;
        lock (_gate)
        {
            preferDelimited = _syncDelimitedSupported != false;
            if (_connection == connection)
            {
                // Only placeholders (timed-out calls) may be left; their late replies are discarded now.
                _inFlight.Clear();
            }
        }

        SyncResult result;
        try
        {
            result = await connection.SyncAsync(_handshake, preferDelimited, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The call ran out of time with its sync unanswered: this connection may be stuck,
            // and a call timeout shorter than SyncAttempts x SyncTimeout would otherwise never
            // get to drop it. Reconnecting costs a stock agent nothing.
            connection.Close("sync abandoned");
            throw;
        }
        catch (AgentLinkException ex)
        {
            throw new QgaDisconnectedException(null, ex.NotSent
                ? $"The connection to {Endpoint} closed during sync."
                : $"Sending the sync request to {Endpoint} failed: {(ex.InnerException ?? ex).Message}", ex.InnerException ?? ex);
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

    private async Task WriteAsync(AgentLink connection, ReadOnlyMemory<byte> payload, string command, CancellationToken cancellationToken)
    {
        try
        {
            // A failed write closes the link (half a request may be on the wire), and the link's
            // close fails what was waiting on it, so the next send reconnects.
            await connection.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        }
        catch (AgentLinkException ex)
        {
            Exception cause = ex.InnerException ?? ex;
            throw new QgaDisconnectedException(command, $"Sending {command} to {Endpoint} failed: {cause.Message}", cause);
        }
    }
}
