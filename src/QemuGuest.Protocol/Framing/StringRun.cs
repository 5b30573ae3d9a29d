using System;
using System.Numerics;
using System.Runtime.InteropServices;

namespace QemuGuest.Protocol.Framing;

/// <summary>
/// The one scan for where a run of plain JSON string content ends, shared by the framing
/// reader, the string check and the ASCII encoder: the first byte that is the quote, a
/// backslash, or outside [<c>low</c>, <c>high</c>].
/// </summary>
/// <remarks>
/// Built from two searches (two values; a byte range) rather than one SearchValues set:
/// a set with more than a few values runs on a byte shuffle (SSSE3), and the NativeAOT agent
/// is compiled for the x86-64 baseline (SSE2) so that it starts on QEMU's default qemu64 CPU.
/// There the set's shuffle became a software call per 16 bytes and the scans of each
/// guest-file-write took 75% of the agent's time (perf, 60 KiB blocks: bench/RESULTS.md,
/// issue 19 stage 3). Both searches here are plain compares, vectorized on any x86-64.
/// </remarks>
internal static class StringRun
{
    public static int IndexOfStop(ReadOnlySpan<byte> span, byte quote, byte low, byte high)
    {
#if NET
        int special = span.IndexOfAny(quote, (byte)'\\');
        ReadOnlySpan<byte> plain = special < 0 ? span : span.Slice(0, special);
        int outside = plain.IndexOfAnyExceptInRange(low, high);
        return outside >= 0 ? outside : special;
#else
        return IndexOfStopPortable(span, quote, low, high);
#endif
    }

    /// <summary>
    /// The same scan for the netstandard2.0 build, which is what the module loads in PowerShell:
    /// a byte-at-a-time loop there took each 60 KiB guest-file-read reply through the framing
    /// reader and the string check at about a byte per cycle, on the host CPU the stock agent
    /// shares (issue 19 stage 7). MemoryExtensions.IndexOfAny binds to the runtime's vectorized
    /// one under PowerShell 7, and Vector&lt;byte&gt; compares are unsigned for bytes.
    /// Compiled in both builds so the tests can hold it against the .NET one.
    /// </summary>
    internal static int IndexOfStopPortable(ReadOnlySpan<byte> span, byte quote, byte low, byte high)
    {
        int special = span.IndexOfAny(quote, (byte)'\\');
        ReadOnlySpan<byte> plain = special < 0 ? span : span.Slice(0, special);
        int outside = IndexOutsideRange(plain, low, high);
        return outside >= 0 ? outside : special;
    }

    private static int IndexOutsideRange(ReadOnlySpan<byte> span, byte low, byte high)
    {
        int k = 0;
        if (Vector.IsHardwareAccelerated && span.Length >= Vector<byte>.Count)
        {
            var lo = new Vector<byte>(low);
            var hi = new Vector<byte>(high);
            ReadOnlySpan<Vector<byte>> vectors = MemoryMarshal.Cast<byte, Vector<byte>>(span);
            int v = 0;
            while (v < vectors.Length && !Vector.LessThanAny(vectors[v], lo) && !Vector.GreaterThanAny(vectors[v], hi))
            {
                v++;
            }

            // The first vector holding such a byte, or the tail: the byte loop finds which one.
            k = v * Vector<byte>.Count;
        }

        for (; k < span.Length; k++)
        {
            byte b = span[k];
            if (b < low || b > high)
            {
                return k;
            }
        }

        return -1;
    }
}
