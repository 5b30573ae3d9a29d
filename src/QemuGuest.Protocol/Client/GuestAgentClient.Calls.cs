using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;

namespace QemuGuest.Protocol.Client;

// Calls: queueing, timeouts and cancellation, and the record each call leaves.
public sealed partial class GuestAgentClient
{
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

    private enum CallKind
    {
        Typed,
        NoResponse,
        Raw,
        RawNoResponse,
        Sync,
        Bulk,
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

        /// <summary>Reads the return value in place (no clone); null: the call gets a clone.</summary>
        public Func<JsonElement, object?>? ReadReturn { get; set; }

        public JsonElement RawRequest { get; set; }

        /// <summary>The transfer a <see cref="CallKind.Bulk"/> call runs.</summary>
        public BulkExchange? Bulk { get; set; }

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
}
