using System;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Client;

/// <summary>Settings of one <see cref="GuestAgentClient"/>; read once when the client is created.</summary>
public sealed class GuestAgentClientOptions
{
    /// <summary>Per-call bound (queueing, connecting, syncing, sending and the reply) unless the call says otherwise.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// For <see cref="GuestAgentClient.ExecuteWithoutResponseAsync"/> without a per-call timeout:
    /// how long to wait for a possible error reply before counting the command as done.
    /// </summary>
    public TimeSpan NoResponseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a request that is already being written may keep writing after its caller gave
    /// up (cancelled or timed out), so the connection survives; past it the connection is dropped.
    /// </summary>
    public TimeSpan AbandonedWriteTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Bound on one sync round trip (0xFF + guest-sync-delimited).</summary>
    public TimeSpan SyncTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Sync rounds (each with a fresh random id) before a call fails with a timeout.</summary>
    public int SyncAttempts { get; set; } = 3;

    /// <summary>
    /// Requests sent before their predecessors' replies arrive (1 = no pipelining). The agent
    /// answers in order; replies are matched by echoed id, else in order.
    /// </summary>
    public int MaxPipelineDepth { get; set; } = 1;

    /// <summary>Callers that may wait in the queue; one more fails at once with InvalidOperationException.</summary>
    public int MaxQueuedCalls { get; set; } = 4096;

    /// <summary>Largest reply accepted (default: a 48 MiB guest-file-read reply fits).</summary>
    public int MaxMessageBytes { get; set; } = JsonMessageReader.DefaultMaxMessageBytes;

    /// <summary>Deepest nesting accepted in a reply.</summary>
    public int MaxDepth { get; set; } = JsonMessageReader.DefaultMaxDepth;

    /// <summary>Size of the one receive buffer.</summary>
    public int ReceiveBufferSize { get; set; } = 64 * 1024;

    public ReconnectPolicy Reconnect { get; set; } = new();

    internal GuestAgentClientOptions Validated()
    {
        static void Positive(TimeSpan value, string name)
        {
            if (value <= TimeSpan.Zero && value != System.Threading.Timeout.InfiniteTimeSpan)
            {
                throw new ArgumentOutOfRangeException(name, value, "Must be positive (or Timeout.InfiniteTimeSpan).");
            }
        }

        Positive(DefaultTimeout, nameof(DefaultTimeout));
        Positive(NoResponseTimeout, nameof(NoResponseTimeout));
        if (SyncTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SyncTimeout), SyncTimeout, "Sync must be bounded.");
        }

        if (AbandonedWriteTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(AbandonedWriteTimeout), AbandonedWriteTimeout, "An abandoned write must be bounded.");
        }

        if (SyncAttempts < 1 || MaxPipelineDepth < 1 || MaxQueuedCalls < 1 || MaxMessageBytes < 64 || MaxDepth < 2 || ReceiveBufferSize < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(GuestAgentClientOptions), "SyncAttempts, MaxPipelineDepth, MaxQueuedCalls >= 1; MaxMessageBytes >= 64; MaxDepth >= 2; ReceiveBufferSize >= 16.");
        }

        (Reconnect ?? throw new ArgumentNullException(nameof(Reconnect))).Validate();
        return new GuestAgentClientOptions
        {
            DefaultTimeout = DefaultTimeout,
            AbandonedWriteTimeout = AbandonedWriteTimeout,
            NoResponseTimeout = NoResponseTimeout,
            SyncTimeout = SyncTimeout,
            SyncAttempts = SyncAttempts,
            MaxPipelineDepth = MaxPipelineDepth,
            MaxQueuedCalls = MaxQueuedCalls,
            MaxMessageBytes = MaxMessageBytes,
            MaxDepth = MaxDepth,
            ReceiveBufferSize = ReceiveBufferSize,
            Reconnect = new ReconnectPolicy
            {
                MaxAttempts = Reconnect.MaxAttempts,
                InitialDelay = Reconnect.InitialDelay,
                MaxDelay = Reconnect.MaxDelay,
                BackoffFactor = Reconnect.BackoffFactor,
                Deadline = Reconnect.Deadline,
                ConnectTimeout = Reconnect.ConnectTimeout,
            },
        };
    }
}
