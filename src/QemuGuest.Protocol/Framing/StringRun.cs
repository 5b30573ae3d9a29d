using System;

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
        for (int k = 0; k < span.Length; k++)
        {
            byte b = span[k];
            if (b == quote || b == (byte)'\\' || b < low || b > high)
            {
                return k;
            }
        }

        return -1;
#endif
    }
}
