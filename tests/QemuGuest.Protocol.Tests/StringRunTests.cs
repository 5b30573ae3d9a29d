using CsCheck;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// StringRun replaced three SearchValues sets (reader, string check, encoder) by two plain
/// searches: it must stop exactly where a byte-by-byte scan stops, also in the vector tails.
/// Both scans are held to it: the .NET one (agent, relay) and the portable one the module's
/// netstandard2.0 build runs in PowerShell.
/// </summary>
public class StringRunTests
{
    private delegate int Scan(System.ReadOnlySpan<byte> span, byte quote, byte low, byte high);

    private static readonly Scan[] Scans = { StringRun.IndexOfStop, StringRun.IndexOfStopPortable };

    // The three callers' ranges: the framing reader, the UTF-8 check, the ASCII encoder.
    public static TheoryData<byte, byte, byte> Uses => new()
    {
        { (byte)'"', 0x20, 0xFD },
        { (byte)'\'', 0x20, 0xFD },
        { (byte)'"', 0x00, 0x7F },
        { (byte)'\'', 0x00, 0x7F },
        { (byte)'"', 0x20, 0x7E },
    };

    [Theory]
    [MemberData(nameof(Uses))]
    public void Stops_where_a_byte_by_byte_scan_stops(byte quote, byte low, byte high)
    {
        // Mostly base64 letters (long plain runs, as in a file block), now and then any byte.
        var gen = Gen.Frequency((20, Gen.Char["ABCz09+/="].Select(c => (byte)c)), (1, Gen.Byte)).Array[0, 300];
        gen.Sample(bytes =>
        {
            int expected = -1;
            for (int k = 0; k < bytes.Length; k++)
            {
                byte b = bytes[k];
                if (b == quote || b == (byte)'\\' || b < low || b > high)
                {
                    expected = k;
                    break;
                }
            }

            foreach (Scan scan in Scans)
            {
                Assert.Equal(expected, scan(bytes, quote, low, high));
            }
        }, iter: 20_000);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(15)]
    [InlineData(16)]
    [InlineData(31)]
    [InlineData(32)]
    [InlineData(63)]
    [InlineData(64)]
    [InlineData(95)]
    [InlineData(127)]
    [InlineData(4095)]
    public void Finds_each_kind_of_stop_at_any_offset(int at)
    {
        foreach (Scan scan in Scans)
        {
            foreach (byte stop in new byte[] { (byte)'"', (byte)'\\', 0x1F, 0x7F, 0x80, 0xFE, 0xFF })
            {
                byte[] text = new byte[at + 40];
                System.Array.Fill(text, (byte)'Q');
                text[at] = stop;
                Assert.Equal(at, scan(text, (byte)'"', 0x20, 0x7E));
            }

            Assert.Equal(-1, scan(new byte[at], (byte)'"', 0x00, 0x7F));
        }
    }
}
