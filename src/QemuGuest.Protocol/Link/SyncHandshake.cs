using System;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Link;

/// <summary>How one sync round ended.</summary>
public enum SyncRoundOutcome
{
    TimedOut,
    Matched,
    NotFound,
    Disconnected,
}

/// <summary>How a whole handshake ended.</summary>
public enum SyncResultKind
{
    /// <summary>The agent echoed our id: the stream is in step.</summary>
    Synced,

    /// <summary>Every round timed out; the handshake has already dropped the connection.</summary>
    Silent,

    /// <summary>The connection closed under the handshake.</summary>
    Disconnected,
}

/// <summary>The result of <see cref="SyncHandshake.RunAsync"/>.</summary>
public readonly struct SyncResult
{
    internal SyncResult(SyncResultKind kind, bool delimited, bool delimitedRefused, int rounds, TimeSpan waited)
    {
        Kind = kind;
        Delimited = delimited;
        DelimitedRefused = delimitedRefused;
        Rounds = rounds;
        Waited = waited;
    }

    public SyncResultKind Kind { get; }

    /// <summary>Whether the last round used guest-sync-delimited (false after the fallback to guest-sync).</summary>
    public bool Delimited { get; }

    /// <summary>The agent answered CommandNotFound to guest-sync-delimited (disabled by -a/-b, or a very old agent).</summary>
    public bool DelimitedRefused { get; }

    /// <summary>Rounds spent, the fallback round not counted against the attempts.</summary>
    public int Rounds { get; }

    /// <summary>Time spent in rounds that timed out.</summary>
    public TimeSpan Waited { get; }

    /// <summary>The sync command of the last round.</summary>
    public string Command => Delimited ? SyncHandshake.SyncDelimited : SyncHandshake.Sync;
}

/// <summary>
/// One sync round: the ids it sent and the verdict on the messages read while it is open. The
/// side that owns the reader loop offers it every message until it ends.
/// </summary>
public sealed class SyncRound
{
    private readonly TaskCompletionSource<SyncRoundOutcome> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal SyncRound(long syncId, bool delimited)
    {
        SyncId = syncId;
        Delimited = delimited;
    }

    /// <summary>The random id the agent must echo; also the request's own "id".</summary>
    public long SyncId { get; }

    public bool Delimited { get; }

    public string Command => Delimited ? SyncHandshake.SyncDelimited : SyncHandshake.Sync;

    public Task<SyncRoundOutcome> Task => _completion.Task;

    /// <summary>0xFF (so a half-read request in the agent's parser is dropped), then the sync request.</summary>
    public ReadOnlyMemory<byte> WriteRequest(JsonMessageWriter writer) =>
        writer.WriteRequest(Command, new SyncArguments(SyncId), SyncId, leadingDelimiter: true);

    /// <summary>
    /// Offers one message read during the round; true when it ended the round (our echo, or
    /// CommandNotFound for our sync). Anything else before it - stale replies, the parse error
    /// our 0xFF causes - is for the caller to discard.
    /// </summary>
    public bool Offer(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        if (root.TryGetProperty("return", out JsonElement value))
        {
            return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long id) && id == SyncId
                && _completion.TrySetResult(SyncRoundOutcome.Matched);
        }

        if (root.TryGetProperty("error", out JsonElement error) && error.ValueKind == JsonValueKind.Object
            && error.TryGetProperty("class", out JsonElement errorClass) && errorClass.ValueEquals("CommandNotFound"))
        {
            // Ours by id, or by naming the command: an agent that refuses the command may not
            // echo the id of a request it did not run.
            bool ours = root.TryGetProperty("id", out JsonElement echoed) && echoed.ValueKind == JsonValueKind.Number
                && echoed.TryGetInt64(out long requestId) && requestId == SyncId;
            bool aboutSync = error.TryGetProperty("desc", out JsonElement desc) && desc.ValueKind == JsonValueKind.String
                && (desc.GetString() ?? string.Empty).IndexOf(Command, StringComparison.Ordinal) >= 0;
            return (ours || aboutSync) && _completion.TrySetResult(SyncRoundOutcome.NotFound);
        }

