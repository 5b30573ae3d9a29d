using System;
using System.IO;
using System.Threading;

namespace QemuGuest.Fuzz;

/// <summary>One fuzz target: bytes in; any exception out is a crash.</summary>
public interface IFuzzTarget
{
    void Run(ReadOnlySpan<byte> input);
}

/// <summary>A target broke one of its own invariants (not an exception the product threw).</summary>
public sealed class InvariantViolation : Exception
{
    public InvariantViolation(string message)
        : base(message)
    {
    }
}

/// <summary>
/// What counts as a crash besides an exception escaping the target: an input that runs past
/// <see cref="TimeBound"/> (a hang; afl-fuzz's own -t is looser, so the input is kept here
/// first) or allocates more than <see cref="AllocationBound"/> (unbounded allocation).
/// </summary>
public sealed class Guard
{
    /// <summary>afl-fuzz inputs are at most 1 MiB; anything bigger is cut, not a finding.</summary>
    public const int MaxInput = 1024 * 1024;

    public static readonly TimeSpan TimeBound = TimeSpan.FromSeconds(2);

    /// <summary>Generous on purpose: a bounded parser copies its input a few times, no more.</summary>
    public const long AllocationBound = 64L * 1024 * 1024;

    private readonly Func<IFuzzTarget> _create;
    private IFuzzTarget? _target;
    private readonly byte[] _buffer = new byte[MaxInput];
    private readonly string? _hangDir = Environment.GetEnvironmentVariable("QG_FUZZ_HANGS");

    public Guard(string name, Func<IFuzzTarget> create)
    {
        Name = name;
        _create = create;
    }

    public string Name { get; }

    /// <summary>The SharpFuzz entry: the stream is afl's current input.</summary>
    public void Run(Stream stream)
    {
        int length = 0;
        int n;
        while (length < _buffer.Length && (n = stream.Read(_buffer, length, _buffer.Length - length)) > 0)
        {
            length += n;
        }

        RunBytes(_buffer.AsSpan(0, length));
    }

    public void RunBytes(ReadOnlySpan<byte> input)
    {
        _target ??= _create();
        byte[] copy = input.ToArray();
        long before = GC.GetTotalAllocatedBytes(precise: true);
        // A hang cannot be interrupted in-process: the watchdog keeps the input for triage and
        // ends the process, which afl-fuzz reports and build.ps1 turns into a failure.
        using var watchdog = new Timer(_ => Hang(copy), null, TimeBound, Timeout.InfiniteTimeSpan);
        _target.Run(copy);
        watchdog.Change(Timeout.Infinite, Timeout.Infinite);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (allocated > AllocationBound + 64L * copy.Length)
        {
            throw new InvariantViolation($"{Name}: {allocated} bytes allocated for a {copy.Length}-byte input (bound {AllocationBound} + 64 per input byte)");
        }
    }

    private void Hang(byte[] input)
    {
        string message = $"{Name}: input of {input.Length} bytes still running after {TimeBound.TotalSeconds} s";
        if (_hangDir is not null)
        {
            Directory.CreateDirectory(_hangDir);
            string file = Path.Combine(_hangDir, $"hang-{DateTime.UtcNow:yyyyMMddHHmmssfff}");
            File.WriteAllBytes(file, input);
            message += $" (input kept in {file})";
        }

        Environment.FailFast(message);
    }
}
