using System;
using System.Diagnostics;

namespace QemuGuest.Protocol.Transfer;

/// <summary>
/// How many bytes the next bulk transfer of a copy may move: a turn on the VM's channel, sized
/// to take about <see cref="Budget"/>. While a transfer is open the channel (and the relay in
/// front of it) serves nobody else, so a turn's length is what another client of the VM waits;
/// between two turns the relay's round-robin queue gives a waiting request the channel
/// (docs/copy.md, "Fair turns"). Sized by time, not bytes: a TCG VM moves 10-40 MiB/s and
/// loopback 300+, and no single byte count is both short in the one and cheap in round trips
/// in the other. The first turn is <see cref="First"/>; each next one is what the last one's
/// rate moves in the budget, at most twice the last (one fast turn proves little) and within
/// <see cref="Min"/>..<see cref="Max"/>.
/// </summary>
internal sealed class BulkTurn
{
    /// <summary>The first turn of a copy.</summary>
    public const long First = Min;

    /// <summary>
    /// No turn is shorter, and every turn but a file's last is a whole number of these: the
    /// agent's frame bound, so a turn's frames are all full ones (and below it the round trips
    /// cost more than the wait saves).
    /// </summary>
    public const long Min = 1L << 20;

    /// <summary>No turn is longer (the stage 6 segment: beyond it a turn buys no speed on loopback).</summary>
    public const long Max = 64L << 20;

    /// <summary>What one turn should take.</summary>
    public static readonly TimeSpan Budget = TimeSpan.FromMilliseconds(250);

    private long _next = First;
    private long _firstByte;

    /// <summary>The size of the next turn, at most <paramref name="left"/>.</summary>
    public long Next(long left) => Math.Min(_next, left);

    /// <summary>The turn's first byte moved: its time counts from here, not from its request (which may have waited in a relay's queue behind other clients' turns).</summary>
    public void Started()
    {
        if (_firstByte == 0)
        {
            _firstByte = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>The turn ended having moved <paramref name="bytes"/>; sizes the next one.</summary>
    public void Ended(long bytes)
    {
        long started = _firstByte;
        _firstByte = 0;
        if (started == 0 || bytes < _next)
        {
            // Nothing moved, or a file's short last turn: no rate worth learning from.
            return;
        }

        double seconds = (double)(Stopwatch.GetTimestamp() - started) / Stopwatch.Frequency;
        double fits = seconds <= 0 ? double.MaxValue : bytes * (Budget.TotalSeconds / seconds);
        long next = fits >= 2.0 * _next ? 2 * _next : (long)fits / Min * Min;
        _next = Math.Max(Min, Math.Min(Max, next));
    }
}
