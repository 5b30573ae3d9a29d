using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Validation;

namespace QemuGuest.Relay.Guest;

/// <summary>
/// One client request on its way to the guest: the schema-checked command, its arguments
/// re-serialised by the relay (never the client's bytes), and the completion the client
/// session waits on. The client's id stays with the session; the guest sees a relay id.
/// </summary>
public sealed class RelayRequest
{
    private const int Queued = 0;
    private const int Taken = 1;
    private const int Cancelled = 2;

    // Continuations run on the channel's thread: the client's reply is written from there (an
    // asynchronous socket write) with no hop through the thread pool. A bulk transfer's client
    // side is started on the pool instead (see Complete).
    private readonly TaskCompletionSource<GuestOutcome> _completion = new();
    private int _state;

    public RelayRequest(QgaCommandDescriptor command, byte[]? arguments)
    {
        Command = command;
        Arguments = arguments;
    }

    public QgaCommandDescriptor Command { get; }

    /// <summary>The "arguments" object as compact ASCII JSON, or null when the client sent none.</summary>
    public byte[]? Arguments { get; }

    public long Size => (Arguments?.Length ?? 0) + Command.Name.Length + 64;

    /// <summary>A bulk transfer: the channel is this request's until the transfer's second reply.</summary>
    internal BulkRelay? Bulk { get; init; }

    /// <summary>Answered locally (client guest-sync/-delimited) once the channel is synchronised.</summary>
    public bool IsLocalSync { get; init; }

    public Task<GuestOutcome> Completion => _completion.Task;

    /// <summary>The channel claims the request; false when the client gave up first.</summary>
    internal bool TryTake() => Interlocked.CompareExchange(ref _state, Taken, Queued) == Queued;

    /// <summary>The client connection that queued it (its turn in the fair queue).</summary>
    internal object? Client { get; set; }

    /// <summary>Back to queued, for a request taken but never sent (its connection closed first).</summary>
    internal bool TryUntake() => Interlocked.CompareExchange(ref _state, Queued, Taken) == Taken;

    /// <summary>The client gives up while still queued; false when the channel already took it.</summary>
    public bool TryCancel() => Interlocked.CompareExchange(ref _state, Cancelled, Queued) == Queued;

    internal void Complete(GuestOutcome outcome)
    {
        if (Bulk is not null)
        {
            // The client's side of a transfer pumps its frames from where it resumes: not on
            // the channel's loop, which must go on to watch the transfer.
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Request.Settle(s.Outcome), (Request: this, Outcome: outcome), preferLocal: false);
            return;
        }

        Settle(outcome);
    }

    private void Settle(GuestOutcome outcome)
    {
        if (!_completion.TrySetResult(outcome))
        {
            outcome.Dispose();
        }
    }
}