        return false;
    }

    /// <summary>The connection closed: the round ends now instead of at its timeout.</summary>
    public void Disconnected() => _completion.TrySetResult(SyncRoundOutcome.Disconnected);

    private sealed class SyncArguments : IQgaArguments
    {
        private readonly long _id;

        public SyncArguments(long id) => _id = id;

        public void WriteMembers(Utf8JsonWriter writer) => writer.WriteNumber(JsonNames.Id, _id);
    }
}

/// <summary>The connection a handshake runs on; implemented by the client and by the relay's channel.</summary>
public interface ISyncLink
{
    /// <summary>
    /// Makes <paramref name="round"/> the one the reader loop offers messages to, then writes its
    /// request. Throws when the connection is gone or the write fails.
    /// </summary>
    Task SendAsync(SyncRound round, CancellationToken cancellationToken);

    /// <summary>The round is over (any outcome): later messages are not offered to it.</summary>
    void EndRound(SyncRound round);

    /// <summary>
    /// Every round went unanswered: close this connection. A peer silent on it may be stuck on
    /// it (a reply it stalled in, a half-read request) and only a fresh connection gets past that.
    /// </summary>
    void DropSilent();
}

/// <summary>
/// The sync handshake, once for the client and the relay (PROTOCOL.md "Sync"): per round 0xFF +
/// guest-sync-delimited with a fresh random id, bounded by a round timeout; up to a number of
/// rounds; CommandNotFound falls back to plain guest-sync once without costing a round; when
/// every round is silent the connection is dropped.
/// </summary>
public sealed class SyncHandshake
{
    public const string SyncDelimited = "guest-sync-delimited";
    public const string Sync = "guest-sync";

    private readonly TimeSpan _roundTimeout;
    private readonly int _attempts;

    public SyncHandshake(TimeSpan roundTimeout, int attempts)
    {
        if (roundTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(roundTimeout));
        }

        if (attempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(attempts));
        }

        _roundTimeout = roundTimeout;
        _attempts = attempts;
    }

    /// <summary>
    /// A random id in [1, 2^53): exact in any JSON reader's double, and unpredictable, so a guest
    /// cannot answer a sync it has not read.
    /// </summary>
    public static long NewSyncId()
    {
        var bytes = new byte[8];
        using (var rng = RandomNumberGenerator.Create())
        {
            rng.GetBytes(bytes);
        }

        long value = BitConverter.ToInt64(bytes, 0) & ((1L << 53) - 1);
        return value == 0 ? 1 : value;
    }

    /// <summary>
    /// Runs rounds until one matches, the connection closes, or the attempts are spent (then
    /// <see cref="ISyncLink.DropSilent"/> has been called). Exceptions from
    /// <see cref="ISyncLink.SendAsync"/> and cancellation propagate; the round is ended first.
    /// </summary>
    public async Task<SyncResult> RunAsync(ISyncLink link, bool preferDelimited, CancellationToken cancellationToken)
    {
        bool delimited = preferDelimited;
        bool refused = false;
        int rounds = 0;
        TimeSpan waited = TimeSpan.Zero;
        while (true)
        {
            rounds++;
            var round = new SyncRound(NewSyncId(), delimited);
            SyncRoundOutcome outcome;
            try
            {
                await link.SendAsync(round, cancellationToken).ConfigureAwait(false);
                using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                Task finished = await Task.WhenAny(round.Task, Task.Delay(_roundTimeout, timer.Token)).ConfigureAwait(false);
                timer.Cancel();
                cancellationToken.ThrowIfCancellationRequested();
                outcome = finished == round.Task ? round.Task.Result : SyncRoundOutcome.TimedOut;
            }
            finally
            {
                link.EndRound(round);
            }

            switch (outcome)
            {
                case SyncRoundOutcome.Matched:
                    return new SyncResult(SyncResultKind.Synced, delimited, refused, rounds, waited);
                case SyncRoundOutcome.Disconnected:
                    return new SyncResult(SyncResultKind.Disconnected, delimited, refused, rounds, waited);
                case SyncRoundOutcome.NotFound when delimited && !refused:
                    refused = true;
                    delimited = false;
                    rounds--;
                    continue;
                case SyncRoundOutcome.TimedOut:
                    waited += _roundTimeout;
                    break;
            }

            if (rounds >= _attempts)
            {
                link.DropSilent();
                return new SyncResult(SyncResultKind.Silent, delimited, refused, rounds, waited);
            }
        }
    }
}
