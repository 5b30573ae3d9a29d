using System;
using QemuGuest.Protocol.Framing;

namespace QemuGuest.Protocol.Tests;

/// <summary>
/// The checksum's fast paths against the table. tests/pester/BulkChecksum.Tests.ps1 runs the
/// netstandard2.0 build's compiled path in pwsh.
/// </summary>
public sealed class BulkFrameReaderTests
{
    [Fact]
    public void Every_checksum_path_agrees_with_the_table_on_random_data()
    {
        var random = new Random(19);
        byte[] data = new byte[(1 << 20) + 64];
        random.NextBytes(data);
        for (int round = 0; round < 300; round++)
        {
            int offset = random.Next(0, 64);
            int count = round < 40 ? round : random.Next(0, data.Length - offset);
            uint table = Crc32C.ComputeTable(data, offset, count);
            Assert.Equal(table, Crc32C.Compute(data, offset, count));
            Assert.Equal(table, Crc32C.Compute(new ReadOnlySpan<byte>(data, offset, count)));
        }

        // The published check value of CRC32C ("123456789" -> 0xE3069283), so the table is right too.
        byte[] check = "123456789"u8.ToArray();
        Assert.Equal(0xE3069283u, Crc32C.ComputeTable(check, 0, check.Length));
        Assert.Equal(0xE3069283u, Crc32C.Compute(check, 0, check.Length));
    }

    [Fact]
    public void The_array_overload_refuses_a_range_outside_the_array()
    {
        byte[] data = new byte[16];
        Assert.Throws<ArgumentOutOfRangeException>(() => Crc32C.Compute(data, 10, 7));
        Assert.Throws<ArgumentOutOfRangeException>(() => Crc32C.Compute(data, 17, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Crc32C.Compute(data, -1, 2));
    }
}
