using System;
using System.Threading;

namespace QemuGuest.Protocol.Client;

/// <summary>
/// How hard a client tries to (re)open its transport when a call needs a connection: up to
/// <see cref="MaxAttempts"/> attempts, each bounded by <see cref="ConnectTimeout"/>, with delays
/// growing from <see cref="InitialDelay"/> by <see cref="BackoffFactor"/> up to
/// <see cref="MaxDelay"/>, and never past <see cref="Deadline"/> in total. When exhausted the
/// call fails with <see cref="QgaDisconnectedException"/>; the next call starts afresh.
/// </summary>
public sealed class ReconnectPolicy
{
    public int MaxAttempts { get; set; } = 5;

    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    public double BackoffFactor { get; set; } = 2.0;

    /// <summary>Bound on one whole connect sequence (attempts plus delays).</summary>
    public TimeSpan Deadline { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Bound on one connection attempt.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>One attempt, no retry.</summary>
    public static ReconnectPolicy None => new() { MaxAttempts = 1 };

    /// <summary>The delay after the <paramref name="failedAttempts"/>-th failure (1-based).</summary>
    public TimeSpan GetDelay(int failedAttempts)
    {
        double ms = InitialDelay.TotalMilliseconds * Math.Pow(BackoffFactor, Math.Max(0, failedAttempts - 1));
        return TimeSpan.FromMilliseconds(Math.Min(ms, MaxDelay.TotalMilliseconds));
    }

    internal void Validate()
    {
        if (MaxAttempts < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxAttempts), MaxAttempts, "At least one attempt.");
        }

        if (InitialDelay < TimeSpan.Zero || MaxDelay < TimeSpan.Zero || BackoffFactor < 1.0 || double.IsNaN(BackoffFactor))
        {
            throw new ArgumentOutOfRangeException(nameof(BackoffFactor), "Delays must be >= 0 and the backoff factor >= 1.");
        }

        if (Deadline <= TimeSpan.Zero || (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan))
        {
            throw new ArgumentOutOfRangeException(nameof(Deadline), "Deadline and ConnectTimeout must be positive.");
        }
    }
}
