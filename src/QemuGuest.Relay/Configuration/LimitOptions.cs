using System;

namespace QemuGuest.Relay.Configuration;

/// <summary>Every bound the relay enforces; see docs/relay.md.</summary>
public sealed class LimitOptions
{
    /// <summary>Largest guest reply (a 48 MiB guest-file-read in base64 is 64 MiB): default 65 MiB.</summary>
    public int MaxReplyBytes { get; set; } = (64 + 1) * 1024 * 1024;

    /// <summary>Largest client request (a 48 MiB guest-file-write): default 65 MiB.</summary>
    public int MaxRequestBytes { get; set; } = (64 + 1) * 1024 * 1024;

    /// <summary>JSON nesting bound for replies and requests (the schema needs fewer than 10).</summary>
    public int MaxDepth { get; set; } = 64;

    /// <summary>JSON tokens per message (stock parser: 2,097,152).</summary>
    public int MaxTokens { get; set; } = 2 * 1024 * 1024;

    /// <summary>Bytes that may arrive from the guest without forming an accepted message, beyond one maximal reply.</summary>
    public int MaxGarbageBytes { get; set; } = 1024 * 1024;

    /// <summary>From the request written to the first reply byte.</summary>
    public double FirstByteTimeoutSeconds { get; set; } = 30;

    /// <summary>From the first reply byte to the complete reply.</summary>
    public double LastByteTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a success-response:false command (guest-shutdown, guest-suspend-*) may still answer with an error.</summary>
    public double NoResponseGraceSeconds { get; set; } = 3;

    /// <summary>One guest-sync-delimited attempt.</summary>
    public double SyncTimeoutSeconds { get; set; } = 10;

    /// <summary>Sync attempts on one connection before it is dropped and re-opened.</summary>
    public int SyncAttempts { get; set; } = 3;

    /// <summary>Writing one message to the guest or to a client.</summary>
    public double WriteTimeoutSeconds { get; set; } = 30;

    /// <summary>How long a request may wait in the queue for the guest channel.</summary>
    public double QueueTimeoutSeconds { get; set; } = 60;

    /// <summary>Requests queued per VM.</summary>
    public int MaxQueuedRequests { get; set; } = 64;

    /// <summary>Requests queued per client connection.</summary>
    public int MaxQueuedPerClient { get; set; } = 4;

    /// <summary>Bytes of queued request arguments per VM.</summary>
    public long MaxQueuedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Concurrent client connections per endpoint.</summary>
    public int MaxClientsPerEndpoint { get; set; } = 64;

    /// <summary>Reconnect backoff to the agent chardev.</summary>
    public double ReconnectInitialSeconds { get; set; } = 0.2;

    public double ReconnectMaxSeconds { get; set; } = 5;

    /// <summary>Longest error text from the guest passed on to a client (longer is cut).</summary>
    public int MaxErrorDescChars { get; set; } = 4096;

    internal TimeSpan FirstByteTimeout => TimeSpan.FromSeconds(FirstByteTimeoutSeconds);

    internal TimeSpan LastByteTimeout => TimeSpan.FromSeconds(LastByteTimeoutSeconds);

    internal TimeSpan NoResponseGrace => TimeSpan.FromSeconds(NoResponseGraceSeconds);

    internal TimeSpan SyncTimeout => TimeSpan.FromSeconds(SyncTimeoutSeconds);

    internal TimeSpan WriteTimeout => TimeSpan.FromSeconds(WriteTimeoutSeconds);

    internal TimeSpan QueueTimeout => TimeSpan.FromSeconds(QueueTimeoutSeconds);

    internal TimeSpan ReconnectInitial => TimeSpan.FromSeconds(ReconnectInitialSeconds);

    internal TimeSpan ReconnectMax => TimeSpan.FromSeconds(ReconnectMaxSeconds);
}
